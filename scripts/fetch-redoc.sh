#!/usr/bin/env bash
# Fetches the Redoc standalone bundle that /docs serves, at the version and
# with the integrity that package-lock.json pins, from the npm registry,
# for builds without node_modules (the container image's build stage).
#
#   scripts/fetch-redoc.sh build/redoc.standalone.js
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
registry=${NPM_REGISTRY:-https://registry.npmjs.org}

# The "node_modules/redoc" entry of the lock file: its version and its
# sha512 integrity (base64).
entry=$(sed -n '/"node_modules\/redoc": {/,/}/p' package-lock.json)
version=$(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' <<<"$entry" | head -1)
integrity=$(sed -n 's/.*"integrity": "sha512-\([^"]*\)".*/\1/p' <<<"$entry" |
  head -1)
if [ -z "$version" ] || [ -z "$integrity" ]; then
  echo "fetch-redoc: no redoc entry in package-lock.json" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsS --retry 3 -o "$tmp/redoc.tgz" \
  "$registry/redoc/-/redoc-$version.tgz"
got=$(openssl dgst -sha512 -binary "$tmp/redoc.tgz" | base64 -w0)
if [ "$got" != "$integrity" ]; then
  echo "fetch-redoc: redoc-$version.tgz does not match package-lock.json" >&2
  exit 1
fi
tar -xzf "$tmp/redoc.tgz" -C "$tmp" package/bundles/redoc.standalone.js
mkdir -p "$(dirname "$out")"
mv "$tmp/package/bundles/redoc.standalone.js" "$out"
