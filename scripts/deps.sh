#!/usr/bin/env bash
# Installs what the named tasks need and is missing: Debian packages with
# apt-get (as root, or through sudo) and the npm modules of package.json.
# Quick and silent when everything is there already.
#
#   scripts/deps.sh build test     # what `make test` needs
#   scripts/deps.sh build run      # what `make run` needs
#   scripts/deps.sh lint           # what `make lint` needs
#   scripts/deps.sh container      # what `make test-container` needs
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
npm_needed=false
for task in "$@"; do
  case "$task" in
    build) pkgs+=(build-essential pkg-config libmicrohttpd-dev
                  libjansson-dev libidn2-dev libmbedtls-dev libsodium-dev
                  xxd) ;;
    # python3 (Debian's /usr/bin/python3 and its email package),
    # Email::MIME and MIME::Tools: other MIME readers of what is sent.
    test)  pkgs+=(nodejs npm openssl curl chromium python3
                  libemail-mime-perl libmime-tools-perl); npm_needed=true ;;
    run)   pkgs+=(nodejs npm curl); npm_needed=true ;;
    lint)  pkgs+=(clang-format cppcheck) ;;
    fuzz)  pkgs+=(clang libclang-rt-dev) ;;
    bench) pkgs+=(postfix wrk) ;;
    container) pkgs+=(buildah debootstrap iproute2) ;;
    *) echo "deps.sh: unknown task '$task'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  # nodejs and npm may come from elsewhere than Debian; a working command
  # is as good as the package.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks how to configure itself; "No configuration" is all that
  # smtp-sink needs.
  echo "postfix postfix/main_mailer_type select No configuration" |
    $sudo debconf-set-selections 2>/dev/null || true
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if $npm_needed; then
  # package-lock.json pins every module; reinstall only when it changed.
  if [ ! -f node_modules/.package-lock.json ] ||
     [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "deps: installing npm modules"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
