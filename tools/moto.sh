#!/usr/bin/env bash
# Installs moto's server mode (PyPI moto[server]), the AWS emulator the Route 53
# tests run against, into a virtualenv in the cache outside the work tree, once
# per moto and Python version. Prints the moto_server path.
set -euo pipefail

MOTO_VERSION=5.2.5
cache=${CERTKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certkeeper}
python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "python3 is required for moto (the Route 53 emulator)" >&2; exit 1; }
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv="$cache/moto-$MOTO_VERSION-py$pyver"

if [ -f "$venv/.complete" ]; then
  echo "$venv/bin/moto_server"
  exit 0
fi
# A venv's scripts name its path in their shebangs, so it is built in place;
# .complete marks a finished install (an interrupted one is started over).
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
touch "$venv/.complete"
echo "$venv/bin/moto_server"
