"""Reading each container twice: a **scan** that validates every member, then the **payloads**.

The scan (``SCANNERS[container]``) reads the whole archive as a stream into an
:class:`~hub.upstream.archive_members.Inventory`, refusing what the container itself can be
wrong about: tar entry types, the end-of-archive marker and what follows it, zip entries that
share compressed bytes, encrypted zip members, a single ``.gz`` that holds a tar. Only when the
scan is clean are the **payloads** (``PAYLOADS[container]``) read again: the data of the chosen
members, by their index in the archive, which is the same in both passes.
"""

from __future__ import annotations

import calendar
import stat
import struct
import tarfile
import zipfile
from typing import IO, Callable, Iterator, Optional, Sequence, Set, Tuple, cast

from hub.upstream.archive_formats import Format, Stream
from hub.upstream.archive_limits import (
    CHUNK,
    MAX_LINK_TARGET,
    ArchiveError,
    KiB,
    Limits,
    Readable,
    member_error,
    printable,
    reading,
)
from hub.upstream.archive_members import Entry, Inventory


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


def _open_tar(stream: Stream, fmt: Format, label: str) -> tarfile.TarFile:
    try:
        # A stream ("r|") is only ever read forward: a Stream is enough, although typeshed asks
        # every reading mode for a whole IO[bytes].
        fileobj = cast(IO[bytes], stream)
        return tarfile.open(fileobj=fileobj, mode="r|", encoding="utf-8", errors="surrogateescape")
    except tarfile.ReadError as e:
        raise ArchiveError(
            f"{label}: not a tar archive inside ({printable(str(e))}); " f"expected {fmt.description}", archive=label
        ) from None


def _member_ratio(stream: Stream, fmt: Format) -> Optional[Callable[[], int]]:
    """Compressed bytes used by the member starting now (None for an uncompressed tar)."""
    if fmt.compression == "none":
        return None
    start = stream.compressed
    return lambda: stream.compressed - start + stream.slack


def _scan_tar(fp: IO[bytes], fmt: Format, label: str, limits: Limits, wanted: Sequence[str]) -> Inventory:
    inventory = Inventory(label, limits, wanted)
    stream = Stream(fp, fmt.compression, label, _tar_cap(limits), meta_limit=limits.max_metadata)
    with reading(label, fmt.description):
        tar = _open_tar(stream, fmt, label)
        index = 0
        while True:
            member = tar.next()
            if member is None:
                break
            kind, refused = _tar_kind(member)
            link = member.linkname if kind in ("symlink", "hardlink") else None
            entry = inventory.add(
                index,
                member.name,
                kind,
                member.mode & 0o7777,
                member.size if kind == "file" else None,
                link,
                refused,
                mtime=int(member.mtime),
            )
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
        while stream.read(CHUNK):  # drain: checks the compressed stream's CRC and trailer
            pass
    if stream.pos < end + 512 or (block is not None and len(block) < 512):
        # EmptyHeaderError / TruncatedHeaderError inside tarfile: the data just stops.
        raise ArchiveError(
            f"{label}: the tar data stops at byte {stream.pos} without an "
            f"end-of-archive marker; expected an intact archive (truncated?)"
        )
    if block is not None and block.strip(b"\0"):
        raise ArchiveError(
            f"{label}: corrupt tar header at byte {end}; expected a valid header " f"or the end-of-archive marker"
        )
    if stream.nonzero_end > end:
        raise ArchiveError(
            f"{label}: data after the end-of-archive marker at byte {end}; " f"expected only zero padding"
        )
    inventory.finish()
    return inventory


def _tar_payloads(
    fp: IO[bytes], fmt: Format, label: str, limits: Limits, indexes: Set[int]
) -> Iterator[Tuple[int, Readable]]:
    stream = Stream(fp, fmt.compression, label, _tar_cap(limits))
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
                raise ArchiveError(
                    f"{label}: member {member.name!r} changed between validation "
                    f"and extraction; expected the archive to stay unchanged"
                )
            yield index, data
        index += 1


def read_tar_stream(
    fp: IO[bytes], label: str, limits: Limits, keep: Callable[[tarfile.TarInfo], bool]
) -> Iterator[Tuple[tarfile.TarInfo, Optional[bytes]]]:
    """Every member of an uncompressed tar stream (a pipe: ``dpkg-deb --fsys-tarfile``), read
    forward under the limits of an extraction: members, header bytes (pax records), bytes per
    member and in total. Yields each member with its data if ``keep(member)`` says so (a
    regular file), else None. Unlike the scan, it does not judge names or links: a Debian
    package's paths are absolute by design and its links may point anywhere."""
    stream = Stream(fp, "none", label, _tar_cap(limits), meta_limit=limits.max_metadata)
    inventory = Inventory(label, limits, ())
    with reading(label, "a tar archive"):
        tar = _open_tar(stream, Format("tar", "none", ".tar", "a tar archive"), label)
        count = 0
        while True:
            member = tar.next()
            if member is None:
                return
            count += 1
            if count > limits.max_members:
                raise ArchiveError(
                    f"{label}: more than {limits.max_members} members; expected at most {limits.max_members}"
                )
            data = None
            if member.isreg():
                inventory.check_size(member.name, member.size)
                entry = Entry(index=count - 1, path=member.name, raw=member.name, kind="file", size=member.size)
                body = tar.extractfile(member)
                assert body is not None
                stream.data_mode = True
                if keep(member):
                    kept = _Keep(body)
                    inventory.consume(entry, kept, None)
                    data = b"".join(kept.parts)
                else:
                    inventory.consume(entry, body, None)
            stream.data_mode = False
            stream.meta = 0
            yield member, data


class _Keep:
    """A member's data as Inventory.consume reads it (under the limits), kept."""

    def __init__(self, fp: Readable):
        self._fp = fp
        self.parts: list[bytes] = []

    def read(self, size: int, /) -> bytes:
        part = self._fp.read(size)
        self.parts.append(part)
        return part


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


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    """The UTC mtime from the extended-timestamp extra field, else the DOS time read as UTC."""
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        header_id, length = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + length]
        if header_id == 0x5455 and len(body) >= 5 and body[0] & 1:
            return int(struct.unpack("<I", body[1:5])[0])
        i += 4 + length
    return calendar.timegm((*info.date_time, 0, 0, 0))


def _zip_member_ratio(info: zipfile.ZipInfo) -> Callable[[], int]:
    """Compressed bytes used by a zip member: its header says."""
    return lambda: info.compress_size


def _scan_zip(fp: IO[bytes], fmt: Format, label: str, limits: Limits, wanted: Sequence[str]) -> Inventory:
    inventory = Inventory(label, limits, wanted)
    with reading(label, fmt.description), zipfile.ZipFile(fp) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveError(
                f"{label}: {len(infos)} members; expected at most "
                f"{limits.max_members} (a release archive holds a handful of files)"
            )
        # Entries that share compressed bytes are the core of the best-known zip bombs.
        spans = sorted(infos, key=lambda i: i.header_offset)
        for a, b in zip(spans, spans[1:]):
            if b.header_offset < a.header_offset + 30 + a.compress_size:
                raise member_error(
                    label,
                    b.filename,
                    f"its data overlaps member {a.filename!r}",
                    "members that do not share bytes (a zip bomb technique)",
                )
        for index, info in enumerate(infos):
            kind, mode, refused = _zip_kind(info)
            link = None
            if kind == "symlink" and not refused:
                if info.file_size > MAX_LINK_TARGET:
                    raise member_error(
                        label,
                        info.filename,
                        "is a symbolic link with a target " f"longer than {MAX_LINK_TARGET} bytes",
                        "a short target",
                    )
                with archive.open(info) as data:
                    raw_target = data.read(MAX_LINK_TARGET + 1)
                link = raw_target.decode("utf-8", "surrogateescape")
            entry = inventory.add(
                index,
                info.filename,
                kind,
                mode,
                info.file_size if kind == "file" else None,
                link,
                refused,
                mtime=_zip_mtime(info),
            )
            if entry is not None and kind == "file":
                with archive.open(info) as data:
                    inventory.consume(entry, data, _zip_member_ratio(info))
    inventory.finish()
    return inventory


def _zip_payloads(
    fp: IO[bytes], fmt: Format, label: str, limits: Limits, indexes: Set[int]
) -> Iterator[Tuple[int, Readable]]:
    with zipfile.ZipFile(fp) as archive:
        infos = archive.infolist()
        for index in sorted(indexes):
            with archive.open(infos[index]) as data:
                yield index, data


# --- single .gz -------------------------------------------------------------------------------


def _single_name(fmt: Format, label: str) -> str:
    name = label.rstrip("/").rsplit("/", 1)[-1]
    return name[: -len(fmt.suffix)] if name.lower().endswith(fmt.suffix) else name


def _scan_single(fp: IO[bytes], fmt: Format, label: str, limits: Limits, wanted: Sequence[str]) -> Inventory:
    if len(wanted) > 1:
        raise ArchiveError(
            f"{label}: {fmt.description} holds exactly one file, but "
            f"{len(wanted)} binaries were requested ({', '.join(wanted)}); "
            f"expected one binary"
        )
    inventory = Inventory(label, limits, wanted)
    name = _single_name(fmt, label)
    entry = Entry(index=0, path=name, raw=name, kind="file", size=None)
    inventory.entries.append(entry)
    header = fp.read(10)  # the gzip header's MTIME is the file's date (check_magic made it gzip)
    fp.seek(0)
    if len(header) == 10:
        inventory.newest_mtime = int(struct.unpack("<I", header[4:8])[0])
    stream = Stream(fp, fmt.compression, label, limits.max_member_size + 2 * CHUNK)
    with reading(label, fmt.description):
        inventory.consume(entry, stream, lambda: stream.compressed + stream.slack, candidate=True)
    if entry.head[257:262] == b"ustar":
        raise member_error(
            label,
            name,
            "holds a tar archive, not a single file",
            "a single compressed binary (a compressed tar is named .tar.gz)",
        )
    return inventory


def _single_payloads(
    fp: IO[bytes], fmt: Format, label: str, limits: Limits, indexes: Set[int]
) -> Iterator[Tuple[int, Readable]]:
    yield 0, Stream(fp, fmt.compression, label, limits.max_member_size + 2 * CHUNK)


SCANNERS = {"tar": _scan_tar, "zip": _scan_zip, "single": _scan_single}
PAYLOADS = {"tar": _tar_payloads, "zip": _zip_payloads, "single": _single_payloads}
