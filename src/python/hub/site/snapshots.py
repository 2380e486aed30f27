"""The publish directory DEST: numbered snapshots, the `current` link, the lock, the clean-up.

    DEST/
      current -> snapshots/00000007       the published site (a relative symbolic link)
      snapshots/00000006/                 the one it replaced (kept for readers and rollback)
      snapshots/00000007/
      .publish.lock                       flock: one publish at a time per DEST
      .publish-keyring                    only while signing: where the temporary keyring is
                                          (hub.site.publish_keyring)

A *snapshot* is a complete published site, `snapshots/<id>`: `<id>` is the next integer after
every snapshot ever left in `snapshots/` (partial ones too), zero-padded; no clock. It is built
as `<id>.partial` and renamed once complete, then `current` is switched to it by renaming a new
link (`current.tmp-<id>`) over it, so readers resolve `current` to the old site or the new one,
never a mix. A snapshot being deleted is renamed `<id>.trash` first, so a crash never leaves a
half-deleted directory under a snapshot's name. What a crash leaves (`*.partial`, `*.trash`,
`current.tmp-*`, a keyring record's temporary file) is *stale*: the next publish removes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Iterator, Sequence

from hub.common import files
from hub.common.errors import HubError

SNAPSHOTS = "snapshots"
CURRENT = "current"
PARTIAL_SUFFIX = ".partial"
TRASH_SUFFIX = ".trash"
LINK_TMP_PREFIX = "current.tmp-"
LOCK_FILE = ".publish.lock"
KEYRING_RECORD = ".publish-keyring"
ID_WIDTH = 8
KEEP_SNAPSHOTS = 2  # the new one and the one it replaced

_SNAPSHOT_NAME = re.compile(r"^(\d+)(\.partial|\.trash)?$")


def remove_tree(path: Path) -> None:
    """Removes a file, a link or a directory tree, whichever `path` is (nothing if absent)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def snapshot_name(number: int) -> str:
    return f"{number:0{ID_WIDTH}d}"


def _snapshot_entries(snapshots: Path) -> list[tuple[int, str, Path]]:
    """(number, suffix, path) of every snapshot, partial or trash directory."""
    out = []
    if snapshots.is_dir():
        for entry in snapshots.iterdir():
            m = _SNAPSHOT_NAME.match(entry.name)
            if m:
                out.append((int(m.group(1)), m.group(2) or "", entry))
    return sorted(out)


def next_snapshot_number(snapshots: Path) -> int:
    """The next integer after every snapshot ever left in `snapshots/` (partial ones too)."""
    return max((n for n, _, _ in _snapshot_entries(snapshots)), default=0) + 1


def current_snapshot(dest: Path) -> Path | None:
    """The snapshot `DEST/current` points to, or None before the first publish."""
    link = dest / CURRENT
    if not link.is_symlink():
        if link.exists():
            raise HubError(f"{link}: expected a symbolic link to {SNAPSHOTS}/<id> (made by hub publish)")
        return None
    target = os.readlink(link)
    m = re.fullmatch(rf"{SNAPSHOTS}/(\d+)", target)
    if not m:
        raise HubError(f"{link} -> {target}: expected {SNAPSHOTS}/<id>")
    snapshot = dest / SNAPSHOTS / m.group(1)
    if not snapshot.is_dir():
        raise HubError(f"{link} -> {target}: the snapshot is missing")
    return snapshot


def clean_stale(dest: Path) -> list[str]:
    """What a crashed publish may have left: `*.partial` and `*.trash` snapshot directories,
    `current.tmp-*` links, temporary record files. Never `current` or a complete snapshot."""
    removed = []
    for _, suffix, path in _snapshot_entries(dest / SNAPSHOTS):
        if suffix:
            remove_tree(path)
            removed.append(f"{SNAPSHOTS}/{path.name}")
    for entry in dest.iterdir():
        if entry.name.startswith(LINK_TMP_PREFIX) or entry.name.startswith(f".{KEYRING_RECORD}."):
            remove_tree(entry)
            removed.append(entry.name)
    return removed


def prune_snapshots(dest: Path, keep: Sequence[Path]) -> list[str]:
    """Removes every complete snapshot not in `keep` (renamed to `<id>.trash` first, so a
    crash never leaves a half-deleted directory under a snapshot's name)."""
    kept = {p.name for p in keep}
    current = current_snapshot(dest)
    if current is not None:
        kept.add(current.name)
    removed = []
    for _, suffix, path in _snapshot_entries(dest / SNAPSHOTS):
        if suffix == PARTIAL_SUFFIX or suffix == TRASH_SUFFIX:
            remove_tree(path)
            removed.append(path.name)
        elif path.name not in kept:
            trash = path.with_name(path.name + TRASH_SUFFIX)
            os.replace(path, trash)
            remove_tree(trash)
            removed.append(path.name)
    return removed


@contextlib.contextmanager
def publish_lock(dest: Path) -> Iterator[None]:
    """One publish at a time per DEST (flock: released by the kernel if the process dies)."""
    fd = os.open(dest / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HubError(f"{dest}: another publish is running (it holds {LOCK_FILE})") from None
        yield
    finally:
        os.close(fd)


def switch_current(dest: Path, snapshot: Path, crash: Callable[[str], None]) -> None:
    """`current` -> `snapshots/<id>` by renaming a new link over it, then fsync DEST; `crash`
    is called at each crash point (hub.site.crash_points)."""
    tmp = dest / f"{LINK_TMP_PREFIX}{snapshot.name}"
    remove_tree(tmp)
    os.symlink(f"{SNAPSHOTS}/{snapshot.name}", tmp)
    crash("link-created")
    os.replace(tmp, dest / CURRENT)
    crash("current-switched")
    files.fsync_directory(dest)
    crash("dest-fsynced")
