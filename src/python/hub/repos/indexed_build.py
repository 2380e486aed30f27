"""`hub packages`: every package of one exporter and arch, and each one's repository entry,
in one process.

The build runs this once per exporter and arch instead of one `hub package` process per
package and one `hub yum-entry`/`hub apt-entry` process per package (issue #15, "fewer, larger
processes"): each process start costs an interpreter and a sandbox, more than reading a package
for its entry. The packages are those of `hub package` (`hub.packaging.build.build_all`, with
the same request); each entry is the one `hub yum-entry --rpm` or `hub apt-entry --deb` writes
for that file alone, so the site's merge reads the same entries either way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from hub.common.errors import HubError
from hub.packaging.build import build_all
from hub.repos.apt import apt_entry
from hub.repos.common import entry_path, write_entry
from hub.repos.yum import yum_entry

__all__ = ["ENTRIES_KEY", "build_and_index"]

# The request key naming the entries directory: `<it>/yum/<rpm>.json`, `<it>/apt/<deb>.json`.
ENTRIES_KEY = "entries_dir"


def build_and_index(request: Mapping[str, Any]) -> list[tuple[Path, Path, str]]:
    """Runs a `hub package` request and writes each package's entry under `entries_dir`;
    returns (package file, artifact JSON, entry file) for each package, in build order."""
    entries_dir = request.get(ENTRIES_KEY)
    if not isinstance(entries_dir, str) or not entries_dir:
        raise HubError(f"packages request: {ENTRIES_KEY} must name a directory, got {entries_dir!r}")
    built = build_all({k: v for k, v in request.items() if k != ENTRIES_KEY})
    out: list[tuple[Path, Path, str]] = []
    for package, artifact in built:
        if package.suffix == ".rpm":
            path, entry = entry_path(os.path.join(entries_dir, "yum"), package), yum_entry(package)
        else:
            path, entry = entry_path(os.path.join(entries_dir, "apt"), package), apt_entry(package)
        write_entry(path, entry)
        out.append((package, artifact, path))
    return out
