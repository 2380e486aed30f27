"""What a new snapshot takes from elsewhere: the unsigned site, and the previous publish's indexes.

- `copy_site`: the unsigned site (`./pants package //:site`) is *copied* into the snapshot,
  never linked: signing rewrites files of the snapshot, which must not touch the input.
- *Carrying*: the previous snapshot's APT `Release` (copied: the merge rewrites it) and its
  by-hash files, and the YUM metadata files its repomd.xml names, go into the new snapshot,
  so a client that read the old InRelease or repomd.xml just before the switch still finds
  every index it names (like createrepo_c --retain-old-md). Files that never change are
  hard-linked (copied across file systems); the previous snapshot itself is never written.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hub.common import files
from hub.common.errors import HubError

_REPOMD_NS = "{http://linux.duke.edu/metadata/repo}"


def copy_site(src: Path, dest: Path) -> int:
    """Copies the unsigned site (regular files and directories only; hidden names, the
    temporary files of atomic writes, are left out). Copies, never links: signing rewrites
    files of the snapshot, which must not touch the input."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                raise HubError(f"{src / rel / d}: the site holds a symbolic link; refusing to publish it")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        target = dest / rel
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(target, 0o755)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                raise HubError(f"{path}: not a regular file; refusing to publish it")
            shutil.copyfile(path, target / name)
            os.chmod(target / name, 0o644)
            count += 1
    return count


def carry_apt_indexes(previous: Path, snapshot: Path) -> int:
    """Puts the previous `dists/<codename>/Release` and its by-hash files into the snapshot
    before the merge rewrites them: `hub.repos.apt.write_codename` keeps the by-hash files the
    Release it replaces names, so clients that read the old InRelease still find them."""
    count = 0
    for release in sorted(previous.glob("dists/*/Release")):
        rel = release.relative_to(previous)
        (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / rel).unlink(missing_ok=True)
        shutil.copyfile(release, snapshot / rel)
        for by_hash in sorted(release.parent.glob("main/binary-*/by-hash/SHA256/*")):
            target = snapshot / by_hash.relative_to(previous)
            if not target.exists():
                files.link_or_copy(by_hash, target)
                count += 1
    return count


def repomd_locations(repomd: Path) -> list[dict[str, Any]]:
    """[{type, href, sha256, size}] of a repomd.xml."""
    root = ET.parse(repomd).getroot()
    out = []
    for data in root.findall(f"{_REPOMD_NS}data"):
        location = data.find(f"{_REPOMD_NS}location")
        checksum = data.find(f"{_REPOMD_NS}checksum")
        size = data.find(f"{_REPOMD_NS}size")
        out.append(
            {
                "type": data.get("type"),
                "href": location.get("href") if location is not None else None,
                "checksum_type": checksum.get("type") if checksum is not None else None,
                "checksum": checksum.text if checksum is not None else None,
                "size": int(size.text) if size is not None and size.text else None,
            }
        )
    return out


def carry_yum_metadata(previous: Path, snapshot: Path, repo: str) -> int:
    """Links the metadata files the previous repomd.xml names into the new repodata/ (their
    names carry their checksum, so they never clash), like createrepo_c --retain-old-md: a
    client that read the old repomd.xml just before the switch still finds them."""
    old = previous / repo / "repodata" / "repomd.xml"
    if not old.is_file():
        return 0
    count = 0
    for loc in repomd_locations(old):
        href = loc["href"] or ""
        if not href.startswith("repodata/") or "/" in href[len("repodata/") :]:
            continue
        src, dst = previous / repo / href, snapshot / repo / href
        if src.is_file() and not dst.exists():
            files.link_or_copy(src, dst)
            count += 1
    return count
