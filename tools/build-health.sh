#!/usr/bin/env bash
# Builds the two tools the health tests run, from the Go module in tools/health,
# once per version into a cache outside the work tree (like tools/build.sh, but
# keyed separately so changing these never rebuilds kube-apiserver):
#   kstatus  sigs.k8s.io/cli-utils' kstatus, the health library Flux uses
#   lua      gopher-lua, the Lua interpreter Argo CD embeds, to run its health scripts
# Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
key=$(cat "$here/health/go.mod" "$here/health/go.sum" "$here"/health/*/main.go "$0" | sha256sum | cut -c1-12)
bin="$cache/health-$key"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin.tmp"
start=$(date +%s)
(
  cd "$here/health"
  for cmd in kstatus lua; do
    echo "building $cmd" >&2
    go build -trimpath -ldflags "-s -w" -o "$bin.tmp/$cmd" "./$cmd"
  done
)
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" > "$bin/.complete"
echo "$bin"
