#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions called from traps and by name
# Starts maildev (a local SMTP server with a web page that shows every
# message it receives) and the gateway pointed at it, with a fresh API
# token, and prints how to send a first message. Ctrl-C stops both.
#
#   scripts/run.sh build/smtp-gateway      # what `make run` does
#
# GATEWAY_* variables already set are kept (an exported GATEWAY_API_TOKEN
# is used instead of a fresh one), except the upstream settings, which
# always point at maildev.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 path/to/smtp-gateway" >&2
  exit 2
fi
if [ ! -x "$1" ]; then
  echo "run: $1 is not an executable; build it with make" >&2
  exit 2
fi
bin=$(realpath -- "$1")
cd "$(dirname "$0")/.."

maildev=node_modules/.bin/maildev
if [ ! -x "$maildev" ]; then
  echo "run: $maildev is missing; install the npm modules with make deps" >&2
  exit 2
fi

maildev_host=127.0.0.1
maildev_smtp=1025
maildev_web=1080
start_timeout=15 # seconds each process may take to answer
stop_timeout=10  # seconds each process may take to stop

# The gateway's listen address, and where a client on this machine reaches
# it (a wildcard address is reached through loopback).
listen=${GATEWAY_LISTEN:-127.0.0.1:8080}
listen_port=${listen##*:}
listen_host=${listen%:*}
case "$listen_host" in
  "" | 0.0.0.0 | "*") connect_host=127.0.0.1 ;;
  "[::]") connect_host="[::1]" ;;
  *) connect_host=$listen_host ;;
esac
if [[ "$listen" != *:* || ! "$listen_port" =~ ^[0-9]+$ ]]; then
  echo "run: GATEWAY_LISTEN must be host:port, not '$listen'" >&2
  exit 2
fi
api_url="http://$connect_host:$listen_port"
tcp_host=${connect_host#[}
tcp_host=${tcp_host%]}

# True when something accepts TCP connections on host $1, port $2.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# True while process $1 runs.
alive() {
  kill -0 "$1" 2>/dev/null
}

maildev_pid=""
gateway_pid=""

# Sends SIGTERM to process $1 (named $2), waits for it, SIGKILL if needed.
stop() {
  local pid=$1 name=$2 i
  [ -n "$pid" ] && alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < stop_timeout * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    echo "run: $name did not stop in ${stop_timeout}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# The gateway first, so that it can finish the sends it has in flight.
cleanup() {
  trap '' INT TERM
  stop "$gateway_pid" smtp-gateway
  stop "$maildev_pid" maildev
}
trap cleanup EXIT
trap 'echo; echo "run: stopping"; exit 0' INT TERM

for port in "$maildev_smtp" "$maildev_web"; do
  if port_open "$maildev_host" "$port"; then
    echo "run: port $port on $maildev_host is in use; maildev needs it" >&2
    exit 1
  fi
done
if port_open "$tcp_host" "$listen_port"; then
  echo "run: $listen is in use; stop what listens there or set GATEWAY_LISTEN" >&2
  exit 1
fi

# Waits until process $1 (named $2) answers the check "${@:3}".
wait_ready() {
  local pid=$1 name=$2 i
  shift 2
  for ((i = 0; i < start_timeout * 10; i++)); do
    if ! alive "$pid"; then
      local rc=0
      wait "$pid" || rc=$?
      echo "run: $name exited during start-up (status $rc)" >&2
      exit 1
    fi
    "$@" && return 0
    sleep 0.1
  done
  echo "run: $name did not answer within ${start_timeout}s" >&2
  exit 1
}

maildev_ready() {
  port_open "$maildev_host" "$maildev_smtp" &&
    port_open "$maildev_host" "$maildev_web"
}

gateway_ready() {
  curl -fsS --max-time 1 "$api_url/healthz" 2>/dev/null | grep -q '"ok"'
}

echo "run: starting maildev"
"$maildev" --ip "$maildev_host" --smtp "$maildev_smtp" \
  --web-ip "$maildev_host" --web "$maildev_web" &
maildev_pid=$!
wait_ready "$maildev_pid" maildev maildev_ready

token=${GATEWAY_API_TOKEN:-sgw_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}

for v in GATEWAY_SMTP_HOST GATEWAY_SMTP_PORT GATEWAY_SMTP_TLS \
         GATEWAY_SMTP_USERNAME GATEWAY_SMTP_PASSWORD; do
  if [ -n "${!v:-}" ]; then
    echo "run: ignoring $v from the environment; the upstream is maildev"
  fi
done
unset GATEWAY_SMTP_USERNAME GATEWAY_SMTP_PASSWORD
export GATEWAY_LISTEN="$listen"
export GATEWAY_API_TOKEN="$token"
export GATEWAY_SMTP_HOST="$maildev_host"
export GATEWAY_SMTP_PORT="$maildev_smtp"
export GATEWAY_SMTP_TLS=none
export GATEWAY_DATA_DIR="${GATEWAY_DATA_DIR:-./var}" # created by the gateway

echo "run: starting smtp-gateway on $listen"
"$bin" &
gateway_pid=$!
wait_ready "$gateway_pid" smtp-gateway gateway_ready

cat <<EOF

------------------------------------------------------------------------
smtp-gateway is running at $api_url
  API token:  $token
  Mailbox:    http://$maildev_host:$maildev_web  (maildev: open it in a
              browser; every message the gateway sends shows up there)

Send a message:

curl -sS $api_url/v1/messages -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"from":"Gateway <gateway@example.com>","to":"you@example.com","subject":"Hello from smtp-gateway","text":"It works."}'

Press Ctrl-C to stop both.
------------------------------------------------------------------------

EOF

# Until one of the two exits, or a signal comes (the trap handles it).
rc=0
exited=""
wait -n -p exited "$maildev_pid" "$gateway_pid" || rc=$?
if [ "$exited" = "$gateway_pid" ]; then
  name=smtp-gateway
  gateway_pid=""
else
  name=maildev
  maildev_pid=""
fi
echo "run: $name exited (status $rc); stopping the other" >&2
[ "$rc" -ne 0 ] || rc=1
exit "$rc"
