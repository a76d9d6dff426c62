#!/usr/bin/env bash
# Builds what the node cluster adds to the test environment (test/env/node.ts):
# kubelet, kube-controller-manager, kube-scheduler and kube-proxy from the pinned
# Kubernetes module (tools/node, the same replace lines as tools/k8s), and the Pod
# sandbox's pause binary. Cached outside the work tree under a key of its own, so
# the control-plane binaries of tools/build.sh stay valid. Prints the bin directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=$(sed -n 's/^\tk8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' "$here/node/go.mod" | head -1)
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
key=$(cat "$here/node/go.mod" "$here/node/go.sum" "$here"/node/*/main.go "$0" | sha256sum | cut -c1-12)
bin="$cache/node-$K8S_VERSION-$key"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
start=$(date +%s)
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
(
  cd "$here/node"
  for cmd in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    echo "building $cmd $K8S_VERSION" >&2
    go build -trimpath -ldflags "$ldflags" -o "$bin.tmp/$cmd" "./$cmd"
  done
  go build -trimpath -ldflags "-s -w" -o "$bin.tmp/pause" ./pause
)
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" > "$bin/.complete"
echo "built node binaries in $(( $(date +%s) - start ))s into $bin" >&2
echo "$bin"
