"""APT repositories: `pool/` plus `dists/<codename>/` for each Debian and Ubuntu codename.

Two steps, so a build system can cache the per-package one:

- `apt_entry(deb)`: the package's Packages stanza (its control fields, read by
  hub.repos.deb_control, plus Filename, Size, MD5sum, SHA1 and SHA256) in a small JSON
  (`hub-apt-entry/1`), computed from the .deb's bytes alone (cache key: its sha256).
- `build_apt_site(site, entries)`: the merge. For each codename it writes
  `dists/<codename>/main/binary-{amd64,arm64}/Packages{,.gz,.xz}` and `Release`, their
  by-hash copies (`by-hash/SHA256/<hash>`, `Acquire-By-Hash: yes`) and
  `dists/<codename>/Release`, listing every index file of every arch with its size, MD5,
  SHA1 and SHA256. Each codename lists only the packages built for it; an arch with no
  package still gets its (empty) indexes, which apt expects.

Deterministic: stanzas sorted by (package, version in dpkg's order, file name); gzip without
a name and with mtime 0; `Date:` from the source date (the newest package's build time by
default), never from the clock. Signing (InRelease, Release.gpg) happens at publish time (hub.repos.sign).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import lzma
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from hub.catalog.artifact import package_url
from hub.common import matrix
from hub.common.dates import parse_source_date, rfc2822_date
from hub.common.errors import HubError
from hub.common.files import write_atomic
from hub.repos.common import DEFAULT_KEEP, default_source_date, keep_latest, parallel_map
from hub.repos.deb_control import read_control
from hub.repos.dpkg_version import dpkg_vercmp

ENTRY_FORMAT = "hub-apt-entry/1"
ORIGIN = "Monitoring Hub"
LABEL = "Monitoring Hub"
COMPONENT = "main"
CODENAMES = tuple(matrix.DISTS[d].codename for d in matrix.DEB_DISTS)
CODENAME_OF_SUFFIX = {matrix.DISTS[d].release_suffix: matrix.DISTS[d].codename for d in matrix.DEB_DISTS}
HASHES = (("MD5Sum", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"))
INDEX_FILES = ("Packages", "Packages.gz", "Packages.xz", "Release")


# --------------------------------------------------------------------------------------------
# Retention (dpkg's version order)
# --------------------------------------------------------------------------------------------


def keep_latest_entries(entries: Iterable[Mapping[str, Any]], keep: int = DEFAULT_KEEP) -> list[Mapping[str, Any]]:
    """The entries of the `keep` newest versions of each package (per codename, name, arch)."""
    return keep_latest(
        entries,
        group=lambda e: (e.get("codename"), e["package"], e["architecture"]),
        compare=dpkg_vercmp,
        version=lambda e: e["version"],
        keep=keep,
    )


# --------------------------------------------------------------------------------------------
# Step 1: one entry per .deb
# --------------------------------------------------------------------------------------------


def codename_of_version(version: str) -> str | None:
    """bookworm for `1.11.0-1+deb12` (hub.common.matrix' version suffixes), else None."""
    _, sep, suffix = version.rpartition("+")
    return CODENAME_OF_SUFFIX.get(suffix) if sep else None


def apt_entry(
    deb: str | os.PathLike[str],
    *,
    codename: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """One .deb's Packages stanza and identity as a `hub-apt-entry/1` dict.

    `codename` (bookworm...) defaults to the one the version suffix names (`+deb12`).
    `filename` (the path from the site root) defaults to the pool path of hub.catalog.artifact:
    `pool/main/<prefix>/<package>/<file>`.
    """
    path = os.fspath(deb)
    with open(path, "rb") as f:
        data = f.read()  # read once: the control member and the digests both come from it
    fields, mtime = read_control(path, data)
    control = dict(fields)
    for required in ("Package", "Version", "Architecture"):
        if not control.get(required):
            raise HubError(f"{path}: control: {required} is missing")
    package, version, arch = control["Package"], control["Version"], control["Architecture"]
    if codename is None:
        codename = codename_of_version(version)
    elif codename not in CODENAMES:
        raise HubError(f"codename {codename!r}: expected one of {', '.join(CODENAMES)}")
    if filename is None:
        filename = package_url("deb", dist="", arch=arch, package_name=package, filename=os.path.basename(path))
    digests = {name: hashlib.new(name, data) for name in ("md5", "sha1", "sha256")}
    size = len(data)

    def field(name: str, value: str) -> str:
        first, sep, rest = value.partition("\n")
        return (f"{name}: {first}" if first else f"{name}:") + sep + rest

    # Empty single-line fields (nfpm writes `Section: ` without a section) are dropped.
    kept = [(k, v) for k, v in fields if v.strip() or "\n" in v]
    description = [(k, v) for k, v in kept if k == "Description"]
    lines = [field(k, v) for k, v in kept if k != "Description"]
    lines += [
        f"Filename: {filename}",
        f"Size: {size}",
        f"MD5sum: {digests['md5'].hexdigest()}",
        f"SHA1: {digests['sha1'].hexdigest()}",
        f"SHA256: {digests['sha256'].hexdigest()}",
    ]
    lines += [field(k, v) for k, v in description]
    return {
        "format": ENTRY_FORMAT,
        "package": package,
        "version": version,
        "architecture": arch,
        "codename": codename,
        "filename": filename,
        "sha256": digests["sha256"].hexdigest(),
        "size": size,
        "build_time": mtime,
        "stanza": "\n".join(lines) + "\n",
    }


# --------------------------------------------------------------------------------------------
# The merge
# --------------------------------------------------------------------------------------------


def _sorted_unique(entries: Iterable[Mapping[str, Any]], where: str) -> list[Mapping[str, Any]]:
    by_file: dict[str, Mapping[str, Any]] = {}
    for e in entries:
        other = by_file.get(e["filename"])
        if other is not None and other["sha256"] != e["sha256"]:
            raise HubError(
                f"{where}: two different packages at {e['filename']} (sha256 {other['sha256']} and {e['sha256']})"
            )
        by_file[e["filename"]] = e

    def cmp(x: Mapping[str, Any], y: Mapping[str, Any]) -> int:
        if x["package"] != y["package"]:
            return -1 if x["package"] < y["package"] else 1
        return dpkg_vercmp(x["version"], y["version"]) or (
            (x["filename"] > y["filename"]) - (x["filename"] < y["filename"])
        )

    return sorted(by_file.values(), key=functools.cmp_to_key(cmp))


def packages_text(entries: Iterable[Mapping[str, Any]]) -> bytes:
    """A Packages file: stanzas separated by one blank line (empty when there is none)."""
    return "\n".join(e["stanza"] for e in entries).encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def xz_bytes(data: bytes) -> bytes:
    """xz -6, with the dictionary no larger than the data needs (the same output size for an
    index, without initialising an 8 MiB dictionary for each small file)."""
    dict_size = 1 << 16
    while dict_size < len(data) and dict_size < 1 << 23:
        dict_size <<= 1
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": dict_size}]
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, filters=filters)


def _digests(data: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, data).hexdigest() for _, name in HASHES}


def release_hashes(text: str) -> set[str]:
    """Every SHA256 listed by a Release file (to keep by-hash copies the old one names)."""
    out, in_sha256 = set(), False
    for line in text.splitlines():
        if line and not line[0].isspace():
            in_sha256 = line.startswith("SHA256:")
        elif in_sha256 and line.strip():
            out.add(line.split()[0])
    return out


def write_codename(
    site_dir: str | os.PathLike[str],
    codename: str,
    entries: Iterable[Mapping[str, Any]],
    source_date: int | str,
    *,
    archs: Sequence[str] = matrix.ARCHES,
) -> Path:
    """Writes `dists/<codename>/` from entries; returns the Release path. A previous
    InRelease/Release.gpg is removed (stale); by-hash copies named by the previous Release
    are kept, so clients in the middle of an update still find them."""
    epoch = parse_source_date(source_date)
    base = Path(site_dir, "dists", codename)
    previous = base / "Release"
    keep_hashes = release_hashes(previous.read_text("utf-8")) if previous.is_file() else set()
    packages = _sorted_unique(entries, f"dists/{codename}")
    listed: list[tuple[str, bytes]] = []
    for arch in archs:
        members = [e for e in packages if e["architecture"] in (arch, "all")]
        text = packages_text(members)
        rel = f"{COMPONENT}/binary-{arch}"
        arch_release = (
            f"Archive: {codename}\nOrigin: {ORIGIN}\nLabel: {LABEL}\nAcquire-By-Hash: yes\n"
            f"Component: {COMPONENT}\nArchitecture: {arch}\n"
        ).encode("utf-8")
        files = {
            "Packages": text,
            "Packages.gz": gzip_bytes(text),
            "Packages.xz": xz_bytes(text),
            "Release": arch_release,
        }
        by_hash = base / rel / "by-hash" / "SHA256"
        wanted = set(keep_hashes)
        for name, data in files.items():
            write_atomic(base / rel / name, data)
            listed.append((f"{rel}/{name}", data))
            if name != "Release":
                digest = hashlib.sha256(data).hexdigest()
                wanted.add(digest)
                if not (by_hash / digest).is_file():
                    write_atomic(by_hash / digest, data)
        for stale in by_hash.iterdir():
            if stale.name not in wanted:
                stale.unlink()
    listed.sort(key=lambda item: item[0])
    lines = [
        f"Origin: {ORIGIN}",
        f"Label: {LABEL}",
        f"Suite: {codename}",
        f"Codename: {codename}",
        f"Date: {rfc2822_date(epoch)}",
        f"Architectures: {' '.join(archs)}",
        f"Components: {COMPONENT}",
        f"Description: {ORIGIN} packages for {codename}",
        "Acquire-By-Hash: yes",
    ]
    digests = [(path, len(data), _digests(data)) for path, data in listed]
    for field, name in HASHES:
        lines.append(f"{field}:")
        lines += [f" {d[name]} {size:>16} {path}" for path, size, d in digests]
    release = base / "Release"
    for signature in ("InRelease", "Release.gpg"):
        (base / signature).unlink(missing_ok=True)
    write_atomic(release, ("\n".join(lines) + "\n").encode("utf-8"))
    return release


def scan_entries(site_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Entries for every .deb under `<site>/pool/` (no cache: what a full run does); the
    codename of each comes from its version suffix."""
    site = Path(site_dir)
    debs = sorted((site / "pool").rglob("*.deb"))
    return parallel_map(lambda deb: apt_entry(deb, filename=deb.relative_to(site).as_posix()), debs)


def build_apt_site(
    site_dir: str | os.PathLike[str],
    entries: Iterable[Mapping[str, Any]],
    *,
    source_date: int | str | None = None,
    codenames: Sequence[str] | None = None,
    keep: int | None = None,
) -> dict[str, int]:
    """Writes `dists/<codename>/` for every codename (default: all four, even without
    packages); returns {codename: number of entries}. The .debs themselves must be at their
    `filename` under the site (the pool); this step never reads them.

    `source_date` defaults to the newest build time among all entries; `keep` applies the
    retention (the newest `keep` versions of each package) first."""
    entries = list(entries)
    if keep:
        entries = keep_latest_entries(entries, keep)
    source_date = default_source_date(source_date, entries)
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for e in entries:
        if not e.get("codename"):
            raise HubError(
                f"{e['filename']}: no codename (version {e['version']!r} has no +deb12-style suffix): "
                "make the entry with --codename"
            )
        grouped.setdefault(e["codename"], []).append(e)
    wanted = list(codenames) if codenames else [*CODENAMES, *sorted(set(grouped) - set(CODENAMES))]
    counts = {}
    for codename in wanted:
        members = grouped.get(codename, [])
        write_codename(site_dir, codename, members, source_date)
        counts[codename] = len({e["filename"] for e in members})
    return counts
