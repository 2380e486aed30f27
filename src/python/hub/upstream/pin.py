"""``update-lock``: pin every arch's upstream archive of a manifest in its lock.

Each archive is downloaded (through the mirror, if any) or, for a local upstream, read from the
exporter's directory; its sha256 and size are recorded at its canonical URL, and the newest
source date of all of them becomes the lock's ``source_date``.
"""

from __future__ import annotations

import os
import tempfile

from hub.common.dates import format_source_date
from hub.common.errors import HubError
from hub.manifest.model import Manifest
from hub.upstream.download import download, mirror_url, sha256_file
from hub.upstream.lock import Lock, LockedArchive, LockError, check_lock, read_lock, write_lock
from hub.upstream.source_date import source_date_of


def update_lock(
    manifest: Manifest, lock_path: str | os.PathLike[str], *, mirror: str | None = None, force: bool = False
) -> Lock:
    """Pins every arch's archive of ``manifest`` and writes the lock (the URLs stay canonical).

    Downloads go through ``mirror`` (see mirror_url). A lock that already pins this version and
    these URLs is returned unchanged without any download, unless ``force``.
    """
    lock_path = os.fspath(lock_path)
    try:
        existing = read_lock(lock_path)
    except LockError:
        existing = None  # a broken lock is replaced
    if (
        not force
        and existing is not None
        and not check_lock(manifest, existing)
        and set(existing.archives) == set(manifest.build.archs)
    ):
        return existing
    archives: dict[str, LockedArchive] = {}
    dates = []
    with tempfile.TemporaryDirectory(prefix="hub-update-lock-") as tmp:
        for arch in manifest.build.archs:
            if manifest.is_local:
                url = manifest.local_archive(arch)
                path = os.path.join(manifest.directory, url)
                try:
                    got = sha256_file(path)
                except OSError as e:
                    raise HubError(
                        f"{manifest.path}: upstream.local.{arch}: cannot read {url}: {e.strerror or e}"
                    ) from None
            else:
                url = manifest.archive_url(arch)
                path = os.path.join(tmp, f"{arch}-{manifest.archive_name(arch)}")
                got = download(mirror_url(url, mirror), path)
            # read under the limits of an extraction (messages name the URL, not the temporary file)
            shown = path if manifest.is_local else mirror_url(url, mirror)
            dates.append(source_date_of(path, display_name=shown))
            archives[arch] = LockedArchive(url, got.sha256, got.size)
    lock = Lock(manifest.name, manifest.version, format_source_date(max(dates)), archives)
    write_lock(lock_path, lock)
    return lock
