#!/usr/bin/env bash
# Builds Traefik, the real ingress controller (Ingress and Gateway API) that the
# node-cluster tests route HTTP-01 through. Its go.mod has replace directives
# (one relative), so `go install` refuses it: the module is downloaded from the
# Go module proxy and built inside a copy of its own directory. Cached outside
# the work tree under a key of its own. Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
TRAEFIK_VERSION=v3.6.12
# Traefik's Gateway API provider watches every standard kind (GRPCRoute,
# ReferenceGrant, BackendTLSPolicy too): the whole standard channel, at the
# version tools/build.sh installs HTTPRoute from.
GATEWAY_API_VERSION=v1.4.1
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
key=$(cat "$0" | sha256sum | cut -c1-12)
bin="$cache/traefik-$TRAEFIK_VERSION-gateway-$GATEWAY_API_VERSION-$key"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
start=$(date +%s)
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
src=$(cd "$work" && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
cp -r "$src" "$work/traefik"
chmod -R u+w "$work/traefik"
rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
echo "building traefik $TRAEFIK_VERSION" >&2
(cd "$work/traefik" && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" -o "$bin.tmp/traefik" ./cmd/traefik)
gateway_src=$(cd "$work" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
mkdir -p "$bin.tmp/gateway-api-crds"
cp "$gateway_src"/config/crd/standard/*.yaml "$bin.tmp/gateway-api-crds/"
chmod -R u+w "$bin.tmp/gateway-api-crds"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" > "$bin/.complete"
echo "built traefik in $(( $(date +%s) - start ))s into $bin" >&2
echo "$bin"
