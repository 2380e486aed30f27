"""What an archive is, and its bytes as a bounded, counted stream.

* **format** (:class:`Format`): a **container** (``tar``, ``zip`` or ``single``: one
  compressed file) and a **compression** (``none``, ``gzip``, ``xz``, ``bzip2``), read from
  the archive's name and checked against its **magic** bytes: the content must match the name;
* **stream** (:class:`Stream`): the decompressed bytes of a file, read forward only, counting
  the compressed bytes consumed (for each member's compression ratio) and refusing to deliver
  more than a **cap**. Truncation and corruption become :class:`ArchiveError`.
"""

from __future__ import annotations

import bz2
import collections
import lzma
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Deque, Optional, Tuple, Union

from hub.upstream.archive_limits import CHUNK, KiB, ArchiveError, printable

if TYPE_CHECKING:
    # zlib's decompressor class has no public name (typeshed calls it zlib._Decompress).
    _Decompressor = Union[zlib._Decompress, lzma.LZMADecompressor, bz2.BZ2Decompressor]


@dataclass(frozen=True)
class Format:
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
    Format("tar", "gzip", ".tar.gz", "a gzip-compressed tar archive"),
    Format("tar", "gzip", ".tgz", "a gzip-compressed tar archive"),
    Format("tar", "xz", ".tar.xz", "an xz-compressed tar archive"),
    Format("tar", "xz", ".txz", "an xz-compressed tar archive"),
    Format("tar", "bzip2", ".tar.bz2", "a bzip2-compressed tar archive"),
    Format("tar", "bzip2", ".tbz2", "a bzip2-compressed tar archive"),
    Format("tar", "none", ".tar", "an uncompressed tar archive"),
    Format("zip", "none", ".zip", "a zip archive"),
    Format("single", "gzip", ".gz", "a single gzip-compressed file"),
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


def archive_format(archive: Path, display_name: Optional[str], label: str) -> Format:
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


def check_magic(fp: IO[bytes], fmt: Format, label: str) -> None:
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


class Stream:
    """A forward-only, file-like view of the decompressed bytes of ``fp``.

    It counts the compressed bytes consumed (for per-member compression ratios) and the bytes
    delivered, refuses to deliver more than ``cap`` bytes, turns truncation and corruption
    (gzip CRC and length checks included) into ArchiveError, and remembers where the last
    non-zero byte was and the last few KiB delivered (to check a tar's end-of-archive marker).
    """

    _RAW_CHUNK = 64 * KiB
    _FEED = 4 * KiB  # xz/bzip2 input chunk: the precision of their compressed-byte count
    _TAIL = 64 * KiB

    def __init__(self, fp: IO[bytes], compression: str, label: str, cap: int, meta_limit: Optional[int] = None):
        self._fp = fp
        self._compression = compression
        self._label = label
        self._cap = cap
        self._meta_limit = meta_limit
        self._d: Optional[_Decompressor] = None
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
            parts: list[bytes] = []
            while True:
                part = self.read(CHUNK)
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
                problem = f"corrupt gzip data ({printable(text)})"
            raise self._corrupt(problem) from None
        except (lzma.LZMAError, OSError, EOFError, ValueError) as e:
            raise self._corrupt(f"corrupt {self._compression} data ({printable(str(e))})") from None
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

    def _new_decompressor(self) -> _Decompressor:
        if self._compression == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._compression == "xz":
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return bz2.BZ2Decompressor()

    def _next_stream(self) -> Optional[_Decompressor]:
        """Start the next compressed stream (its decompressor); None at a clean end (only zero padding left)."""
        magic = _STREAM_MAGIC[self._compression]
        while len(self._pending) < len(magic):
            more = self._read_raw(self._RAW_CHUNK)
            if not more:
                break
            self._pending += more
        if self._pending.startswith(magic):
            self._d = self._new_decompressor()
            self._streams += 1
            return self._d
        if self._streams == 0:
            raise self._corrupt(f"not {self._compression} data")
        while True:  # after the last stream, only zero padding may follow
            if self._pending.strip(b"\0"):
                raise self._corrupt(f"unexpected data after the end of the {self._compression} stream")
            self._pending = b""
            self._pending = self._read_raw(self._RAW_CHUNK)
            if not self._pending:
                return None

    def _read_some(self, n: int) -> bytes:
        if self._compression == "none":
            if self._eof:
                return b""
            data = self._read_raw(n)
            self._eof = not data
            return data
        while not self._eof:
            d = self._d
            if d is None:
                d = self._next_stream()
                if d is None:
                    self._eof = True
                    break
            if isinstance(d, (lzma.LZMADecompressor, bz2.BZ2Decompressor)):
                feed = b""
                if d.needs_input:
                    if not self._pending:
                        self._pending = self._read_raw(self._RAW_CHUNK)
                    feed, self._pending = self._pending[: self._FEED], self._pending[self._FEED :]
                out = d.decompress(feed, n)
                if d.eof:
                    self._pending = d.unused_data + self._pending
            else:  # gzip (zlib)
                feed = self._pending or self._read_raw(self._RAW_CHUNK)
                out = d.decompress(feed, n)
                self._pending = d.unused_data if d.eof else d.unconsumed_tail
            if d.eof:
                self._d = None
            if out:
                return out
            if not feed and not d.eof:
                raise self._corrupt(f"truncated: the {self._compression} stream ends before its end marker")
        return b""
