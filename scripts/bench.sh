#!/usr/bin/env bash
# The standard benchmark scenario (make bench): the gateway on SQLite and the
# simulated carrier as separate processes, 20,000 short messages through the
# REST API with 32 clients, delivery receipts on, events to a local sink run
# by the load tool. Prints one line of figures,
# then the CPU seconds the gateway, the simulator and the load tool used.
set -euo pipefail
N="${N:-20000}"
CONCURRENCY="${CONCURRENCY:-32}"
RATE="${RATE:-0}"
CPUPROFILE="${CPUPROFILE:-}" # a file: the gateway writes its CPU profile there
ENCRYPTION="${ENCRYPTION:-off}"
SMPP_PORT="${SMPP_PORT:-27750}" SIM_HTTP_PORT="${SIM_HTTP_PORT:-28090}"
GW_PORT="${GW_PORT:-28080}" SINK_PORT="${SINK_PORT:-29000}"

dir="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

# GW_BIN / SIM_BIN run prebuilt binaries instead (side-by-side comparisons
# of two commits: build each, alternate the runs).
if [ -n "${GW_BIN:-}" ]; then cp "$GW_BIN" "$dir/gateway"; else go build -o "$dir/gateway" ./cmd/gateway; fi
if [ -n "${SIM_BIN:-}" ]; then cp "$SIM_BIN" "$dir/carriersim"; else go build -o "$dir/carriersim" ./cmd/carriersim; fi

key="bench-key-0123456789abcdef"
privacy='{encryption: "off"}'
if [ "$ENCRYPTION" = on ]; then
  privacy="{encryption_key: \"$(head -c 32 /dev/urandom | base64)\"}"
fi
cat > "$dir/gateway.yaml" <<YAML
listen: 127.0.0.1:$GW_PORT
database: sqlite:$dir/gw.db
api_keys: [{name: bench, key: $key}]
webhook: {url: "http://127.0.0.1:$SINK_PORT/events", secret: bench-secret, pipeline: ${PIPELINE:-8}}
senders: [{name: acme, sms_source: ACME}]
carriers:
  - name: sim
    prefixes: ["+33"]
    smpp: {address: "127.0.0.1:$SMPP_PORT", system_id: gw, password: secret, binds: 1, tps: 100000, window: 256}
privacy: $privacy
log: {level: warn}
YAML

# The simulator and the load tool stand for machines of their own (the
# carrier, the unified back end): each gets one of Go's processors, so that
# their idle threads do not spin for work on the cores the gateway uses
# (with two each, about 0.3 of the run's 7 CPU seconds went to spinning
# and wake-ups, docs/BENCHMARKS.md §7). They still do all of their work;
# HELPER_PROCS=2 gives them two again.
HELPER_PROCS="${HELPER_PROCS:-1}"
GOMAXPROCS="$HELPER_PROCS" "$dir/carriersim" --smpp "127.0.0.1:$SMPP_PORT" --http "127.0.0.1:$SIM_HTTP_PORT" --system-id gw --password secret >"$dir/sim.log" 2>&1 &
pids+=($!)
"$dir/gateway" serve --config "$dir/gateway.yaml" ${CPUPROFILE:+--cpuprofile "$CPUPROFILE"} >"$dir/gw.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$GW_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') memory"
# bash's own time (no /usr/bin/time needed) reports to the file; the load
# tool's progress still reaches the terminal.
TIMEFORMAT="%U %S"
{ time env GOMAXPROCS="$HELPER_PROCS" "$dir/gateway" bench --url "http://127.0.0.1:$GW_PORT" --key "$key" \
  --n "$N" --concurrency "$CONCURRENCY" --rate "$RATE" --sink "127.0.0.1:$SINK_PORT" 2>&3; } 3>&2 2>"$dir/load.cpu"
# Where the machine's CPU went: the three processes share its cores.
cpu_of() { awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$1/stat"; }
echo "cpu seconds: gateway $(cpu_of "${pids[1]}"), carriersim $(cpu_of "${pids[0]}"), load tool $(awk '{printf "%.1f", $1 + $2}' "$dir/load.cpu")"
