"""Safe extraction of upstream release archives: only the requested binaries, nothing else.

An upstream archive is pinned by digest, but a digest only proves that the bytes are the ones we
pinned, not that they are harmless. This module therefore treats every archive as hostile:

* it never calls ``extractall``: it reads the archive as a stream, validates **every** member
  first (names, types, modes, links, duplicates, sizes, compression ratio, integrity), and only
  when the whole archive is clean does it write the requested binaries, and nothing else;
* each binary is found by its basename (exactly one match), written to ``<out>/<name>`` with
  mode 0755 through a temporary file and a rename, and checked against the bytes validated in
  the first pass (sha256);
* with ``arch`` given, each binary must be an ELF executable for that architecture (the
  original project once shipped an amd64 binary in its arm64 packages).

Formats: ``.tar.gz``/``.tgz``, ``.tar.xz``/``.txz``, ``.tar.bz2``/``.tbz2``, ``.tar``, ``.zip``
and a single gzip-compressed file (``.gz``: its content *is* the one requested binary). The
real format is read from the magic bytes and must match the name.

See docs/security.md ("Hostile upstream archives") for the rules and why the limits are what
they are.
"""

from __future__ import annotations

import bz2
import collections
import contextlib
import hashlib
import lzma
import os
import re
import stat
import struct
import tarfile
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import (
    IO,
    Callable,
    Deque,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
)

from hub.common.errors import HubError
from hub.common import elf
from hub.common.matrix import ELF_MACHINE

__all__ = [
    "ArchiveError",
    "Limits",
    "DEFAULT_LIMITS",
    "MAX_MEMBERS",
    "MAX_MEMBER_SIZE",
    "MAX_TOTAL_SIZE",
    "MAX_RATIO",
    "RATIO_MIN_SIZE",
    "MAX_METADATA",
    "extract_binaries",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# --- Limits -----------------------------------------------------------------------------------
# A release archive holds a binary or two plus a LICENSE and a NOTICE. Millions of tiny or empty
# entries cost nothing to compress but time and memory to list: a "member count bomb".
MAX_MEMBERS = 10_000
# The largest exporter binaries (prometheus, statically linked Go) are around 150 MiB; 512 MiB
# leaves room to grow, while a member claiming more is certainly not an exporter.
MAX_MEMBER_SIZE = 512 * MiB
# Everything an archive expands to, counted as it is decompressed: bounds the disk, memory and
# time one extraction may cost, whatever the headers claim.
MAX_TOTAL_SIZE = 2 * GiB
# Go binaries compress about 2-4:1 and text 3-10:1. Deflate cannot exceed ~1032:1, reached by
# long runs of one byte: a ratio above 200:1 on a sizeable member is a decompression bomb.
MAX_RATIO = 200
# Small members may compress extremely well (a file of spaces) without harming anyone.
RATIO_MIN_SIZE = 1 * MiB
# pax and GNU long-name records are read into memory by tarfile before the member they describe;
# real ones are a few hundred bytes.
MAX_METADATA = 1 * MiB
# Linux PATH_MAX and NAME_MAX (in UTF-8 bytes): longer names cannot be created anyway.
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
# Linux MAXSYMLINKS: resolving a chain of symbolic links gives up after this many hops.
MAX_LINK_HOPS = 40
# A symbolic link's target is at most PATH_MAX bytes.
MAX_LINK_TARGET = 4096

_CHUNK = 64 * KiB
_HEAD = 512  # bytes kept from the start of each candidate binary (ELF header, tar magic)


@dataclass(frozen=True)
class Limits:
    """The resource limits of one extraction; tests inject small ones to stay fast."""

    max_members: int = MAX_MEMBERS
    max_member_size: int = MAX_MEMBER_SIZE
    max_total_size: int = MAX_TOTAL_SIZE
    max_ratio: int = MAX_RATIO
    ratio_min_size: int = RATIO_MIN_SIZE
    max_metadata: int = MAX_METADATA


DEFAULT_LIMITS = Limits()


class ArchiveError(HubError):
    """A refused or unreadable archive: names the archive, the member, the problem, the expectation."""

    def __init__(self, message: str, *, archive: Optional[str] = None, member: Optional[str] = None):
        self.archive = archive
        self.member = member
        super().__init__(message)


def _printable(text: str) -> str:
    """One line of text, whatever an archive put in its names."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _member_error(label: str, member: str, problem: str, expected: str) -> ArchiveError:
    return ArchiveError(
        f"{label}: member {member!r}: {problem}; expected {expected}", archive=label, member=member
    )


# --- Formats ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    container: str  # "tar", "zip" or "single"
    compression: str  # "none", "gzip", "xz" or "bzip2"
    suffix: str
    description: str

    @property
    def magic_kind(self) -> str:
        if self.container == "zip":
            return "zip"
        return "tar" if self.compression == "none" else self.compression


_SUFFIXES = (
    _Format("tar", "gzip", ".tar.gz", "a gzip-compressed tar archive"),
    _Format("tar", "gzip", ".tgz", "a gzip-compressed tar archive"),
    _Format("tar", "xz", ".tar.xz", "an xz-compressed tar archive"),
    _Format("tar", "xz", ".txz", "an xz-compressed tar archive"),
    _Format("tar", "bzip2", ".tar.bz2", "a bzip2-compressed tar archive"),
    _Format("tar", "bzip2", ".tbz2", "a bzip2-compressed tar archive"),
    _Format("tar", "none", ".tar", "an uncompressed tar archive"),
    _Format("zip", "none", ".zip", "a zip archive"),
    _Format("single", "gzip", ".gz", "a single gzip-compressed file"),
)

# (offset, magic, kind, description of what the file really is)
_MAGIC = (
    (0, b"\x1f\x8b", "gzip", "gzip-compressed data"),
    (0, b"\xfd7zXZ\x00", "xz", "xz-compressed data"),
    (0, b"BZh", "bzip2", "bzip2-compressed data"),
    (0, b"PK\x03\x04", "zip", "a zip archive"),
    (0, b"PK\x05\x06", "zip", "an empty zip archive"),
    (0, b"\x28\xb5\x2f\xfd", "zstd", "zstd-compressed data"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive"),
    (0, b"Rar!", "rar", "a RAR archive"),
    (0, b"\x7fELF", "elf", "an uncompressed ELF file"),
    (257, b"ustar", "tar", "an uncompressed tar archive"),
)
_STREAM_MAGIC = {"gzip": b"\x1f\x8b", "xz": b"\xfd7zXZ\x00", "bzip2": b"BZh"}


def _archive_format(archive: Path, display_name: Optional[str], label: str) -> _Format:
    names = [archive.name]
    if display_name:
        names.append(display_name.rstrip("/").rsplit("/", 1)[-1])
    for name in names:
        lower = name.lower()
        for fmt in _SUFFIXES:
            if lower.endswith(fmt.suffix) and len(lower) > len(fmt.suffix):
                return fmt
    suffixes = ", ".join(f.suffix for f in _SUFFIXES)
    raise ArchiveError(f"{label}: unsupported archive type; expected a name ending in {suffixes}")


def _check_magic(fp: IO[bytes], fmt: _Format, label: str) -> None:
    head = fp.read(512)
    fp.seek(0)
    if not head:
        raise ArchiveError(f"{label}: the file is empty; expected {fmt.description}")
    found = None
    for offset, magic, kind, description in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            found = (kind, description)
            break
    if found is not None and found[0] == fmt.magic_kind:
        return
    what = found[1] if found else f"unrecognised data (starting with {head[:8]!r})"
    raise ArchiveError(
        f"{label}: the file is {what}, but its name ({fmt.suffix}) says {fmt.description}; "
        f"expected the content to match the name"
    )


# --- Decompression, counted -------------------------------------------------------------------


class _Stream:
    """A forward-only, file-like view of the decompressed bytes of ``fp``.

    It counts the compressed bytes consumed (for per-member compression ratios) and the bytes
    delivered, refuses to deliver more than ``cap`` bytes, turns truncation and corruption
    (gzip CRC and length checks included) into ArchiveError, and remembers where the last
    non-zero byte was and the last few KiB delivered (to check a tar's end-of-archive marker).
    """

    _RAW_CHUNK = 64 * KiB
    _FEED = 4 * KiB  # xz/bzip2 input chunk: the precision of their compressed-byte count
    _TAIL = 64 * KiB

    def __init__(self, fp: IO[bytes], compression: str, label: str, cap: int,
                 meta_limit: Optional[int] = None):
        self._fp = fp
        self._compression = compression
        self._label = label
        self._cap = cap
        self._meta_limit = meta_limit
        self._d = None  # type: ignore[var-annotated]
        self._streams = 0
        self._pending = b""
        self._raw = 0
        self._eof = False
        self._tail: Deque[Tuple[int, bytes]] = collections.deque()
        self._tail_len = 0
        self.pos = 0
        self.nonzero_end = 0
        self.data_mode = False  # reading member data, not headers
        self.meta = 0  # header bytes delivered since the last reset
        # How much the compressed count may lag behind: zlib reports exactly what it consumed.
        self.slack = self._FEED if compression in ("xz", "bzip2") else 0

    @property
    def compressed(self) -> int:
        """Compressed bytes consumed so far."""
        return self._raw - len(self._pending)

    def readable(self) -> bool:
        return True

    def read(self, n: Optional[int] = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while True:
                part = self.read(_CHUNK)
                if not part:
                    return b"".join(parts)
                parts.append(part)
        if n == 0:
            return b""
        try:
            data = self._read_some(n)
        except zlib.error as e:
            text = str(e)
            if "incorrect data check" in text:
                problem = "the gzip CRC check failed"
            elif "incorrect length check" in text:
                problem = "the gzip length check failed"
            else:
                problem = f"corrupt gzip data ({_printable(text)})"
            raise self._corrupt(problem) from None
        except (lzma.LZMAError, OSError, EOFError, ValueError) as e:
            raise self._corrupt(f"corrupt {self._compression} data ({_printable(str(e))})") from None
        if data:
            start = self.pos
            self.pos += len(data)
            if self.pos > self._cap:
                raise ArchiveError(
                    f"{self._label}: expands to more than {self._cap} bytes; expected at most "
                    f"that (the size limits plus room for headers): a decompression bomb?"
                )
            stripped = data.rstrip(b"\0")
            if stripped:
                self.nonzero_end = start + len(stripped)
            self._tail.append((start, data))
            self._tail_len += len(data)
            while self._tail_len - len(self._tail[0][1]) >= self._TAIL:
                self._tail_len -= len(self._tail.popleft()[1])
            if not self.data_mode and self._meta_limit is not None:
                self.meta += len(data)
                if self.meta > self._meta_limit:
                    raise ArchiveError(
                        f"{self._label}: more than {self._meta_limit} bytes of tar headers before "
                        f"one member (pax or GNU long-name records); expected ordinary headers"
                    )
        return data

    def block_at(self, offset: int, size: int = 512) -> Optional[bytes]:
        """Bytes [offset, offset+size) if still remembered (None if they were dropped)."""
        if self._tail and self._tail[0][0] > offset:
            return None
        parts = []
        for start, data in self._tail:
            end = start + len(data)
            if end <= offset:
                continue
            if start >= offset + size:
                break
            parts.append(data[max(0, offset - start) : offset + size - start])
        return b"".join(parts)

    def _corrupt(self, problem: str) -> ArchiveError:
        return ArchiveError(
            f"{self._label}: {problem}; expected an intact {self._compression} stream "
            f"(the file may be corrupt or truncated)",
            archive=self._label,
        )

    def _read_raw(self, n: int) -> bytes:
        try:
            data = self._fp.read(n)
        except OSError as e:
            raise ArchiveError(f"{self._label}: cannot read the file ({e.strerror or e})") from None
        self._raw += len(data)
        return data

    def _new_decompressor(self):  # type: ignore[no-untyped-def]
        if self._compression == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._compression == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return bz2.BZ2Decompressor()

    def _next_stream(self) -> bool:
        """Start the next compressed stream; False at a clean end (only zero padding left)."""
        magic = _STREAM_MAGIC[self._compression]
        while len(self._pending) < len(magic):
            more = self._read_raw(self._RAW_CHUNK)
            if not more:
                break
            self._pending += more
        if self._pending.startswith(magic):
            self._d = self._new_decompressor()
            self._streams += 1
            return True
        if self._streams == 0:
            raise self._corrupt(f"not {self._compression} data")
        while True:  # after the last stream, only zero padding may follow
            if self._pending.strip(b"\0"):
                raise self._corrupt(f"unexpected data after the end of the {self._compression} stream")
            self._pending = b""
            self._pending = self._read_raw(self._RAW_CHUNK)
            if not self._pending:
                return False

    def _read_some(self, n: int) -> bytes:
        if self._compression == "none":
            if self._eof:
                return b""
            data = self._read_raw(n)
            self._eof = not data
            return data
        while not self._eof:
            if self._d is None:
                if not self._next_stream():
                    self._eof = True
                    break
            d = self._d
            if self._compression == "gzip":
                feed = self._pending or self._read_raw(self._RAW_CHUNK)
                out = d.decompress(feed, n)
                self._pending = d.unused_data if d.eof else d.unconsumed_tail
            else:
                feed = b""
                if d.needs_input:
                    if not self._pending:
                        self._pending = self._read_raw(self._RAW_CHUNK)
                    feed, self._pending = self._pending[: self._FEED], self._pending[self._FEED :]
                out = d.decompress(feed, n)
                if d.eof:
                    self._pending = d.unused_data + self._pending
            if d.eof:
                self._d = None
            if out:
                return out
            if not feed and not d.eof:
                raise self._corrupt(
                    f"truncated: the {self._compression} stream ends before its end marker"
                )
        return b""


# --- Names, types, links ----------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")
# Cc: C0/C1 controls (NUL, ESC, newline...); Cf: invisible format characters such as bidi
# overrides that make a name display differently from what it is; Zl/Zp: line breaks;
# Cs: lone surrogates, i.e. bytes that are not valid UTF-8.
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "bytes that are not valid UTF-8",
}


def _text_problem(raw: str) -> Optional[str]:
    for ch in raw:
        if ch == "\0":
            return "contains a NUL byte"
        category = unicodedata.category(ch)
        if category in _REFUSED_CATEGORIES:
            return f"contains {_REFUSED_CATEGORIES[category]} (U+{ord(ch):04X})"
    if "\\" in raw:
        return "contains a backslash (a Windows separator that can hide '..' or an absolute path)"
    return None


def _check_path(raw: str) -> Tuple[str, Optional[str]]:
    """The normalized relative path of ``raw``, or a description of what is wrong with it."""
    if raw == "":
        return "", "is empty"
    problem = _text_problem(raw)
    if problem:
        return "", problem
    if raw.startswith("/"):
        return "", "is an absolute path"
    if _DRIVE.match(raw):
        return "", "starts with a drive letter"
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        return "", "has a '..' component (it would leave the extraction directory)"
    path = "/".join(parts)
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        return "", f"is longer than {MAX_PATH_BYTES} bytes"
    if any(len(p.encode("utf-8")) > MAX_NAME_BYTES for p in parts):
        return "", f"has a component longer than {MAX_NAME_BYTES} bytes"
    return path, None


def _symlink_problem(path: str, target: str, links: Dict[str, str]) -> Optional[str]:
    """Resolve ``target`` (through the archive's other links) from the link's directory."""
    if target.startswith("/"):
        return "points outside the archive (absolute target)"
    parts = path.split("/")[:-1]
    todo = target.split("/")
    hops = 0
    while todo:
        component = todo.pop(0)
        if component in ("", "."):
            continue
        if component == "..":
            if not parts:
                return "points outside the archive"
            parts.pop()
            continue
        parts.append(component)
        next_target = links.get("/".join(parts))
        if next_target is not None:
            hops += 1
            if hops > MAX_LINK_HOPS:
                return "is part of a symbolic link loop"
            parts.pop()
            if next_target.startswith("/"):
                return "points outside the archive (through another link)"
            todo = next_target.split("/") + todo
    return None


_KIND_NAMES = {
    "file": "a regular file",
    "dir": "a directory",
    "symlink": "a symbolic link",
    "hardlink": "a hard link",
}
_REFUSAL_EXPECTED = {"encrypted": "unencrypted members (upstream archives are never encrypted)"}
_SPECIAL_BITS = ((stat.S_ISUID, "setuid"), (stat.S_ISGID, "setgid"), (stat.S_ISVTX, "sticky"))


@dataclass
class _Entry:
    index: int  # position in the archive, the same in both passes
    path: str  # normalized
    raw: str  # as stored
    kind: str  # file, dir, symlink, hardlink
    size: Optional[int]  # as the header says (None when there is no header)
    link: Optional[str] = None
    length: int = 0  # bytes actually read
    digest: Optional[str] = None  # sha256, for candidate binaries only
    head: bytes = b""

    @property
    def basename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class _Inventory:
    """Every member of one archive, validated as it is read."""

    def __init__(self, label: str, limits: Limits, wanted: Sequence[str]):
        self.label = label
        self.limits = limits
        self.wanted = set(wanted)
        self.entries: List[_Entry] = []
        self._by_key: Dict[str, _Entry] = {}
        self._count = 0
        self.total = 0

    def fail(self, raw: str, problem: str, expected: str) -> ArchiveError:
        return _member_error(self.label, raw, problem, expected)

    def add(self, index: int, raw: str, kind: str, mode: int, size: Optional[int],
            link: Optional[str] = None, refused: Optional[str] = None) -> Optional[_Entry]:
        """Validate one member's header; ``refused`` describes a type that is never accepted."""
        self._count += 1
        if self._count > self.limits.max_members:
            raise ArchiveError(
                f"{self.label}: more than {self.limits.max_members} members; expected at most "
                f"{self.limits.max_members} (a release archive holds a handful of files)"
            )
        path, problem = _check_path(raw)
        if problem:
            raise self.fail(raw, f"its name {problem}", "a relative path inside the archive")
        if refused:
            raise self.fail(raw, f"is {refused}", _REFUSAL_EXPECTED.get(
                refused, "only regular files, directories and links that stay inside the archive"))
        bits = [name for bit, name in _SPECIAL_BITS if mode & bit]
        if bits:
            raise self.fail(
                raw, f"has the {'/'.join(bits)} bit set (mode {mode & 0o7777:04o})",
                "no setuid, setgid or sticky bits",
            )
        if not path:
            if kind == "dir":
                return None  # "./": the root itself
            raise self.fail(raw, "has an empty path", "a file name")
        if kind == "file" and size is not None:
            self._check_size(raw, size)
        key = unicodedata.normalize("NFC", path)
        previous = self._by_key.get(key)
        if previous is not None and not (previous.kind == "dir" and kind == "dir"):
            first = f", first stored as {previous.raw!r}" if previous.raw != raw else ""
            raise self.fail(raw, f"is a second entry for {path!r} (it would shadow the first{first})",
                            "each path exactly once")
        if link is not None:
            link_problem = self._link_problem(kind, link)
            if link_problem:
                raise self.fail(raw, f"is {_KIND_NAMES[kind]} to {link!r}, which {link_problem}",
                                "links that stay inside the archive")
        entry = _Entry(index=index, path=path, raw=raw, kind=kind, size=size, link=link)
        self.entries.append(entry)
        self._by_key.setdefault(key, entry)
        return entry

    def _check_size(self, raw: str, size: int) -> None:
        limits = self.limits
        if size > limits.max_member_size:
            raise self.fail(raw, f"is {size} bytes, over the per-member limit of "
                                 f"{limits.max_member_size} bytes",
                            f"at most {limits.max_member_size} bytes per member")

    def _link_problem(self, kind: str, link: str) -> Optional[str]:
        if len(link.encode("utf-8", "surrogateescape")) > MAX_LINK_TARGET:
            return f"is longer than {MAX_LINK_TARGET} bytes"
        if kind == "hardlink":
            target, problem = _check_path(link)
            if problem:
                return problem
            found = self._by_key.get(unicodedata.normalize("NFC", target))
            if found is None or found.kind not in ("file", "hardlink"):
                return "is not an earlier regular file of the archive"
            return None
        if link == "":
            return "is empty"
        problem = _text_problem(link)
        if problem:
            return problem
        if link.startswith("/"):
            return "points outside the archive (absolute target)"
        return None  # resolved against the other links in finish()

    def consume(self, entry: _Entry, fp: IO[bytes], compressed: Optional[Callable[[], int]],
                candidate: Optional[bool] = None) -> None:
        """Read one member's data, enforcing the limits on the bytes as they stream."""
        limits = self.limits
        if candidate is None:
            candidate = entry.kind == "file" and entry.basename in self.wanted
        digest = hashlib.sha256() if candidate else None
        head = bytearray()
        n = 0
        while True:
            chunk = fp.read(_CHUNK)
            if not chunk:
                break
            n += len(chunk)
            if n > limits.max_member_size:
                raise self.fail(entry.raw, f"expands to more than {limits.max_member_size} bytes",
                                f"at most {limits.max_member_size} bytes per member")
            if self.total + n > limits.max_total_size:
                raise self.fail(entry.raw, f"brings the archive's content over "
                                           f"{limits.max_total_size} bytes",
                                f"at most {limits.max_total_size} bytes in total")
            if compressed is not None and n > limits.ratio_min_size:
                used = max(compressed(), 1)
                if n > limits.max_ratio * used:
                    raise self.fail(
                        entry.raw,
                        f"expands more than {limits.max_ratio}:1 ({n} bytes from about {used} "
                        f"compressed bytes): a decompression bomb",
                        f"at most {limits.max_ratio}:1 for members over {limits.ratio_min_size} bytes",
                    )
            if digest is not None:
                digest.update(chunk)
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
        if entry.size is not None and n != entry.size:
            raise self.fail(entry.raw, f"holds {n} bytes but its header says {entry.size}",
                            "an intact archive (truncated or corrupt?)")
        self.total += n
        entry.length = n
        if digest is not None:
            entry.digest = digest.hexdigest()
            entry.head = bytes(head)

    def finish(self) -> None:
        """Checks that need every member: paths under links or files, symbolic link targets."""
        not_dirs = {e.path: e for e in self.entries if e.kind != "dir"}
        for entry in self.entries:
            parts = entry.path.split("/")
            for i in range(1, len(parts)):
                parent = not_dirs.get("/".join(parts[:i]))
                if parent is not None:
                    raise self.fail(
                        entry.raw, f"lies under {parent.raw!r}, which is {_KIND_NAMES[parent.kind]}",
                        "paths under directories only (nothing is written through a link)",
                    )
        links = {e.path: e.link for e in self.entries if e.kind == "symlink" and e.link is not None}
        for entry in self.entries:
            if entry.kind == "symlink" and entry.link is not None:
                problem = _symlink_problem(entry.path, entry.link, links)
                if problem:
                    raise self.fail(entry.raw, f"is a symbolic link to {entry.link!r}, which {problem}",
                                    "links that stay inside the archive")


@contextlib.contextmanager
def _reading(label: str, expected: str, os_errors: bool = True) -> Iterator[None]:
    """Turn the stdlib's errors about bad archive bytes into one clear ArchiveError."""
    try:
        yield
    except ArchiveError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError,
            EOFError, NotImplementedError, UnicodeDecodeError, struct.error, ValueError,
            RuntimeError) as e:
        raise ArchiveError(f"{label}: corrupt or truncated archive ({_printable(str(e))}); "
                           f"expected {expected}", archive=label) from None
    except OSError as e:
        if not os_errors:
            raise
        raise ArchiveError(f"{label}: cannot read the archive ({e.strerror or e}); "
                           f"expected {expected}", archive=label) from None


# --- tar --------------------------------------------------------------------------------------

_TAR_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_TAR_REFUSED = {
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO (named pipe)",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}


def _tar_cap(limits: Limits) -> int:
    # Members' content, one oversized header, and up to 4 KiB of headers and padding per member.
    return limits.max_total_size + limits.max_metadata + (limits.max_members + 4) * 4 * KiB


def _tar_kind(member: tarfile.TarInfo) -> Tuple[str, Optional[str]]:
    if member.type in _TAR_REFUSED:
        return "", _TAR_REFUSED[member.type]
    if member.sparse is not None:
        return "", "a sparse file"
    if member.type in _TAR_FILE_TYPES:
        return "file", None
    if member.type == tarfile.DIRTYPE:
        return "dir", None
    if member.type == tarfile.SYMTYPE:
        return "symlink", None
    if member.type == tarfile.LNKTYPE:
        return "hardlink", None
    return "", f"an entry of unsupported tar type {member.type!r}"


def _open_tar(stream: _Stream, fmt: _Format, label: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape")
    except tarfile.ReadError as e:
        raise ArchiveError(f"{label}: not a tar archive inside ({_printable(str(e))}); "
                           f"expected {fmt.description}", archive=label) from None


def _member_ratio(stream: _Stream, fmt: _Format) -> Optional[Callable[[], int]]:
    """Compressed bytes used by the member starting now (None for an uncompressed tar)."""
    if fmt.compression == "none":
        return None
    start = stream.compressed
    return lambda: stream.compressed - start + stream.slack


def _scan_tar(fp: IO[bytes], fmt: _Format, label: str, limits: Limits,
              wanted: Sequence[str]) -> _Inventory:
    inventory = _Inventory(label, limits, wanted)
    stream = _Stream(fp, fmt.compression, label, _tar_cap(limits), meta_limit=limits.max_metadata)
    with _reading(label, fmt.description):
        tar = _open_tar(stream, fmt, label)
        index = 0
        while True:
            member = tar.next()
            if member is None:
                break
            kind, refused = _tar_kind(member)
            link = member.linkname if kind in ("symlink", "hardlink") else None
            entry = inventory.add(index, member.name, kind, member.mode & 0o7777,
                                  member.size if kind == "file" else None, link, refused)
            if entry is not None and kind == "file":
                data = tar.extractfile(member)
                assert data is not None
                stream.data_mode = True
                inventory.consume(entry, data, _member_ratio(stream, fmt))
            stream.data_mode = False
            stream.meta = 0
            index += 1
        # tarfile stops quietly at a zero block, a short read or a bad header: tell them apart.
        end = tar.offset
        block = stream.block_at(end)
        stream.data_mode = True
        while stream.read(_CHUNK):  # drain: checks the compressed stream's CRC and trailer
            pass
    if stream.pos < end + 512 or (block is not None and len(block) < 512):
        # EmptyHeaderError / TruncatedHeaderError inside tarfile: the data just stops.
        raise ArchiveError(f"{label}: the tar data stops at byte {stream.pos} without an "
                           f"end-of-archive marker; expected an intact archive (truncated?)")
    if block is not None and block.strip(b"\0"):
        raise ArchiveError(f"{label}: corrupt tar header at byte {end}; expected a valid header "
                           f"or the end-of-archive marker")
    if stream.nonzero_end > end:
        raise ArchiveError(f"{label}: data after the end-of-archive marker at byte {end}; "
                           f"expected only zero padding")
    inventory.finish()
    return inventory


def _tar_payloads(fp: IO[bytes], fmt: _Format, label: str, limits: Limits,
                  indexes: Set[int]) -> Iterator[Tuple[int, IO[bytes]]]:
    stream = _Stream(fp, fmt.compression, label, _tar_cap(limits))
    tar = _open_tar(stream, fmt, label)
    left = set(indexes)
    index = 0
    while left:
        member = tar.next()
        if member is None:
            break
        if index in left:
            left.discard(index)
            data = tar.extractfile(member) if member.isreg() else None
            if data is None:
                raise ArchiveError(f"{label}: member {member.name!r} changed between validation "
                                   f"and extraction; expected the archive to stay unchanged")
            yield index, data
        index += 1


# --- zip --------------------------------------------------------------------------------------

_ZIP_REFUSED = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


def _zip_kind(info: zipfile.ZipInfo) -> Tuple[str, int, Optional[str]]:
    """Kind, permission bits, refusal. The Unix mode lives in the high 16 bits of external_attr."""
    mode = info.external_attr >> 16
    file_type = stat.S_IFMT(mode)
    named_dir = info.filename.endswith("/")
    if info.flag_bits & 0x1:
        return "", 0, "encrypted"
    if file_type in _ZIP_REFUSED:
        return "", 0, _ZIP_REFUSED[file_type]
    if file_type in (0, stat.S_IFDIR, stat.S_IFREG) and named_dir:
        return "dir", stat.S_IMODE(mode), None  # a trailing "/" makes a directory, as for unzip
    if file_type == stat.S_IFDIR:
        return "", 0, "a directory whose name does not end in '/'"
    if file_type in (0, stat.S_IFREG):
        return "file", stat.S_IMODE(mode), None
    if file_type == stat.S_IFLNK:
        return "symlink", stat.S_IMODE(mode), None
    return "", 0, f"an entry of unknown type (mode {mode:06o})"


def _scan_zip(fp: IO[bytes], fmt: _Format, label: str, limits: Limits,
              wanted: Sequence[str]) -> _Inventory:
    inventory = _Inventory(label, limits, wanted)
    with _reading(label, fmt.description), zipfile.ZipFile(fp) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveError(f"{label}: {len(infos)} members; expected at most "
                               f"{limits.max_members} (a release archive holds a handful of files)")
        # Entries that share compressed bytes are the core of the best-known zip bombs.
        spans = sorted(infos, key=lambda i: i.header_offset)
        for a, b in zip(spans, spans[1:]):
            if b.header_offset < a.header_offset + 30 + a.compress_size:
                raise _member_error(label, b.filename, f"its data overlaps member {a.filename!r}",
                                    "members that do not share bytes (a zip bomb technique)")
        for index, info in enumerate(infos):
            kind, mode, refused = _zip_kind(info)
            link = None
            if kind == "symlink" and not refused:
                if info.file_size > MAX_LINK_TARGET:
                    raise _member_error(label, info.filename, "is a symbolic link with a target "
                                        f"longer than {MAX_LINK_TARGET} bytes", "a short target")
                with archive.open(info) as data:
                    raw_target = data.read(MAX_LINK_TARGET + 1)
                link = raw_target.decode("utf-8", "surrogateescape")
            entry = inventory.add(index, info.filename, kind, mode,
                                  info.file_size if kind == "file" else None, link, refused)
            if entry is not None and kind == "file":
                with archive.open(info) as data:
                    inventory.consume(entry, data, lambda info=info: info.compress_size)
    inventory.finish()
    return inventory


def _zip_payloads(fp: IO[bytes], fmt: _Format, label: str, limits: Limits,
                  indexes: Set[int]) -> Iterator[Tuple[int, IO[bytes]]]:
    with zipfile.ZipFile(fp) as archive:
        infos = archive.infolist()
        for index in sorted(indexes):
            with archive.open(infos[index]) as data:
                yield index, data


# --- single .gz -------------------------------------------------------------------------------


def _single_name(fmt: _Format, label: str) -> str:
    name = label.rstrip("/").rsplit("/", 1)[-1]
    return name[: -len(fmt.suffix)] if name.lower().endswith(fmt.suffix) else name


def _scan_single(fp: IO[bytes], fmt: _Format, label: str, limits: Limits,
                 wanted: Sequence[str]) -> _Inventory:
    if len(wanted) != 1:
        raise ArchiveError(f"{label}: {fmt.description} holds exactly one file, but "
                           f"{len(wanted)} binaries were requested ({', '.join(wanted)}); "
                           f"expected one binary")
    inventory = _Inventory(label, limits, wanted)
    name = _single_name(fmt, label)
    entry = _Entry(index=0, path=name, raw=name, kind="file", size=None)
    inventory.entries.append(entry)
    stream = _Stream(fp, fmt.compression, label, limits.max_member_size + 2 * _CHUNK)
    with _reading(label, fmt.description):
        inventory.consume(entry, stream, lambda: stream.compressed + stream.slack, candidate=True)
    if entry.head[257:262] == b"ustar":
        raise _member_error(label, name, "holds a tar archive, not a single file",
                            "a single compressed binary (a compressed tar is named .tar.gz)")
    return inventory


def _single_payloads(fp: IO[bytes], fmt: _Format, label: str, limits: Limits,
                     indexes: Set[int]) -> Iterator[Tuple[int, IO[bytes]]]:
    yield 0, _Stream(fp, fmt.compression, label, limits.max_member_size + 2 * _CHUNK)  # type: ignore[misc]


_SCANNERS = {"tar": _scan_tar, "zip": _scan_zip, "single": _scan_single}
_PAYLOADS = {"tar": _tar_payloads, "zip": _zip_payloads, "single": _single_payloads}


# --- Choosing and checking binaries -----------------------------------------------------------


def _choose(inventory: _Inventory, fmt: _Format, wanted: Sequence[str], label: str) -> Dict[str, _Entry]:
    if fmt.container == "single":
        return {wanted[0]: inventory.entries[0]}
    chosen: Dict[str, _Entry] = {}
    for name in wanted:
        matches = [e for e in inventory.entries if e.kind != "dir" and e.basename == name]
        if not matches:
            files = sorted({e.basename for e in inventory.entries if e.kind == "file"})
            found = ", ".join(files[:10]) if files else "none"
            if len(files) > 10:
                found += f" and {len(files) - 10} more"
            raise ArchiveError(f"{label}: no member named {name!r}; expected exactly one regular "
                               f"file with that name (regular files found: {found})", archive=label)
        if len(matches) > 1:
            paths = ", ".join(repr(e.raw) for e in matches[:10])
            raise ArchiveError(f"{label}: binary {name!r} is ambiguous: {len(matches)} members "
                               f"have that name ({paths}); expected exactly one", archive=label)
        entry = matches[0]
        if entry.kind != "file":
            raise _member_error(label, entry.raw,
                                f"the binary {name!r} is {_KIND_NAMES[entry.kind]} to {entry.link!r}",
                                "a regular file (links are never followed)")
        chosen[name] = entry
    return chosen


def _check_elf(head: bytes, name: str, member: str, label: str, arch: str) -> None:
    want = ELF_MACHINE[arch]
    want_name = elf.machine_name(want)
    expected = f"an ELF executable for {want_name} ({arch})"
    where = f"{name} in {label}"
    header = elf.read_header(head)
    if header is None:
        raise ArchiveError(f"{where} is not an ELF executable (member {member!r} starts with "
                           f"{head[:4]!r}); expected {expected}", archive=label, member=member)
    if not header.is_executable:
        raise ArchiveError(f"{where} is not an ELF executable (member {member!r} has ELF type "
                           f"{header.type}); expected {expected}", archive=label, member=member)
    if header.machine != want:
        raise ArchiveError(f"{where} is an ELF for {header.machine_name}, expected {want_name} ({arch}) "
                           f"(member {member!r})", archive=label, member=member)
    if not header.is_64bit or not header.little_endian:
        raise ArchiveError(f"{where} is a 32-bit or big-endian ELF, expected a 64-bit "
                           f"little-endian {want_name} ({arch}) executable (member {member!r})",
                           archive=label, member=member)


def _check_names(names: Sequence[str], label: str) -> List[str]:
    wanted: List[str] = []
    for name in names:
        if (not name or "/" in name or name in (".", "..") or _text_problem(name)
                or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES):
            raise ArchiveError(f"{label}: invalid binary name {name!r}; expected a plain file name")
        if name not in wanted:
            wanted.append(name)
    if not wanted:
        raise ArchiveError(f"{label}: no binary requested; expected at least one binary name")
    return wanted


# --- Writing ----------------------------------------------------------------------------------


def _copy(src: IO[bytes], dst: IO[bytes], entry: _Entry, label: str) -> None:
    digest = hashlib.sha256()
    n = 0
    while True:
        chunk = src.read(_CHUNK)
        if not chunk:
            break
        n += len(chunk)
        if n > entry.length:
            break
        digest.update(chunk)
        dst.write(chunk)
    if n != entry.length or digest.hexdigest() != entry.digest:
        raise _member_error(label, entry.raw, "its bytes changed between validation and extraction",
                            "the archive to stay unchanged while it is read")


def extract_binaries(archive: Path, names: Sequence[str], out: Path, *, arch: Optional[str] = None,
                     display_name: Optional[str] = None,
                     limits: Limits = DEFAULT_LIMITS) -> Dict[str, Path]:
    """Write each of ``names``, found by basename in ``archive``, to ``out/<name>`` (mode 0755).

    The whole archive is validated before anything is written; on any error nothing this call
    wrote is left behind. ``arch`` (amd64, arm64) checks each binary's ELF machine.
    ``display_name`` replaces the archive's path in messages. Returns name -> written path.
    """
    archive = Path(archive)
    out = Path(out)
    label = display_name or str(archive)
    wanted = _check_names(names, label)
    if arch is not None and arch not in ELF_MACHINE:
        raise ArchiveError(f"{label}: unknown arch {arch!r}; expected one of {', '.join(ELF_MACHINE)}")
    fmt = _archive_format(archive, display_name, label)

    try:
        fp = open(archive, "rb")
    except OSError as e:
        raise ArchiveError(f"{label}: cannot read the archive ({e.strerror or e}); "
                           f"expected a readable {fmt.description}", archive=label) from None
    with fp:
        with _reading(label, fmt.description):
            _check_magic(fp, fmt, label)
        inventory = _SCANNERS[fmt.container](fp, fmt, label, limits, wanted)
        chosen = _choose(inventory, fmt, wanted, label)
        if arch is not None:
            for name, entry in chosen.items():
                _check_elf(entry.head, name, entry.raw, label, arch)

        # The archive is clean: now, and only now, write.
        fp.seek(0)
        by_index = {entry.index: (name, entry) for name, entry in chosen.items()}
        temporary: Dict[str, Path] = {}
        written: List[Path] = []
        try:
            try:
                out.mkdir(parents=True, exist_ok=True)
                with _reading(label, fmt.description, os_errors=False):
                    payloads = _PAYLOADS[fmt.container](fp, fmt, label, limits, set(by_index))
                    for index, data in payloads:
                        name, entry = by_index[index]
                        handle, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=str(out))
                        temporary[name] = Path(tmp)
                        with os.fdopen(handle, "wb") as dst:
                            _copy(data, dst, entry, label)
                        os.chmod(tmp, 0o755)
                for name in wanted:
                    if name not in temporary:
                        raise _member_error(label, chosen[name].raw,
                                            "disappeared between validation and extraction",
                                            "the archive to stay unchanged while it is read")
                for name in wanted:
                    final = out / name
                    os.replace(temporary[name], final)
                    del temporary[name]
                    written.append(final)
            except OSError as e:
                raise ArchiveError(f"{label}: cannot write the binaries to {out} "
                                   f"({e.strerror or e}); expected a writable directory") from None
        except BaseException:
            for path in list(temporary.values()) + written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
    return {name: out / name for name in wanted}
