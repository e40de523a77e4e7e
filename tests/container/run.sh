#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup is called from a trap
# The container test: builds docker/Dockerfile as it is, runs the image's
# binary, sends a message through it to an SMTP server on this machine and
# checks what the image promises.
#
# No Docker engine runs here, so buildah builds the image (--isolation
# chroot) and runs it (`buildah run`, also chroot: the host's network, so
# the gateway listens on a free host port instead of 8080). The base image
# cannot be pulled from a registry either: debootstrap makes a minimal
# Debian 12 (bookworm) from the Debian mirror once, cached in $CACHE, and
# it is imported as localhost/smtp-gateway-base:bookworm and given to the
# Dockerfile as BASE_IMAGE, the only thing that differs from a docker build.
# The host's own extra CA certificates (/usr/local/share/ca-certificates)
# are put into that base, as a company base image would carry its proxy's
# CA; the image's ca-certificates package picks them up.
#
#   tests/container/run.sh          # what `make test-container` runs
#   CACHE=/path tests/container/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE=${CACHE:-/var/cache/smtp-gateway-test}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=localhost/smtp-gateway-base:bookworm
IMAGE=localhost/smtp-gateway:test

say() { echo "container: $*"; }
fail() {
  echo "container: FAIL: $*" >&2
  exit 1
}
t0=$SECONDS

# --- the base image, made once ------------------------------------------
if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  if [ ! -d "$CACHE/rootfs" ]; then
    say "debootstrap bookworm (minbase) into $CACHE/rootfs"
    mkdir -p "$CACHE"
    rm -rf "$CACHE/rootfs.tmp"
    debootstrap --variant=minbase bookworm "$CACHE/rootfs.tmp" "$MIRROR" \
      >"$CACHE/debootstrap.log" 2>&1 ||
      fail "debootstrap failed; see $CACHE/debootstrap.log"
    # Slim as debian:bookworm-slim is: no package cache, no lists, and
    # dpkg told to leave out documentation, manual pages and translations.
    r=$CACHE/rootfs.tmp
    rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"* \
      "$r/usr/share/doc/"* "$r/usr/share/man/"* "$r/usr/share/locale/"* \
      "$r/usr/share/info/"*
    cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
    mv "$CACHE/rootfs.tmp" "$CACHE/rootfs"
  fi
  say "importing $CACHE/rootfs as $BASE"
  tar -C "$CACHE/rootfs" -cf "$CACHE/rootfs.tar" .
  ctr=$(buildah from scratch)
  buildah add "$ctr" "$CACHE/rootfs.tar" / >/dev/null
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    buildah add "$ctr" /usr/local/share/ca-certificates/ \
      /usr/local/share/ca-certificates/ >/dev/null
  fi
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$ctr"
  buildah commit -q "$ctr" "$BASE" >/dev/null
  buildah rm "$ctr" >/dev/null
  rm -f "$CACHE/rootfs.tar"
fi
say "base image ready ($((SECONDS - t0))s)"

# --- the image, from docker/Dockerfile unchanged --------------------------
t1=$SECONDS
buildah bud --isolation chroot --format docker --layers \
  --build-arg BASE_IMAGE="$BASE" -f docker/Dockerfile -t "$IMAGE" . \
  >"$CACHE/build.log" 2>&1 || {
  tail -30 "$CACHE/build.log" >&2
  fail "the image does not build; see $CACHE/build.log"
}
size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
say "image built in $((SECONDS - t1))s, size $size"

# --- what the image declares ---------------------------------------------
cfg=$(buildah inspect --type image "$IMAGE" |
  node -e 'console.log(JSON.stringify(JSON.parse(require("fs").readFileSync(0)).Docker.config))')
check_cfg() { # a JavaScript expression over the config `c`
  node -e "const c = JSON.parse(process.argv[1]);
    if (!($2)) { console.error('config: ' + JSON.stringify(c)); process.exit(1); }" \
    "$cfg" || fail "image config: $1"
}
check_cfg "a numeric non-root user" "c.User === '10001:10001'"
check_cfg "EXPOSE 8080" "Object.keys(c.ExposedPorts || {}).join() === '8080/tcp'"
check_cfg "VOLUME /data" "Object.keys(c.Volumes || {}).join() === '/data'"
check_cfg "GATEWAY_LISTEN" "c.Env.includes('GATEWAY_LISTEN=0.0.0.0:8080')"
check_cfg "GATEWAY_DATA_DIR" "c.Env.includes('GATEWAY_DATA_DIR=/data')"
check_cfg "STOPSIGNAL SIGTERM" "c.StopSignal === 'SIGTERM'"
check_cfg "the healthcheck sub-command" \
  "JSON.stringify(c.Healthcheck.Test) === '[\"CMD\",\"smtp-gateway\",\"healthcheck\"]'"
check_cfg "ENTRYPOINT and CMD" \
  "JSON.stringify([c.Entrypoint, c.Cmd]) === '[[\"smtp-gateway\"],[\"serve\"]]'"

# --- run it ----------------------------------------------------------------
work=$(mktemp -d)
ctr=""
sink_pid=""
run_pid=""
gw_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill -TERM "$gw_pid" 2>/dev/null
  [ -n "$run_pid" ] && { sleep 0.5; kill "$run_pid" 2>/dev/null; wait "$run_pid" 2>/dev/null; }
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/mail"
node tests/container/sink.js "$work/mail" >"$work/sink.out" 2>&1 &
sink_pid=$!
for _ in $(seq 50); do grep -q '^port=' "$work/sink.out" && break; sleep 0.1; done
smtp_port=$(sed -n 's/^port=//p' "$work/sink.out")
[ -n "$smtp_port" ] || fail "the SMTP sink did not start: $(cat "$work/sink.out")"

port=$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => {
  console.log(s.address().port); s.close(); });")
token=sgw_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
envs=(--env "GATEWAY_LISTEN=0.0.0.0:$port" --env "GATEWAY_API_TOKEN=$token"
  --env GATEWAY_SMTP_HOST=127.0.0.1 --env "GATEWAY_SMTP_PORT=$smtp_port")

ctr=$(buildah from "$IMAGE")
# `buildah run` does not apply ENTRYPOINT and CMD: run what they say.
buildah run --isolation chroot "${envs[@]}" "$ctr" -- smtp-gateway serve \
  >"$work/gateway.log" 2>&1 &
run_pid=$!
for _ in $(seq 100); do
  curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$run_pid" 2>/dev/null || fail "the gateway exited: $(cat "$work/gateway.log")"
  sleep 0.1
done
gw_pid=$(ss -Hltnp "sport = :$port" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
[ -n "$gw_pid" ] || fail "nothing listens on port $port: $(cat "$work/gateway.log")"
say "the gateway runs (pid $gw_pid) on port $port"

# Not root: the process's real and effective user ids are the image's.
uids=$(awk '/^Uid:/ {print $2, $3}' "/proc/$gw_pid/status")
[ "$uids" = "10001 10001" ] || fail "the gateway runs as uid '$uids', not 10001"
[ "$(readlink "/proc/$gw_pid/cwd")" != / ] || true
say "the gateway runs as uid 10001"

# The HEALTHCHECK command, inside the image, against the running gateway.
buildah run --isolation chroot "${envs[@]}" "$ctr" -- smtp-gateway healthcheck ||
  fail "the healthcheck sub-command fails against a running gateway"
say "healthcheck: healthy"

# A message through the gateway to the sink on the host.
subject="container test $token"
reply=$(curl -sS --max-time 30 "http://127.0.0.1:$port/v1/messages" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"from\":\"Gateway <gateway@example.com>\",\"to\":\"you@example.com\",
       \"subject\":\"$subject\",\"text\":\"It works.\"}")
node -e "const r = JSON.parse(process.argv[1]);
  if (r.status !== 'sent') { console.error(process.argv[1]); process.exit(1); }" \
  "$reply" || fail "the send did not succeed: $reply"
[ -f "$work/mail/1.eml" ] || fail "no message arrived at the SMTP sink"
grep -q "^Subject: $subject" "$work/mail/1.eml" ||
  fail "the message that arrived is not the one sent: $(head -20 "$work/mail/1.eml")"
grep -q '"to":\["you@example.com"\]' "$work/mail/1.json" ||
  fail "the envelope is wrong: $(cat "$work/mail/1.json")"
say "a message went through the container to the SMTP server"

# SIGTERM: a clean stop, and then the healthcheck says unhealthy.
kill -TERM "$gw_pid"
for _ in $(seq 100); do kill -0 "$gw_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$gw_pid" 2>/dev/null && fail "the gateway did not stop on SIGTERM"
gw_pid=""
wait "$run_pid" || fail "the gateway did not exit 0 on SIGTERM: $(tail -5 "$work/gateway.log")"
run_pid=""
grep -q 'event=stopped' "$work/gateway.log" || fail "no event=stopped in the log"
if buildah run --isolation chroot "${envs[@]}" "$ctr" -- smtp-gateway healthcheck \
  2>/dev/null; then
  fail "the healthcheck passes with the gateway stopped"
fi
say "stopped cleanly on SIGTERM; healthcheck then unhealthy"

# The runtime stage has no compiler and no curl.
if buildah run --isolation chroot "$ctr" -- sh -c 'command -v gcc || command -v curl' 2>/dev/null; then
  fail "the runtime image holds build tools"
fi
say "ok ($((SECONDS - t0))s in all; image size $size)"
