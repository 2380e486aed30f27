#!/usr/bin/env bash
# Offline quick start: package node_exporter (or the exporters given) without access to GitHub.
#
#   build-support/quickstart.sh [exporter...]
#
# 1. builds a local upstream mirror from Debian's real builds of the exporters, repacked in
#    each upstream's release layout and naming (hub mirror build: the tests' mechanism too);
# 2. serves it on 127.0.0.1 and points [hub].upstream_mirror at it;
# 3. in a scratch copy of this repository (so the committed locks are never touched), pins the
#    mirror with `./pants update-lock` and runs `./pants package` for each exporter.
# Outputs land in dist/quickstart/dist/<exporter>/ (packages + artifact JSON).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
exporters=("${@:-node_exporter}")

build-support/ci/install-tools.sh >/dev/null

mirror="$root/dist/mirror"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/monitoring-hub/debian-debs"
manifests=()
for e in "${exporters[@]}"; do manifests+=("$root/exporters/$e/manifest.yaml"); done
./pants --no-pantsd run src/python/hub:cli -- mirror build --out "$mirror" --cache "$cache" "${manifests[@]}"

# A scratch copy of the workspace, tracked and untracked-but-not-ignored files alike.
work="$root/dist/quickstart"
rm -rf "$work" && mkdir -p "$work"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server --bind 127.0.0.1 --directory "$mirror" "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
export PANTS_HUB_UPSTREAM_MIRROR="http://127.0.0.1:$port/"

cd "$work"
targets=()
for e in "${exporters[@]}"; do targets+=("exporters/$e::"); done
./pants --no-pantsd update-lock "${targets[@]}"
./pants --no-pantsd package "${targets[@]}"
echo
echo "Built from the offline mirror ($PANTS_HUB_UPSTREAM_MIRROR):"
for e in "${exporters[@]}"; do ls -l "$work/dist/$e"; done
