"""The resource limits of one extraction, and the error that reports a refused archive.

Vocabulary of the archive modules (``archive`` is the public API):

* **member**: one entry of an archive (a file, a directory, a link...), named by its path as
  stored (``raw``); **label**: how messages name the archive (its path or a display name);
* **limits** (:class:`Limits`): how many members, how many bytes per member and in total, how
  much expansion per compressed byte, how many header bytes an archive may cost;
* :class:`ArchiveError`: every refusal, one line naming the archive, the member, the problem
  and what was expected instead.

See docs/security.md ("Hostile upstream archives") for why the limits are what they are.
"""

from __future__ import annotations

import contextlib
import lzma
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import Iterator, Optional, Protocol

from hub.common.errors import HubError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

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

CHUNK = 64 * KiB  # bytes read at a time


class Readable(Protocol):
    """A member's bytes as the readers take them: a forward ``read`` (a file, or a Stream)."""

    def read(self, size: int, /) -> bytes: ...


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


def printable(text: str) -> str:
    """One line of text, whatever an archive put in its names."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def member_error(label: str, member: str, problem: str, expected: str) -> ArchiveError:
    return ArchiveError(f"{label}: member {member!r}: {problem}; expected {expected}", archive=label, member=member)


@contextlib.contextmanager
def reading(label: str, expected: str, os_errors: bool = True) -> Iterator[None]:
    """Turn the stdlib's errors about bad archive bytes into one clear ArchiveError."""
    try:
        yield
    except ArchiveError:
        raise
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        lzma.LZMAError,
        EOFError,
        struct.error,
        ValueError,  # UnicodeDecodeError too
        RuntimeError,  # NotImplementedError too (an unsupported compression method)
    ) as e:
        raise ArchiveError(
            f"{label}: corrupt or truncated archive ({printable(str(e))}); expected {expected}", archive=label
        ) from None
    except OSError as e:
        if not os_errors:
            raise
        raise ArchiveError(
            f"{label}: cannot read the archive ({e.strerror or e}); " f"expected {expected}", archive=label
        ) from None
