"""The source date of an upstream archive: the newest modification time it records.

``update-lock`` stores it in the lock as ``source_date``; every artifact built from the archive
takes its timestamps from it (SOURCE_DATE_EPOCH). A ``.tar.gz`` or ``.zip`` gives the newest
member mtime; a single-file ``.gz`` the MTIME of its gzip header.
"""

from __future__ import annotations

import calendar
import os
import struct
import tarfile
import zipfile
import zlib

from hub.common.errors import HubError


def source_date_of(archive_path: str | os.PathLike[str]) -> int:
    """The newest member mtime of a .tar.gz/.tgz/.zip, or the gzip header mtime of a .gz (UTC s)."""
    path = os.fspath(archive_path)
    name = os.path.basename(path).lower()
    try:
        if name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as tar:
                newest = max((int(m.mtime) for m in tar), default=0)
        elif name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                newest = max((_zip_mtime(info) for info in zf.infolist()), default=0)
        elif name.endswith(".gz"):
            with open(path, "rb") as f:
                header = f.read(10)
            if len(header) < 10 or header[:2] != b"\x1f\x8b":
                raise HubError(f"{path}: not a gzip file")
            newest = struct.unpack("<I", header[4:8])[0]
        else:
            raise HubError(f"{path}: unknown archive type (expected .tar.gz, .tgz, .zip or .gz)")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as e:
        raise HubError(f"{path}: cannot read the archive: {e}") from None
    if newest <= 0:
        raise HubError(f"{path}: the archive records no modification time, so it gives no source date")
    return newest


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    """The UTC mtime from the extended-timestamp extra field, else the DOS time read as UTC."""
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        header_id, length = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + length]
        if header_id == 0x5455 and len(body) >= 5 and body[0] & 1:
            return struct.unpack("<I", body[1:5])[0]
        i += 4 + length
    return calendar.timegm((*info.date_time, 0, 0, 0))
