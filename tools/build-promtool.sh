#!/usr/bin/env bash
# Builds promtool (Prometheus' rule checker and unit tester) from the Go module
# proxy, cached outside the work tree under a key of its own, for
# test/alert-rules.test.ts. Prints the bin directory. A cold build pulls in all
# of Prometheus' service discovery and takes several minutes on 2 cores.
set -euo pipefail

PROMETHEUS_VERSION=v0.316.0
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
key=$(cat "$0" | sha256sum | cut -c1-12)
bin="$cache/promtool-$PROMETHEUS_VERSION-$key"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export CGO_ENABLED=0
start=$(date +%s)
rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
echo "building promtool (prometheus $PROMETHEUS_VERSION)" >&2
GOBIN="$bin.tmp" go install -trimpath -ldflags "-s -w" "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" > "$bin/.complete"
echo "built promtool in $(( $(date +%s) - start ))s into $bin" >&2
echo "$bin"
