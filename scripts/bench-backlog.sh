#!/usr/bin/env bash
# Backlog scenario of issue 7: N messages (default 1,000,000) are accepted
# while the carrier is down (nothing listens on the SMPP address), the
# gateway's RSS is sampled the whole time, then the simulated carrier starts
# and the drain rate is measured from the gateway's own counters. Long: run
# by hand, not by CI. Ports are below the ephemeral range so that the
# gateway's reconnects can never self-connect to them.
set -euo pipefail
N="${N:-1000000}"
CONCURRENCY="${CONCURRENCY:-32}"
SMPP_PORT="${SMPP_PORT:-27760}" SIM_HTTP_PORT="${SIM_HTTP_PORT:-28091}" GW_PORT="${GW_PORT:-28081}"
BINDS="${BINDS:-1}"
DRAIN_MAX="${DRAIN_MAX:-3600}" # seconds; the drain is given up after this

dir="${DIR:-$(mktemp -d)}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT

go build -o "$dir/gateway" ./cmd/gateway
go build -o "$dir/carriersim" ./cmd/carriersim
key="bench-key-0123456789abcdef"
cat > "$dir/gateway.yaml" <<YAML
listen: 127.0.0.1:$GW_PORT
database: sqlite:$dir/gw.db
api_keys: [{name: bench, key: $key}]
senders: [{name: acme, sms_source: ACME}]
carriers:
  - name: sim
    prefixes: ["+33"]
    smpp: {address: "127.0.0.1:$SMPP_PORT", system_id: gw, password: secret, binds: $BINDS, tps: 100000, window: 256}
privacy: {encryption: "off"}
log: {level: error}
YAML
"$dir/gateway" serve --config "$dir/gateway.yaml" >"$dir/gw.log" 2>&1 &
gw=$!
pids+=("$gw")
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$GW_PORT/healthz" >/dev/null || { cat "$dir/gw.log"; exit 1; }
echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') memory, load $(cut -d' ' -f1-3 /proc/loadavg)"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$gw/status"; }
max_rss=0
sample() { local r; r=$(rss_kb); [ "$r" -gt "$max_rss" ] && max_rss=$r; echo "$r"; }
( while kill -0 "$gw" 2>/dev/null; do echo "$(date +%s) $(rss_kb)"; sleep 5; done ) >"$dir/rss.log" &
pids+=($!)

start=$(date +%s)
"$dir/gateway" bench --url "http://127.0.0.1:$GW_PORT" --key "$key" --n "$N" --concurrency "$CONCURRENCY" --wait 1s | tail -1 || true
echo "accepted $N in $(( $(date +%s) - start ))s with the carrier down"
sleep 10
echo "RSS with $N queued: $(sample) kB now; max while accepting $(awk '{ if ($2>m) m=$2 } END {print m}' "$dir/rss.log") kB; database $(du -sh "$dir"/gw.db* | awk '{s=s" "$1} END {print s}')"

sent() { curl -fs "http://127.0.0.1:$GW_PORT/metrics" | awk '/^gateway_message_status_total\{.*status="sent"/ {s+=$2} END {printf "%d", s}'; }
"$dir/carriersim" --smpp "127.0.0.1:$SMPP_PORT" --http "127.0.0.1:$SIM_HTTP_PORT" --system-id gw --password secret >"$dir/sim.log" 2>&1 &
pids+=($!)
up=$(date +%s.%N)
while :; do
  s=$(sent)
  now=$(date +%s.%N)
  printf '%s sent=%s rss=%skB\n' "$(date +%T)" "$s" "$(rss_kb)"
  [ "$s" -ge "$N" ] && break
  if [ "$(echo "$now - $up > $DRAIN_MAX" | bc)" = 1 ]; then echo "drain: gave up after ${DRAIN_MAX}s at $s of $N"; exit 1; fi
  sleep 10
done
echo "drain: $N submitted in $(echo "$now - $up" | bc)s = $(echo "$N / ($now - $up)" | bc) msg/s; max RSS overall $(awk '{ if ($2>m) m=$2 } END {print m}' "$dir/rss.log") kB"
