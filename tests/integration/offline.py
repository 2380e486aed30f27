"""The offline upstream: Debian's real exporter builds, repacked and served like GitHub releases.

The same mechanism as build-support/quickstart.sh: `hub.upstream.mirror` builds the mirror, a local HTTP
server serves it, and `PANTS_HUB_UPSTREAM_MIRROR` points the build at it.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.manifest.load import load_manifest
from hub.upstream.mirror import build_mirror

from integration.workspace import find_repo_root


def debian_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ["HOME"], ".cache")
    return Path(base) / "monitoring-hub" / "debian-debs"


def build_offline_mirror(out: Path, exporters: list[str]) -> Path:
    root = find_repo_root()
    manifests = [load_manifest(root / "exporters" / e / "manifest.yaml") for e in exporters]
    entries = build_mirror(manifests, out, cache_dir=debian_cache(), jobs=2)
    missing = [e for e in entries if not e.ok]
    assert not missing, f"no Debian build for: {missing}"
    return out
