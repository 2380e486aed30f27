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

This module chooses, checks and writes the binaries. The rest lives beside it:
``archive_limits`` (the limits and :class:`ArchiveError`, re-exported here),
``archive_formats`` (format detection and the bounded decompression stream),
``archive_members`` (the checks on each member and the inventory) and ``archive_containers``
(the two passes over tar, zip and single-file archives).

See docs/security.md ("Hostile upstream archives") for the rules and why the limits are what
they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Dict, Iterator, List, Optional, Sequence, Tuple

from hub.common import elf
from hub.common.matrix import ELF_MACHINE
from hub.upstream.archive_containers import PAYLOADS, SCANNERS
from hub.upstream.archive_formats import Format, archive_format, check_magic
from hub.upstream.archive_limits import (
    CHUNK,
    DEFAULT_LIMITS,
    MAX_MEMBER_SIZE,
    MAX_MEMBERS,
    MAX_METADATA,
    MAX_NAME_BYTES,
    MAX_RATIO,
    MAX_TOTAL_SIZE,
    RATIO_MIN_SIZE,
    ArchiveError,
    Limits,
    Readable,
    member_error,
    reading,
)
from hub.upstream.archive_members import KIND_NAMES, Entry, Inventory, text_problem

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
    "scan_archive",
]


# --- Choosing and checking binaries -----------------------------------------------------------


def _choose(inventory: Inventory, fmt: Format, wanted: Sequence[str], label: str) -> Dict[str, Entry]:
    if fmt.container == "single":
        return {wanted[0]: inventory.entries[0]}
    chosen: Dict[str, Entry] = {}
    for name in wanted:
        matches = [e for e in inventory.entries if e.kind != "dir" and e.basename == name]
        if not matches:
            files = sorted({e.basename for e in inventory.entries if e.kind == "file"})
            found = ", ".join(files[:10]) if files else "none"
            if len(files) > 10:
                found += f" and {len(files) - 10} more"
            raise ArchiveError(
                f"{label}: no member named {name!r}; expected exactly one regular "
                f"file with that name (regular files found: {found})",
                archive=label,
            )
        if len(matches) > 1:
            paths = ", ".join(repr(e.raw) for e in matches[:10])
            raise ArchiveError(
                f"{label}: binary {name!r} is ambiguous: {len(matches)} members "
                f"have that name ({paths}); expected exactly one",
                archive=label,
            )
        entry = matches[0]
        if entry.kind != "file":
            raise member_error(
                label,
                entry.raw,
                f"the binary {name!r} is {KIND_NAMES[entry.kind]} to {entry.link!r}",
                "a regular file (links are never followed)",
            )
        chosen[name] = entry
    return chosen


def _check_elf(head: bytes, name: str, member: str, label: str, arch: str) -> None:
    want = ELF_MACHINE[arch]
    want_name = elf.machine_name(want)
    expected = f"an ELF executable for {want_name} ({arch})"
    where = f"{name} in {label}"
    header = elf.read_header(head)
    if header is None:
        raise ArchiveError(
            f"{where} is not an ELF executable (member {member!r} starts with " f"{head[:4]!r}); expected {expected}",
            archive=label,
            member=member,
        )
    if not header.is_executable:
        raise ArchiveError(
            f"{where} is not an ELF executable (member {member!r} has ELF type " f"{header.type}); expected {expected}",
            archive=label,
            member=member,
        )
    if header.machine != want:
        raise ArchiveError(
            f"{where} is an ELF for {header.machine_name}, expected {want_name} ({arch}) " f"(member {member!r})",
            archive=label,
            member=member,
        )
    if not header.is_64bit or not header.little_endian:
        raise ArchiveError(
            f"{where} is a 32-bit or big-endian ELF, expected a 64-bit "
            f"little-endian {want_name} ({arch}) executable (member {member!r})",
            archive=label,
            member=member,
        )


def _check_names(names: Sequence[str], label: str) -> List[str]:
    wanted: List[str] = []
    for name in names:
        if (
            not name
            or "/" in name
            or name in (".", "..")
            or text_problem(name)
            or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES
        ):
            raise ArchiveError(f"{label}: invalid binary name {name!r}; expected a plain file name")
        if name not in wanted:
            wanted.append(name)
    if not wanted:
        raise ArchiveError(f"{label}: no binary requested; expected at least one binary name")
    return wanted


# --- Writing ----------------------------------------------------------------------------------


def _copy(src: Readable, dst: IO[bytes], entry: Entry, label: str) -> None:
    digest = hashlib.sha256()
    n = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            break
        n += len(chunk)
        if n > entry.length:
            break
        digest.update(chunk)
        dst.write(chunk)
    if n != entry.length or digest.hexdigest() != entry.digest:
        raise member_error(
            label,
            entry.raw,
            "its bytes changed between validation and extraction",
            "the archive to stay unchanged while it is read",
        )


@contextlib.contextmanager
def _open_archive(archive: Path, display_name: Optional[str], label: str) -> Iterator[Tuple[IO[bytes], Format]]:
    """The archive open for reading, and its format (from the name, checked against the magic)."""
    fmt = archive_format(archive, display_name, label)
    try:
        fp = open(archive, "rb")
    except OSError as e:
        raise ArchiveError(
            f"{label}: cannot read the archive ({e.strerror or e}); " f"expected a readable {fmt.description}",
            archive=label,
        ) from None
    with fp:
        with reading(label, fmt.description):
            check_magic(fp, fmt, label)
        yield fp, fmt


def scan_archive(archive: Path, *, display_name: Optional[str] = None, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """Reads the whole archive under the limits of an extraction, and checks every member as
    :func:`extract_binaries` does, without writing anything. The inventory lists the members
    and the newest modification time (``newest_mtime``). Every other read of an upstream
    archive goes through here (the source date of ``update-lock``)."""
    archive = Path(archive)
    label = display_name or str(archive)
    with _open_archive(archive, display_name, label) as (fp, fmt):
        return SCANNERS[fmt.container](fp, fmt, label, limits, ())


def extract_binaries(
    archive: Path,
    names: Sequence[str],
    out: Path,
    *,
    arch: Optional[str] = None,
    display_name: Optional[str] = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Dict[str, Path]:
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
    with _open_archive(archive, display_name, label) as (fp, fmt):
        inventory = SCANNERS[fmt.container](fp, fmt, label, limits, wanted)
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
                with reading(label, fmt.description, os_errors=False):
                    payloads = PAYLOADS[fmt.container](fp, fmt, label, limits, set(by_index))
                    for index, data in payloads:
                        name, entry = by_index[index]
                        handle, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=str(out))
                        temporary[name] = Path(tmp)
                        with os.fdopen(handle, "wb") as dst:
                            _copy(data, dst, entry, label)
                        os.chmod(tmp, 0o755)
                for name in wanted:
                    if name not in temporary:
                        raise member_error(
                            label,
                            chosen[name].raw,
                            "disappeared between validation and extraction",
                            "the archive to stay unchanged while it is read",
                        )
                for name in wanted:
                    final = out / name
                    os.replace(temporary[name], final)
                    del temporary[name]
                    written.append(final)
            except OSError as e:
                raise ArchiveError(
                    f"{label}: cannot write the binaries to {out} "
                    f"({e.strerror or e}); expected a writable directory"
                ) from None
        except BaseException:
            for path in list(temporary.values()) + written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
    return {name: out / name for name in wanted}
