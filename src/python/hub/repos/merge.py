"""Cumulative repositories: merge the previously published pool into a new site, keep the
newest N versions of each package, and rebuild the YUM and APT metadata (unsigned; hub.repos.sign
signs afterwards).

Rules (docs/repositories.md, "Retention and cumulative publishing"):
- every RPM under `<previous>/<dist>/<arch>/` and every .deb under `<previous>/pool/` that the
  new site does not have is copied in (hard-linked when possible);
- a file the new site also has, under the same name, keeps its **published** bytes: a name
  (name-version-release.arch) never changes content once published, as in every distribution
  archive; mirrors and clients' caches rely on it. A packaging change needs a new release;
- then only the newest `keep` versions (default 3) of each package stay, per dist, name and
  arch (rpm order) and per codename, package and arch (dpkg order); older files are deleted;
- the metadata of every repository and codename is rebuilt from what remains.
"""

from __future__ import annotations

import filecmp
import os
from pathlib import Path
from typing import Any

from hub.common import files
from hub.common.dates import parse_source_date
from hub.common.errors import HubError
from hub.repos import apt, yum
from hub.repos.common import DEFAULT_KEEP, default_source_date


def merge_previous(
    site: str | os.PathLike[str],
    previous: str | os.PathLike[str] | None,
    *,
    keep: int = DEFAULT_KEEP,
    source_date: int | str | None = None,
) -> dict[str, Any]:
    """Merges `previous` (a published site, or None) into `site`, applies retention and
    rebuilds the metadata. Returns what it did."""
    if keep < 1:
        raise HubError(f"keep: expected at least 1 version, got {keep}")
    site = Path(site)
    report: dict[str, Any] = {"copied": [], "kept_published": [], "removed": []}
    if previous is not None:
        previous = Path(previous)
        if not previous.is_dir():
            raise HubError(f"{previous}: the previous site is not a directory")
        old_files = [p for repo in yum.all_repos() for p in sorted((previous / repo).glob("*.rpm"))]
        old_files += sorted((previous / "pool").rglob("*.deb"))
        for old in old_files:
            rel = old.relative_to(previous)
            new = site / rel
            if not new.exists():
                files.link_or_copy(old, new)
                report["copied"].append(rel.as_posix())
            elif not filecmp.cmp(old, new, shallow=False):
                new.unlink()
                files.link_or_copy(old, new)
                report["kept_published"].append(rel.as_posix())
    yum_entries = yum.scan_entries(site)
    apt_entries = apt.scan_entries(site)
    source_date = default_source_date(source_date, yum_entries + apt_entries, where=str(site))
    kept_yum = yum.keep_latest_entries(yum_entries, keep)
    kept_apt = apt.keep_latest_entries(apt_entries, keep)
    kept_files = {str(site / e["dist"] / e["arch"] / e["location_href"]) for e in kept_yum}
    kept_files |= {str(site / e["filename"]) for e in kept_apt}
    for e in yum_entries:
        path = site / e["dist"] / e["arch"] / e["location_href"]
        if str(path) not in kept_files and path.exists():
            path.unlink()
            report["removed"].append(path.relative_to(site).as_posix())
    for e in apt_entries:
        path = site / e["filename"]
        if str(path) not in kept_files and path.exists():
            path.unlink()
            report["removed"].append(e["filename"])
    report["yum"] = yum.build_yum_site(site, kept_yum, source_date=source_date)
    report["apt"] = apt.build_apt_site(site, kept_apt, source_date=source_date)
    report["source_date"] = parse_source_date(source_date)
    return report
