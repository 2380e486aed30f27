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

import argparse
import filecmp
import os
import shutil
from pathlib import Path
from typing import Any

from hub.repos import apt as repo_apt
from hub.repos import yum as repo_yum
from hub.common.errors import HubError
from hub.repos.common import parse_source_date

DEFAULT_KEEP = 3


def _place(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


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
        old_files = [p for repo in repo_yum.all_repos() for p in sorted((previous / repo).glob("*.rpm"))]
        old_files += sorted((previous / "pool").rglob("*.deb"))
        for old in old_files:
            rel = old.relative_to(previous)
            new = site / rel
            if not new.exists():
                _place(old, new)
                report["copied"].append(rel.as_posix())
            elif not filecmp.cmp(old, new, shallow=False):
                new.unlink()
                _place(old, new)
                report["kept_published"].append(rel.as_posix())
    yum_entries = repo_yum.scan_entries(site)
    apt_entries = repo_apt.scan_entries(site)
    if source_date is None:
        dates = [int(e["build_time"]) for e in yum_entries + apt_entries]
        if not dates:
            raise HubError(f"{site}: no packages, so no source date: pass one")
        source_date = max(dates)
    kept_yum = repo_yum.keep_latest_entries(yum_entries, keep)
    kept_apt = repo_apt.keep_latest_entries(apt_entries, keep)
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
    report["yum"] = repo_yum.build_yum_site(site, kept_yum, source_date=source_date)
    report["apt"] = repo_apt.build_apt_site(site, kept_apt, source_date=source_date)
    report["source_date"] = parse_source_date(source_date)
    return report


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "repo-merge",
        help="merge the previously published pool into a site, keep the newest N versions, rebuild metadata",
        description="Cumulative repositories (docs/repositories.md). Unsigned: run sign-site afterwards.",
    )
    p.add_argument("--site", required=True, metavar="DIR", help="the new site (packages at their package.url)")
    p.add_argument("--previous", metavar="DIR", help="the published site to merge (none on a first publish)")
    p.add_argument("--keep", type=int, default=DEFAULT_KEEP, metavar="N", help=f"versions kept per package (default {DEFAULT_KEEP})")
    p.add_argument("--source-date", metavar="DATE", help="default: the newest package build time")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    report = merge_previous(args.site, args.previous, keep=args.keep, source_date=args.source_date)
    print(f"copied {len(report['copied'])} package(s) from the previous site, kept {len(report['kept_published'])} "
          f"published file(s) over rebuilt ones, removed {len(report['removed'])} beyond the newest {args.keep} versions")
    for name in report["kept_published"]:
        print(f"  kept the published {name} (same name, different bytes: bump the release to publish a change)")
    return 0
