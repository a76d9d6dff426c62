#!/usr/bin/env bash
# Builds what a few tests need beyond tools/build.sh, from the Go module in
# tools/health, once per version into a cache outside the work tree (keyed
# separately, so changing these never rebuilds kube-apiserver):
#   kstatus            sigs.k8s.io/cli-utils' kstatus, the health library Flux uses
#   lua                gopher-lua, the Lua interpreter Argo CD embeds, to run its health scripts
#   cert-manager-crds  cert-manager's CRDs (from its Go module), for the migrate tests
# Prints the directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CERT_MANAGER_VERSION=v1.21.2
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
key=$(cat "$here/health/go.mod" "$here/health/go.sum" "$here"/health/*/main.go "$0" | sha256sum | cut -c1-12)
bin="$cache/extras-cert-manager-$CERT_MANAGER_VERSION-$key"

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
  echo "fetching cert-manager $CERT_MANAGER_VERSION CRDs" >&2
  cm_src=$(go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  mkdir -p "$bin.tmp/cert-manager-crds"
  cp "$cm_src"/deploy/crds/*.yaml "$bin.tmp/cert-manager-crds/"
  chmod -R u+w "$bin.tmp/cert-manager-crds"
)
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" > "$bin/.complete"
echo "$bin"
