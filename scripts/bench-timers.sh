#!/usr/bin/env bash
# Fallback-timer scenario of issue 7: N RCS messages (default 100,000) go
# to a number the simulated RBM platform accepts but never reports
# delivered, under a policy whose RCS step times out after TIMEOUT; accepts
# spread over time stagger the due times. Once every timer has fired, the
# lateness of each (revocation time minus due time, and SMS attempt time
# minus due time) is read from the database. Long: run by hand.
set -euo pipefail
N="${N:-100000}"
TIMEOUT_S="${TIMEOUT_S:-180}"
CONCURRENCY="${CONCURRENCY:-32}"
# Accepts per second (0: as fast as the gateway takes them). The timers come
# due at this rate; keep TIMEOUT_S above N/RATE so that all N are pending at
# once.
RATE="${RATE:-0}"
WAIT_MAX="${WAIT_MAX:-3600}" # seconds to wait for every timer to fire
SMPP_PORT="${SMPP_PORT:-27770}" SIM_HTTP_PORT="${SIM_HTTP_PORT:-28092}" GW_PORT="${GW_PORT:-28082}"

dir="${DIR:-$(mktemp -d)}"
mkdir -p "$dir"
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
senders: [{name: acme, sms_source: ACME, rbm_agent: acme_agent, default_policy: timers}]
carriers:
  - name: sim
    prefixes: ["+33"]
    smpp: {address: "127.0.0.1:$SMPP_PORT", system_id: gw, password: secret, binds: 1, tps: 100000, window: 256}
    rbm: {base_url: "http://127.0.0.1:$SIM_HTTP_PORT", token: sim-rbm-token, webhook_secret: bench-rbm-secret}
policies:
  - name: timers
    steps: [{channel: rcs, timeout: ${TIMEOUT_S}s}, {channel: sms}]
privacy: {encryption: "off"}
log: {level: error}
YAML
"$dir/carriersim" --smpp "127.0.0.1:$SMPP_PORT" --http "127.0.0.1:$SIM_HTTP_PORT" --system-id gw --password secret \
  --rcs-numbers '+3361*' --auto-receipts=false >"$dir/sim.log" 2>&1 &
pids+=($!)
"$dir/gateway" serve --config "$dir/gateway.yaml" >"$dir/gw.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$GW_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$GW_PORT/healthz" >/dev/null || { cat "$dir/gw.log"; exit 1; }
echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') memory, load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
"$dir/gateway" bench --url "http://127.0.0.1:$GW_PORT" --key "$key" --n "$N" --concurrency "$CONCURRENCY" --rate "$RATE" --to +33611111111 --wait 1s | tail -1 || true
echo "accepted $N in $(( $(date +%s) - start ))s"

q() { sqlite3 "file:$dir/gw.db?mode=ro" "$1"; }
peak=0
waited=$(date +%s)
while :; do
  pending=$(q "SELECT count(*) FROM jobs WHERE kind = 'timeout'" 2>/dev/null || echo "$peak")
  revoked=$(q "SELECT count(*) FROM attempts WHERE channel = 'rcs' AND status <> 'sent'" 2>/dev/null || echo 0)
  [ "$pending" -gt "$peak" ] && peak=$pending
  echo "$(date +%T) timers pending=$pending fired=$revoked load $(cut -d' ' -f1 /proc/loadavg)"
  [ "$revoked" -ge "$N" ] && break
  if [ $(( $(date +%s) - waited )) -gt "$WAIT_MAX" ]; then echo "gave up after ${WAIT_MAX}s: lateness of those that fired:"; break; fi
  sleep 10
done
sleep 5
echo "peak pending timers: $peak"
T=$((TIMEOUT_S * 1000000))
echo "lateness of the revocation (attempt updated_at - due), ms: n, p50, p90, p99, max"
q "WITH l AS (SELECT (updated_at - created_at - $T) / 1000.0 AS ms FROM attempts WHERE channel = 'rcs' AND status <> 'sent'),
   o AS (SELECT ms, row_number() OVER (ORDER BY ms) AS r, count(*) OVER () AS n FROM l)
   SELECT n, max(CASE WHEN r <= n*0.50 THEN ms END), max(CASE WHEN r <= n*0.90 THEN ms END), max(CASE WHEN r <= n*0.99 THEN ms END), max(ms) FROM o"
echo "lateness of the SMS attempt (sms created_at - due), ms: n, p50, p90, p99, max"
q "WITH l AS (SELECT (s.created_at - r.created_at - $T) / 1000.0 AS ms FROM attempts r JOIN attempts s ON s.message_id = r.message_id AND s.step = 1 WHERE r.step = 0),
   o AS (SELECT ms, row_number() OVER (ORDER BY ms) AS r, count(*) OVER () AS n FROM l)
   SELECT n, max(CASE WHEN r <= n*0.50 THEN ms END), max(CASE WHEN r <= n*0.90 THEN ms END), max(CASE WHEN r <= n*0.99 THEN ms END), max(ms) FROM o"
