#!/usr/bin/env bash
# Makes a hosted runner's Debian 12 container look like the CI machines for Python: CPython 3.9
# (Pants), 3.11 (the engine) and 3.13 (BuildGrid) as python3.9, python3.11 and python3.13 on PATH,
# each with venv, ensurepip and (3.9) distutils. The CI machines have them already (pyenv), and
# then this script changes nothing.
#
# The interpreters come from uv (`uv python install`: python-build-standalone builds, each checked
# by uv against the sha256 that this uv release carries), and uv itself from PyPI with a pinned
# hash (uv-requirements.txt, `pip install --require-hashes`). setup-python cannot do this: its
# builds are made for Ubuntu and matched to the OS version, so in a Debian container it finds none.
# Run as root (or with sudo). Idempotent.
set -euo pipefail
ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Exact versions, so every hosted run gets the same interpreters (this uv release knows them).
PYTHONS=(3.9.25 3.11.18 3.13.18)
INSTALL_DIR="/opt/monitoring-hub/python"   # the installations
BIN_DIR="/usr/local/bin"                   # python3.9, python3.11, python3.13: on every PATH, sudo's too

SUDO=""
[[ "$(id -u)" == 0 ]] || SUDO="sudo"

# Where ./pants (3.9) and install-tools.sh (3.13) look: PATH, then pyenv's versions (a pyenv
# shim of a version that is not selected fails, so each candidate is run); what they and pex need.
usable() {
  local minor="$1" candidate
  for candidate in "python$minor" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$minor".*/bin/"python$minor"; do
    command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "
import sys, venv, ensurepip
assert sys.version_info[:2] == tuple(map(int, '$minor'.split('.')))
if sys.version_info < (3, 12):
    import distutils.sysconfig
" >/dev/null 2>&1 && { echo "$candidate"; return 0; }
  done
  return 1
}

missing=()
for version in "${PYTHONS[@]}"; do
  usable "${version%.*}" >/dev/null || missing+=("$version")
done
if ((${#missing[@]} == 0)); then
  echo "install-pythons: CPython 3.9, 3.11 and 3.13 are already here (PATH or pyenv)" >&2
  exit 0
fi

# A Python to run uv's installer with: Debian's python3 and its venv module.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    python3 python3-venv ca-certificates >/dev/null
fi
uv_lock="$(sha256sum "$ci_dir/uv-requirements.txt" | cut -c1-12)"
uv_venv="${XDG_CACHE_HOME:-$HOME/.cache}/monitoring-hub/tools/uv-$uv_lock"
if [[ ! -f "$uv_venv/.complete" ]]; then
  rm -rf "$uv_venv"
  python3 -m venv "$uv_venv"
  PIP_CONFIG_FILE=/dev/null "$uv_venv/bin/pip" install --quiet --require-hashes --no-deps \
    -r "$ci_dir/uv-requirements.txt"
  touch "$uv_venv/.complete"
fi

echo "install-pythons: uv python install ${missing[*]}" >&2
$SUDO env UV_PYTHON_INSTALL_DIR="$INSTALL_DIR" UV_PYTHON_BIN_DIR="$BIN_DIR" \
  "$uv_venv/bin/uv" --no-config python install --no-progress "${missing[@]}"

for version in "${PYTHONS[@]}"; do
  found="$(usable "${version%.*}")" || { echo "install-pythons: python${version%.*} is still not usable" >&2; exit 1; }
  echo "install-pythons: $found: $("$found" --version)" >&2
done
