"""YUM repositories: `<dist>/<rpm arch>/repodata/` made with the createrepo_c library.

Two steps, so a build system can cache the expensive one per package:

- `yum_entry(rpm)`: reads one RPM with `createrepo_c.package_from_rpm` and keeps its three
  XML chunks (primary, filelists, other, as `createrepo_c.xml_dump` writes them) plus its
  identity, in a small JSON (`hub-yum-entry/1`). It depends only on the RPM's bytes and its
  file name (cache key: the RPM's sha256).
- `write_repodata(repo_dir, entries, source_date)`: the merge. It streams the chunks into
  createrepo_c's own XML writers (`PrimaryXmlFile.add_chunk`...), gzip-compressed, and
  writes repomd.xml. No RPM is read again.

Retention (`keep_latest_entries`) keeps the newest versions in rpm's order (hub.repos.rpm_version).

Deterministic: packages sorted by (name, arch, file name); the repomd revision, every record
timestamp and each package's `time file` come from the inputs (the source date, the RPM's
build time), never the clock or file mtimes. Metadata is gzip-compressed, which every dnf and
yum of el8, el9 and el10 reads (createrepo_c 1.x would default to zstd). No sqlite databases:
dnf never reads them. `location href` is the bare file name: the RPMs sit beside repodata/.

createrepo_c (PyPI `createrepo-c`) has wheels for CPython 3.11 and later only, so it is
imported lazily: the rest of the engine keeps working on older interpreters.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from hub.common import matrix
from hub.common.dates import parse_source_date
from hub.common.errors import HubError
from hub.repos.common import DEFAULT_KEEP, default_source_date, keep_latest, process_map
from hub.repos.rpm_version import evr, evr_cmp

ENTRY_FORMAT = "hub-yum-entry/1"
# createrepo_c's default changelog limit (only the newest entries go into other.xml).
CHANGELOG_LIMIT = 10
METADATA = ("primary", "filelists", "other")


def _cr() -> Any:
    try:
        import createrepo_c
    except ImportError as e:  # pragma: no cover - depends on the interpreter
        raise HubError(
            "YUM metadata needs the createrepo_c Python library (PyPI createrepo-c, CPython >= 3.11): " f"{e}"
        ) from None
    return createrepo_c


# --------------------------------------------------------------------------------------------
# Retention (rpm's version order)
# --------------------------------------------------------------------------------------------


def keep_latest_entries(entries: Iterable[Mapping[str, Any]], keep: int = DEFAULT_KEEP) -> list[Mapping[str, Any]]:
    """The entries of the `keep` newest versions of each package (per dist, name and arch)."""
    return keep_latest(
        entries,
        group=lambda e: (e.get("dist"), e["name"], e["arch"]),
        compare=evr_cmp,
        version=evr,
        keep=keep,
    )


# --------------------------------------------------------------------------------------------
# Step 1: one entry per RPM
# --------------------------------------------------------------------------------------------


def dist_of_release(release: str) -> str | None:
    """el9 for the release `1.el9` (hub.common.matrix' RPM dists), else None."""
    suffix = release.rsplit(".", 1)[-1]
    return suffix if suffix in matrix.RPM_DISTS else None


def yum_entry(
    rpm: str | os.PathLike[str],
    *,
    dist: str | None = None,
    location_href: str | None = None,
    changelog_limit: int = CHANGELOG_LIMIT,
) -> dict[str, Any]:
    """The metadata of one RPM as a `hub-yum-entry/1` dict (see the module doc).

    `dist` (el9...) places the package in the site (`<dist>/<arch>/`); by default it is read
    from the release suffix (`1.el9`). `location_href` defaults to the file name.
    """
    cr = _cr()
    path = os.fspath(rpm)
    href = location_href or os.path.basename(path)
    try:
        pkg = cr.package_from_rpm(path, cr.SHA256, href, None, changelog_limit)
    except Exception as e:  # createrepo_c raises its own error types for unreadable RPMs
        raise HubError(f"{path}: not a readable RPM: {e}") from None
    # createrepo_c records the file's mtime, which depends on the machine: use the build time.
    pkg.time_file = pkg.time_build
    primary = cr.xml_dump_primary(pkg)
    filelists = cr.xml_dump_filelists(pkg)
    other = cr.xml_dump_other(pkg)
    if dist is None:
        dist = dist_of_release(pkg.release)
    elif dist not in matrix.RPM_DISTS:
        raise HubError(f"dist {dist!r}: expected one of {', '.join(matrix.RPM_DISTS)}")
    return {
        "format": ENTRY_FORMAT,
        "sha256": pkg.pkgId,
        "size": int(pkg.size_package),
        "name": pkg.name,
        "epoch": str(pkg.epoch or "0"),
        "version": pkg.version,
        "release": pkg.release,
        "arch": pkg.arch,
        "dist": dist,
        "location_href": href,
        "build_time": int(pkg.time_build),
        "primary": primary,
        "filelists": filelists,
        "other": other,
    }


# --------------------------------------------------------------------------------------------
# Step 2: the merge
# --------------------------------------------------------------------------------------------


def _sorted_unique(entries: Iterable[Mapping[str, Any]], where: str) -> list[Mapping[str, Any]]:
    by_href: dict[str, Mapping[str, Any]] = {}
    for e in entries:
        href = e["location_href"]
        other = by_href.get(href)
        if other is not None and other["sha256"] != e["sha256"]:
            raise HubError(f"{where}: two different packages named {href} (sha256 {other['sha256']} and {e['sha256']})")
        by_href[href] = e
    return sorted(by_href.values(), key=lambda e: (e["name"], e["arch"], e["location_href"]))


def write_repodata(
    repo_dir: str | os.PathLike[str],
    entries: Iterable[Mapping[str, Any]],
    source_date: int | str,
) -> Path:
    """Writes `<repo_dir>/repodata/` (primary, filelists, other .xml.gz and repomd.xml) from
    entries, replacing any previous repodata (and its now stale repomd.xml.asc) at once."""
    cr = _cr()
    epoch = parse_source_date(source_date)
    repo_dir = Path(repo_dir)
    packages = _sorted_unique(entries, str(repo_dir))
    repo_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".repodata.", dir=repo_dir))
    try:
        repomd = cr.Repomd()
        writers = {"primary": cr.PrimaryXmlFile, "filelists": cr.FilelistsXmlFile, "other": cr.OtherXmlFile}
        for kind in METADATA:
            path = tmp / f"{kind}.xml.gz"
            stat = cr.ContentStat(cr.SHA256)
            xml = writers[kind](str(path), cr.GZ_COMPRESSION, stat)
            xml.set_num_of_pkgs(len(packages))
            for e in packages:
                xml.add_chunk(e[kind])
            xml.close()
            record = cr.RepomdRecord(kind, str(path))
            record.load_contentstat(stat)
            record.fill(cr.SHA256)
            record.rename_file()  # <sha256>-primary.xml.gz: caches never mix two versions
            record.timestamp = epoch
            repomd.set_record(record)
        repomd.set_revision(str(epoch))
        (tmp / "repomd.xml").write_text(repomd.xml_dump(), encoding="utf-8")
        for f in tmp.iterdir():
            os.chmod(f, 0o644)
        os.chmod(tmp, 0o755)
        final = repo_dir / "repodata"
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=".repodata-old.", dir=repo_dir))
            os.replace(final, old / "repodata")
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def scan_entries(site_dir: str | os.PathLike[str], repos: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Entries for every RPM under `<site>/<dist>/<arch>/` (no cache: what a full run does)."""
    jobs = []
    for repo in repos or all_repos():
        dist = repo.split("/")[0]
        jobs += [(str(rpm), dist) for rpm in sorted(Path(site_dir, repo).glob("*.rpm"))]
    return entries_of(jobs)


def _entry_job(job: tuple[str, str | None]) -> dict[str, Any]:
    return yum_entry(job[0], dist=job[1])


def entries_of(jobs: Sequence[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """`yum_entry(rpm, dist=dist)` for each (rpm, dist), on every core: createrepo_c keeps the
    GIL while it reads and checksums an RPM, so this forks worker processes for many RPMs."""
    return process_map(_entry_job, jobs)


def all_repos() -> list[str]:
    """Every YUM repository of the site: `<dist>/<rpm arch>` for each RPM dist and arch."""
    return [f"{d}/{matrix.RPM_ARCH[a]}" for d in matrix.RPM_DISTS for a in matrix.ARCHES]


def group_by_repo(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """{`<dist>/<arch>`: entries}. A noarch package goes into every arch of its dist (its file
    must then be copied beside each arch's repodata)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for e in entries:
        if not e.get("dist"):
            raise HubError(
                f"{e['location_href']}: no dist (the release {e['release']!r} has no el suffix): "
                "make the entry with --dist"
            )
        archs = [matrix.RPM_ARCH[a] for a in matrix.ARCHES] if e["arch"] == "noarch" else [e["arch"]]
        for arch in archs:
            out.setdefault(f"{e['dist']}/{arch}", []).append(e)
    return out


def build_yum_site(
    site_dir: str | os.PathLike[str],
    entries: Iterable[Mapping[str, Any]],
    *,
    source_date: int | str | None = None,
    repos: Sequence[str] | None = None,
    keep: int | None = None,
) -> dict[str, int]:
    """Writes the repodata of every repo in `repos` (default: every dist × arch, so each
    .repo file's baseurl exists, even when empty). Returns {repo: number of packages}.

    `source_date` defaults to the newest build time among all entries. `keep` applies the
    retention (the newest `keep` versions of each package) before the merge.
    """
    entries = list(entries)
    if keep:
        entries = keep_latest_entries(entries, keep)
    source_date = default_source_date(source_date, entries)
    grouped = group_by_repo(entries)
    wanted = list(repos) if repos else sorted(set(all_repos()) | set(grouped))
    counts = {}
    for repo in wanted:
        members = grouped.get(repo, [])
        write_repodata(Path(site_dir, repo), members, source_date)
        counts[repo] = len({e["location_href"] for e in members})
    return counts
