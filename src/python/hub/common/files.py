"""Writing files so that readers never see a torn one: the engine's one atomic write.

A file is written under a unique temporary name in its own directory, then renamed over the
target (``os.replace``): readers see the old file or the new one, concurrent writers of the
same path each rename a complete file (the last rename wins), and a crash leaves at most a
``.<name>.<random>.tmp`` file, never a half-written target.

Durability (fsync of the file, then of its directory, so the rename survives a power cut) is
asked for by the callers whose files outlive the process: the upstream lock and the manifest
in the workspace, the published site. Inside a sandboxed Pants action it means nothing (the
sandbox is captured by Pants, then deleted), so it is off by default. A whole tree written
without it is made durable at once by `fsync_tree` before it is renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_MODE = 0o644  # every file the engine writes is public; mkstemp would give 0600
KEEP_MODE = None


def write_atomic(
    path: PathLike,
    data: bytes,
    *,
    mode: int | None = DEFAULT_MODE,
    durable: bool = False,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Writes ``data`` to ``path`` atomically and returns the path.

    ``mode=KEEP_MODE`` keeps the permission bits of the file being replaced (``DEFAULT_MODE``
    for a new one). ``check`` is called with the complete temporary file before the rename:
    if it raises, the target is untouched and the temporary file is removed.
    """
    with atomic_output(path, mode=mode, durable=durable, check=check) as f:
        f.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_output(
    path: PathLike,
    *,
    mode: int | None = DEFAULT_MODE,
    durable: bool = False,
    check: Callable[[Path], None] | None = None,
) -> Iterator[BinaryIO]:
    """A binary file to stream into; on a clean exit it replaces ``path`` atomically, on an
    exception it is removed and ``path`` is untouched. Arguments as for :func:`write_atomic`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode is KEEP_MODE:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = DEFAULT_MODE
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if check is not None:
            check(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fsync_directory(target.parent)


def dumps_json(data: Any) -> str:
    """The engine's one JSON style: sorted keys, indent 2, UTF-8 text, a final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: PathLike, data: Any, *, durable: bool = False) -> Path:
    """``data`` as JSON in the engine's style, written atomically."""
    return write_atomic(path, dumps_json(data).encode("utf-8"), durable=durable)


def fsync_directory(path: PathLike) -> None:
    """Makes a rename or a new entry in ``path`` durable (best effort where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def link_or_copy(src: PathLike, dest: PathLike) -> None:
    """Puts ``src`` at ``dest`` (a new name): a hard link when the file system allows it, else
    a copy with its mode and times. For files that never change once written (packages,
    indexes named by their hash): both names may share one inode."""
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def fsync_tree(root: PathLike) -> int:
    """fsyncs every regular file and directory under ``root`` (and ``root``; symbolic links
    are not followed); returns the count. An error other than a file system refusing to fsync
    a directory is raised: the tree is not durable."""
    count = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                _fsync(path, os.O_RDONLY)
                count += 1
        _fsync(dirpath, os.O_RDONLY | os.O_DIRECTORY)
        count += 1
    return count


def _fsync(path: PathLike, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems refuse fsync on directories
        if e.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)
