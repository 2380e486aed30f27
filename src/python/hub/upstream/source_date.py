"""The source date of an upstream archive: the newest modification time it records.

``update-lock`` stores it in the lock as ``source_date``; every artifact built from the archive
takes its timestamps from it (SOURCE_DATE_EPOCH). A tar or zip archive gives the newest member
mtime; a single-file ``.gz`` the MTIME of its gzip header.

The archive is read by :func:`hub.upstream.archive.scan_archive`, under the same limits as an
extraction: this runs on an archive nothing has vetted yet (``update-lock`` pins what it
downloads), so a decompression bomb or a huge pax header must be refused here too, not read.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.common.errors import HubError
from hub.upstream.archive import DEFAULT_LIMITS, Limits, scan_archive


def source_date_of(
    archive_path: str | os.PathLike[str], *, display_name: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> int:
    """The newest member mtime of a tar or zip archive, or the gzip header mtime of a single
    ``.gz`` (UTC seconds). Refuses what ``extract_binaries`` refuses (ArchiveError)."""
    inventory = scan_archive(Path(archive_path), display_name=display_name, limits=limits)
    if inventory.newest_mtime <= 0:
        raise HubError(
            f"{display_name or os.fspath(archive_path)}: the archive records no modification time, "
            "so it gives no source date; expected member dates after 1970"
        )
    return inventory.newest_mtime
