#!/usr/bin/env bash
# Builds the manifest linters CI runs on the rendered chart and deploy/:
# kube-score and kubeconform, from the Go module proxy, cached outside the work
# tree under a key of their own. Prints the bin directory.
set -euo pipefail

KUBE_SCORE_VERSION=v1.20.0
KUBECONFORM_VERSION=v0.7.0
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
key=$(cat "$0" | sha256sum | cut -c1-12)
bin="$cache/lint-kube-score-$KUBE_SCORE_VERSION-kubeconform-$KUBECONFORM_VERSION-$key"

if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

export CGO_ENABLED=0
start=$(date +%s)
rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
echo "building kube-score $KUBE_SCORE_VERSION and kubeconform $KUBECONFORM_VERSION" >&2
GOBIN="$bin.tmp" go install -trimpath -ldflags "-s -w" "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
GOBIN="$bin.tmp" go install -trimpath -ldflags "-s -w" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" > "$bin/.complete"
echo "built linters in $(( $(date +%s) - start ))s into $bin" >&2
echo "$bin"
