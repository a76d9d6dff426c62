#!/usr/bin/env bash
# Installs the Debian packages the node cluster (test/env/node.ts) and the image
# build (tools/build-image.sh) need, when missing: containerd, runc, the CNI
# plugins, iptables, nftables (to drop the tables iptables-nft created),
# conntrack, podman and mmdebstrap. Nothing is started by the packages: a
# policy-rc.d denies service starts during the install (unless the machine
# already has one, e.g. a container's "exit 101"); the tests start containerd
# themselves.
set -euo pipefail

need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v nft >/dev/null || need+=(nftables)
command -v conntrack >/dev/null || need+=(conntrack)
command -v podman >/dev/null || need+=(podman uidmap)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
[ ${#need[@]} -eq 0 ] && exit 0

policy=/usr/sbin/policy-rc.d
ours=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
fi
rc=0
{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"; } || rc=$?
if [ -n "$ours" ]; then rm -f "$policy"; fi
exit "$rc"
