#!/usr/bin/env bash
# Builds the test webhook solver (tools/webhook-solver: cert-manager's webhook
# framework with an RFC 2136 solver) into the cache, once per source version.
# Prints the binary's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
key=$(cat "$here/webhook-solver/go.mod" "$here/webhook-solver/go.sum" "$here/webhook-solver/main.go" "$0" | sha256sum | cut -c1-12)
out="$cache/webhook-solver-$key"
if [ -x "$out/webhook-solver" ]; then
  echo "$out/webhook-solver"
  exit 0
fi
mkdir -p "$out.tmp"
start=$(date +%s)
(cd "$here/webhook-solver" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp/webhook-solver" .)
rm -rf "$out" && mv "$out.tmp" "$out"
echo "built the webhook solver in $(( $(date +%s) - start ))s" >&2
echo "$out/webhook-solver"
