#!/usr/bin/env bash
# Offline quick start: package node_exporter (or the exporters given) without access to GitHub.
#
#   build-support/quickstart.sh [exporter...]
#
# 1. makes a scratch copy of this repository (so the committed manifests and locks are never
#    touched), and in it labels each exporter with the version of Debian's build it will hold
#    (node_exporter v1.11.0 becomes v1.5.0): the packages say which binary they contain;
# 2. builds a local upstream mirror from those Debian builds, repacked in each upstream's
#    release layout and naming (`hub mirror build --relabel`; the tests use the same mirror,
#    without relabelling);
# 3. serves it on 127.0.0.1 and points [hub].upstream_mirror at it;
# 4. in the scratch copy, pins the mirror with `./pants update-lock` and runs `./pants package`
#    for each exporter.
# Outputs land in dist/quickstart/dist/<exporter>/ (packages + artifact JSON), e.g.
# node_exporter-1.5.0-1.el9.x86_64.rpm. Two runs give byte-identical outputs.
# HUB_QUICKSTART_SKIP_TOOLS=1 skips build-support/ci/install-tools.sh (already run).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
exporters=("${@:-node_exporter}")

[[ "${HUB_QUICKSTART_SKIP_TOOLS:-}" == 1 ]] || build-support/ci/install-tools.sh >/dev/null

# A scratch copy of the workspace, tracked and untracked-but-not-ignored files alike.
work="$root/dist/quickstart"
rm -rf "$work" && mkdir -p "$work"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work"

mirror="$root/dist/mirror"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/monitoring-hub/debian-debs"
manifests=()
for e in "${exporters[@]}"; do manifests+=("$work/exporters/$e/manifest.yaml"); done
rm -rf "$mirror"
./pants --no-pantsd run src/python/hub:cli -- mirror build --relabel --out "$mirror" --cache "$cache" "${manifests[@]}"

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
echo "Built from the offline mirror ($PANTS_HUB_UPSTREAM_MIRROR), labelled with the version of"
echo "the Debian build each package holds (the manifests in exporters/ are unchanged):"
for e in "${exporters[@]}"; do ls -l "$work/dist/$e"; done
