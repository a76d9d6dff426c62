#!/usr/bin/env bash
# Builds the real components tests and the local environment run on (kube-apiserver,
# etcd, kubectl, Pebble, pebble-challtestsrv, helm) from Go modules, once per
# version, into a cache outside the work tree. Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p;s/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/k8s/go.mod" | head -1)
PEBBLE_VERSION=v2.10.1
HELM_VERSION=v3.21.4
GATEWAY_API_VERSION=v1.4.1
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
# The key covers the versions and the tools module itself, so a change to either rebuilds.
key=$(cat "$here/k8s/go.mod" "$here/k8s/go.sum" "$here"/k8s/*/main.go "$0" | sha256sum | cut -c1-12)
bin="$cache/bin-$K8S_VERSION-pebble-$PEBBLE_VERSION-helm-$HELM_VERSION-gateway-$GATEWAY_API_VERSION-$key"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin.tmp"
start=$(date +%s)
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
(
  cd "$here/k8s"
  for cmd in kube-apiserver etcd kubectl; do
    echo "building $cmd $K8S_VERSION" >&2
    go build -trimpath -ldflags "$ldflags" -o "$bin.tmp/$cmd" "./$cmd"
  done
)
echo "building pebble $PEBBLE_VERSION and helm $HELM_VERSION" >&2
GOBIN="$bin.tmp" go install -trimpath -ldflags "-s -w" \
  "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" \
  "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE_VERSION"
# Like helm's own release builds, tell it which Kubernetes its client libraries are
# (without this it assumes 1.20, and `helm template` fails the chart's kubeVersion).
helm_src=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
helm_k8s_minor=$(sed -n 's/^\tk8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_src/go.mod")
helm_k8s="-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$helm_k8s_minor -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$helm_k8s_minor"
GOBIN="$bin.tmp" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION $helm_k8s" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
# Pebble's TLS certificate for its listener and the root that trusts it ship in its module.
pebble_src=$(go env GOMODCACHE)/github.com/letsencrypt/pebble/v2@$PEBBLE_VERSION
mkdir -p "$bin.tmp/pebble-certs"
cp "$pebble_src/test/certs/localhost/cert.pem" "$pebble_src/test/certs/localhost/key.pem" "$pebble_src/test/certs/pebble.minica.pem" "$bin.tmp/pebble-certs/"
chmod -R u+w "$bin.tmp/pebble-certs"
# Gateway API CRDs (HTTPRoute), so HTTP-01 routing through a Gateway is tested on the real API server.
gateway_src=$(cd "$here/k8s" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
mkdir -p "$bin.tmp/gateway-api-crds"
cp "$gateway_src/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" "$gateway_src/config/crd/standard/gateway.networking.k8s.io_gateways.yaml" "$gateway_src/config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml" "$bin.tmp/gateway-api-crds/"
chmod -R u+w "$bin.tmp/gateway-api-crds"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" > "$bin/.complete"
echo "built tools in $(( $(date +%s) - start ))s into $bin" >&2
echo "$bin"
