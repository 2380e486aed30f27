"""Deterministic layers: a list of entries in, a gzip-compressed tar blob of a layout out.

An *entry* is one member of a layer (a file, a directory or a symbolic link, with its mode
and owner); its *name* is its path in the image without the leading ``/``. A *layer* is the
blob written from entries, known by two digests: its *digest* (of the gzip bytes, what a
manifest names) and its *diff_id* (of the uncompressed tar, what a config's rootfs names).

Every byte comes from the entries: members sorted by path (parents first, each parent not
given is a root-owned 0755 directory), every mtime the caller's (the lock's ``source_date``),
no user or group names, gzip written with a fixed header (no name, mtime 0, OS "unknown")
around zlib's raw deflate at a fixed level. The same entries give the same digests.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import posixpath
import stat
import struct
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Mapping, cast

from hub.common.errors import HubError
from hub.image.layout import OCI_LAYER_GZIP, Layout, descriptor

GZIP_LEVEL = 6


@dataclass(frozen=True)
class Entry:
    """One member of a layer. ``path`` is absolute in the image (``/etc/passwd``)."""

    path: str
    kind: str = "file"  # "file", "dir" or "symlink"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes | None = None  # file content, or...
    src: str | None = None  # ...a file to read it from
    target: str = ""  # symlink target

    @property
    def name(self) -> str:
        return member_name(self.path)


def member_name(path: str) -> str:
    """A path inside the image as a tar member name (``etc/passwd``); a path that leaves the
    image (``../x``) or names its root is an error."""
    norm = posixpath.normpath("/" + path).lstrip("/")
    if not norm or norm == "." or norm.startswith("../"):
        raise HubError(f"{path!r}: not a path inside the image")
    return norm


class _GzipWriter:
    """tar bytes in -> gzip member out, hashing both sides (diff_id and digest).

    The gzip header is written by hand: magic, deflate, no flags, MTIME 0, XFL 0, OS 255
    ("unknown"), so neither the clock, a file name nor the build OS reaches the bytes (Python's
    gzip module changed its OS byte across versions). The body is zlib's raw deflate at a
    fixed level and the trailer is CRC-32 and length, as RFC 1952 says.
    """

    HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

    def __init__(self, out: IO[bytes], level: int = GZIP_LEVEL):
        self.out = out
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.crc = 0
        self.tar_size = 0
        self.size = 0
        self.z = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
        self._emit(self.HEADER)

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.blob.update(data)
            self.size += len(data)

    def write(self, data: bytes) -> int:
        data = bytes(data)
        self.diff.update(data)
        self.crc = zlib.crc32(data, self.crc)
        self.tar_size += len(data)
        self._emit(self.z.compress(data))
        return len(data)

    def close(self) -> None:
        self._emit(self.z.flush(zlib.Z_FINISH))
        self._emit(struct.pack("<II", self.crc & 0xFFFFFFFF, self.tar_size & 0xFFFFFFFF))

    def flush(self) -> None:  # tarfile may call it
        pass


@dataclass(frozen=True)
class Layer:
    descriptor: dict[str, Any]  # mediaType, digest, size
    diff_id: str  # sha256 of the uncompressed tar
    tar_size: int
    comment: str

    @property
    def digest(self) -> str:
        return self.descriptor["digest"]

    @property
    def size(self) -> int:
        return self.descriptor["size"]


def _with_parents(entries: Iterable[Entry]) -> list[Entry]:
    """Every entry, plus a root-owned 0755 directory for each parent not given explicitly,
    sorted by path (so a directory always precedes its contents)."""
    by_name: dict[str, Entry] = {}
    for e in entries:
        if e.name in by_name and by_name[e.name] != e:
            raise HubError(f"{e.path}: given twice with different content or attributes")
        by_name[e.name] = e
    for name in list(by_name):
        parent = posixpath.dirname(name)
        while parent:
            by_name.setdefault(parent, Entry("/" + parent, "dir", 0o755))
            parent = posixpath.dirname(parent)
    return [by_name[n] for n in sorted(by_name, key=lambda n: n.split("/"))]


def _tarinfo(entry: Entry, mtime: int) -> tuple[tarfile.TarInfo, IO[bytes] | None]:
    info = tarfile.TarInfo(entry.name + ("/" if entry.kind == "dir" else ""))
    info.mtime = mtime
    info.mode = entry.mode & 0o7777
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        return info, None
    if entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
        return info, None
    if entry.kind != "file":
        raise ValueError(entry.kind)
    info.type = tarfile.REGTYPE
    if entry.data is not None:
        info.size = len(entry.data)
        return info, io.BytesIO(entry.data)
    assert entry.src is not None
    try:
        f = open(entry.src, "rb")
        info.size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise HubError(f"{entry.src}: cannot read ({e.strerror})")
    return info, f


def build_layer(
    layout: Layout, entries: Iterable[Entry], *, mtime: int, comment: str, level: int = GZIP_LEVEL
) -> Layer:
    """Writes one gzip-compressed tar layer into ``layout`` and returns its descriptor."""
    # The blob's name is its digest, known only once it is written: a unique temporary file
    # in the blob directory, renamed (or dropped, if the layout already has that blob).
    tmp_dir = layout.root / "blobs" / "sha256"
    fd, tmp_name = tempfile.mkstemp(prefix=".layer-", suffix=".tmp", dir=tmp_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            gz = _GzipWriter(out, level)
            # A stream ("w|") is only ever written forward: a _GzipWriter is enough, although
            # typeshed asks that mode for a whole IO[bytes].
            stream = cast(IO[bytes], gz)
            # PAX only adds extended headers when a field needs one (long names): deterministic.
            with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
                for entry in _with_parents(entries):
                    info, fileobj = _tarinfo(entry, mtime)
                    try:
                        tar.addfile(info, fileobj)
                    finally:
                        if fileobj is not None:
                            fileobj.close()
            gz.close()
        digest = "sha256:" + gz.blob.hexdigest()
        if layout.blob_path(digest).exists():
            tmp.unlink()
        else:
            layout.adopt(tmp, digest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Layer(
        descriptor(OCI_LAYER_GZIP, digest, gz.size),
        "sha256:" + gz.diff.hexdigest(),
        gz.tar_size,
        comment,
    )


def layer_size(layer: Layer | Mapping[str, Any]) -> int:
    """The compressed size of one of an image's layers: ours (a ``Layer``) or a base image's
    (its descriptor)."""
    return layer.size if isinstance(layer, Layer) else int(layer["size"])


def layer_digest(layer: Layer | Mapping[str, Any]) -> str:
    return layer.digest if isinstance(layer, Layer) else layer["digest"]


def tree_entries(root: str | os.PathLike[str], *, prefix: str = "/") -> list[Entry]:
    """A directory tree as layer entries (regular files, directories, symlinks), owned 0:0
    with the tree's own modes: how ``write_base_layout`` turns an unpacked root into a layer."""
    root = os.fspath(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            path = posixpath.join(prefix, rel)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out.append(Entry(path, "symlink", 0o777, target=os.readlink(full)))
            elif stat.S_ISDIR(st.st_mode):
                out.append(Entry(path, "dir", stat.S_IMODE(st.st_mode)))
            elif stat.S_ISREG(st.st_mode):
                out.append(Entry(path, "file", stat.S_IMODE(st.st_mode), src=full))
            else:
                raise HubError(f"{full}: not a regular file, directory or symbolic link")
    return out
