#!/usr/bin/env bash
# make bench: throughput, latency and memory of the gateway in front of
# Postfix's smtp-sink, on loopback only, in one run:
#   1. wrk, 64 connections, a 2 KB message to one recipient: requests/s,
#      p50, p99, non-200 answers, and the gateway's peak RSS;
#   2. the SMTP leg alone, smtp-source -> smtp-sink over reused
#      connections, for the ratio of the two;
#   3. one request with a 20 MiB attachment: peak RSS against its size;
#   4. 1,000 idle keep-alive HTTP connections: RSS.
# DUR (seconds of load, 10), CONC (64) and POOL (16) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."

GW=${GW:-build/smtp-gateway}
DUR=${DUR:-10}
CONC=${CONC:-64}
POOL=${POOL:-16}
SINK_PORT=${SINK_PORT:-2625}
GW_PORT=${GW_PORT:-8095}
TOKEN=bench-token-0123456789
here=tests/bench

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
work=$(mktemp -d)

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: nothing listens on port $1" >&2
  exit 1
}

# Starts a gateway in front of the sink with extra VAR=value settings;
# sets gw_pid. Every connection comes from the one client of loopback,
# so the limit of connections per client is lifted.
start_gateway() {
  env GATEWAY_LISTEN=127.0.0.1:$GW_PORT GATEWAY_DATA_DIR="$work" \
    GATEWAY_API_TOKEN=$TOKEN GATEWAY_SMTP_HOST=127.0.0.1 \
    GATEWAY_SMTP_PORT=$SINK_PORT GATEWAY_SMTP_POOL="$POOL" \
    GATEWAY_MAX_CONNECTIONS_PER_IP=100000 \
    GATEWAY_LOG_LEVEL=warn "$@" "$GW" serve >>"$work/gateway.log" 2>&1 &
  gw_pid=$!
  pids+=("$gw_pid")
  wait_port "$GW_PORT"
}

stop_gateway() {
  kill "$gw_pid"
  wait "$gw_pid" 2>/dev/null || true
}

kib() { awk -v k="$1" '/^'"$1"':/{print $2}' "/proc/$gw_pid/status"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

/usr/sbin/smtp-sink -u nobody 127.0.0.1:$SINK_PORT 1024 >/dev/null 2>&1 &
pids+=($!)
wait_port $SINK_PORT

echo "bench: $CONC connections for ${DUR}s, 2 KB message, pool $POOL"
start_gateway
out=$(BODY_FILE=$here/body-2k.json TOKEN=$TOKEN \
  wrk -t2 -c"$CONC" -d"${DUR}s" -s $here/post.lua \
  "http://127.0.0.1:$GW_PORT/v1/messages" 2>&1)
rps=$(sed -n 's/.*rps \([0-9.]*\).*/\1/p' <<<"$out")
p50=$(sed -n 's/.*p50_ms \([0-9.]*\).*/\1/p' <<<"$out")
p99=$(sed -n 's/.*p99_ms \([0-9.]*\).*/\1/p' <<<"$out")
bad=$(awk '/^status /{ if ($2 != "200:") s += $3 } END { print s + 0 }' <<<"$out")
grep -q '^status 200:' <<<"$out" || { echo "$out"; exit 1; }
load_rss=$(kib VmHWM)
stop_gateway

start=$(date +%s.%N)
/usr/sbin/smtp-source -d -s 32 -m 40000 -l 2048 -f bench@example.com \
  -t rcpt@example.com 127.0.0.1:$SINK_PORT
end=$(date +%s.%N)
limit=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.0f", 40000/(e-s)}')

node $here/attachment.js 20 >"$work/big.json"
big=$(stat -c %s "$work/big.json")
start_gateway GATEWAY_MAX_BODY=64M GATEWAY_SMTP_POOL=1
code=$(curl -s -o "$work/big.out" -w '%{http_code}' \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data-binary @"$work/big.json" "http://127.0.0.1:$GW_PORT/v1/messages")
[ "$code" = 200 ] || { echo "bench: the 20 MiB send gave $code"; cat "$work/big.out"; exit 1; }
big_rss=$(kib VmHWM)
stop_gateway

start_gateway
base_rss=$(kib VmRSS)
coproc IDLE { node $here/idle.js "$GW_PORT" 1000; }
read -r ready <&"${IDLE[0]}"
[ "$ready" = ready ] || { echo "bench: the idle connections did not open"; exit 1; }
idle_rss=$(kib VmRSS)
kill "$IDLE_PID"
stop_gateway

echo "load: rps=$rps p50=${p50}ms p99=${p99}ms non200=$bad peak_rss=$(mib "$load_rss")MiB"
echo "smtp-source->smtp-sink: ${limit} msg/s; gateway at $(awk -v g="$rps" -v l="$limit" 'BEGIN{printf "%.0f", 100*g/l}')% of it"
echo "20 MiB attachment: request $(mib $((big / 1024)))MiB, peak_rss=$(mib "$big_rss")MiB ($(awk -v r="$big_rss" -v b="$big" 'BEGIN{printf "%.2f", r*1024/b}')x the request)"
echo "1000 idle connections: rss=$(mib "$idle_rss")MiB (idle gateway $(mib "$base_rss")MiB)"
