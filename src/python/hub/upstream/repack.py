"""Writing an archive in an upstream's own layout and naming: ``.tar.gz``, ``.zip`` or one ``.gz``.

The **layout** is how upstream organises its release archive: "dir" (everything under one top
directory named after the archive, the Prometheus/promu way) or "flat" (members at the archive
root, goreleaser's default). A single-file ``.gz`` holds the one binary, gzipped.

The archives are reproducible: the same inputs give byte-identical archives (sorted members,
root ownership, one timestamp for every member, gzip headers without time or name), since the
tests pin them and compare package digests across runs.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import time
import zipfile
from typing import Mapping

from hub.common.errors import HubError

# gzip level for repacked .tar.gz/.gz archives: Go's and GNU tar's usual default.
_GZIP_LEVEL = 6
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold

_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".gz")  # as the manifest schema allows


def archive_kind(file_name: str) -> str:
    """ "tar.gz", "zip" or "gz" (one gzipped binary), from the file name."""
    lower = file_name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return {".tgz": "tar.gz"}.get(suffix, suffix[1:])
    raise HubError(f"{file_name}: unknown archive type (expected one of {', '.join(_SUFFIXES)})")


def _stem(file_name: str) -> str:
    lower = file_name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return file_name[: -len(suffix)]
    return file_name


def _gzip(data: bytes, mtime: int = 0) -> bytes:
    """Deterministic gzip: no file name, and ``mtime`` in the header.

    A .tar.gz keeps 0 there (its members carry the dates). A single-file .gz has no member
    header, so its gzip MTIME is the binary's date: upstream's gzip records it, and `update-lock`
    (hub.upstream.source_date.source_date_of) takes the source date of a .gz from that field."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=mtime, compresslevel=_GZIP_LEVEL) as gz:
        gz.write(data)
    return buf.getvalue()


def _tar(files: Mapping[str, tuple], top_dir: str | None, mtime: int) -> bytes:
    """An uncompressed, deterministic tar: ``files`` maps member name -> (data, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def info(name: str) -> tarfile.TarInfo:
            ti = tarfile.TarInfo(name)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mtime = mtime
            return ti

        if top_dir:
            ti = info(top_dir + "/")
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            tar.addfile(ti)
        for name in sorted(files):
            data, mode = files[name]
            ti = info(f"{top_dir}/{name}" if top_dir else name)
            ti.mode = mode
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: Mapping[str, tuple], top_dir: str | None, mtime: int) -> bytes:
    date_time = time.gmtime(max(mtime, _ZIP_EPOCH))[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:

        def info(name: str, mode: int) -> zipfile.ZipInfo:
            zi = zipfile.ZipInfo(name, date_time=date_time)
            zi.create_system = 3  # Unix: keeps the modes in external_attr
            zi.external_attr = mode << 16
            return zi

        if top_dir:
            zi = info(top_dir + "/", 0o40755)
            zi.external_attr |= 0x10  # MS-DOS directory bit
            zf.writestr(zi, b"")
        for name in sorted(files):
            data, mode = files[name]
            zi = info(f"{top_dir}/{name}" if top_dir else name, 0o100000 | mode)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=_GZIP_LEVEL)
    return buf.getvalue()


def pack_archive(
    file_name: str,
    binaries: Mapping[str, bytes],
    *,
    mtime: int,
    license_text: bytes | None = None,
    layout: str = "dir",
) -> bytes:
    """The bytes of an upstream-style archive named ``file_name`` holding ``binaries``.

    ``.tar.gz``/``.zip``: the binaries (mode 0755) and a LICENSE, under a top directory named
    after the archive (``node_exporter-1.5.0.linux-amd64/node_exporter``) or at the root for
    the "flat" layout. ``.gz``: the single binary, gzipped.
    """
    kind = archive_kind(file_name)
    if kind == "gz":
        if len(binaries) != 1:
            raise HubError(
                f"{file_name}: a single-file .gz holds one binary, not {len(binaries)} "
                f"({', '.join(sorted(binaries))})"
            )
        return _gzip(next(iter(binaries.values())), mtime)
    files = {name: (data, 0o755) for name, data in binaries.items()}
    if license_text is not None:
        files.setdefault("LICENSE", (license_text, 0o644))
    top_dir = _stem(file_name) if layout == "dir" else None
    if kind == "zip":
        return _zip(files, top_dir, mtime)
    return _gzip(_tar(files, top_dir, mtime))
