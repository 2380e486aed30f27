"""The checks on each member of an archive, and the inventory they build.

* **path**: a member's name normalized to a relative path (``./a//b`` is ``a/b``); names that
  are absolute, climb out with ``..``, hold control or invisible characters, backslashes or
  bytes that are not UTF-8, or exceed Linux's limits are refused;
* **kind**: ``file``, ``dir``, ``symlink`` or ``hardlink``; every other type (devices, FIFOs,
  sockets, sparse or encrypted members) is refused by the container readers;
* **link**: a symbolic link must resolve inside the archive, through the archive's other links
  too; a hard link must name an earlier regular file of the archive;
* **entry** (:class:`Entry`): one accepted member; the **inventory** (:class:`Inventory`) holds
  them all, refuses a second entry for one path (a **duplicate**, compared in Unicode NFC) and
  paths under a link or a file, and enforces the size and ratio limits as member data streams.
  A **candidate** is a regular file whose basename is a requested binary: its sha256 and first
  bytes are kept.
"""

from __future__ import annotations

import hashlib
import re
import stat
import unicodedata
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from hub.common.printable import HIDDEN_OR_LINE_BREAKING, first_refused
from hub.upstream.archive_limits import (
    CHUNK,
    MAX_LINK_HOPS,
    MAX_LINK_TARGET,
    MAX_NAME_BYTES,
    MAX_PATH_BYTES,
    ArchiveError,
    Limits,
    Readable,
    member_error,
)

_HEAD = 512  # bytes kept from the start of each candidate binary (ELF header, tar magic)


_DRIVE = re.compile(r"^[A-Za-z]:")
# What hides or breaks a line (hub.common.printable), and Cs: lone surrogates, i.e. bytes that
# are not valid UTF-8 (tar names and link targets are decoded with surrogateescape).
_REFUSED_CATEGORIES = {**HIDDEN_OR_LINE_BREAKING, "Cs": "bytes that are not valid UTF-8"}


def text_problem(raw: str) -> Optional[str]:
    refused = first_refused(raw, _REFUSED_CATEGORIES)
    if refused:
        ch, what = refused
        return "contains a NUL byte" if ch == "\0" else f"contains {what}"
    if "\\" in raw:
        return "contains a backslash (a Windows separator that can hide '..' or an absolute path)"
    return None


def _check_path(raw: str) -> Tuple[str, Optional[str]]:
    """The normalized relative path of ``raw``, or a description of what is wrong with it."""
    if raw == "":
        return "", "is empty"
    problem = text_problem(raw)
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


KIND_NAMES = {
    "file": "a regular file",
    "dir": "a directory",
    "symlink": "a symbolic link",
    "hardlink": "a hard link",
}
_REFUSAL_EXPECTED = {"encrypted": "unencrypted members (upstream archives are never encrypted)"}
_SPECIAL_BITS = ((stat.S_ISUID, "setuid"), (stat.S_ISGID, "setgid"), (stat.S_ISVTX, "sticky"))


@dataclass
class Entry:
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


class Inventory:
    """Every member of one archive, validated as it is read."""

    def __init__(self, label: str, limits: Limits, wanted: Sequence[str]):
        self.label = label
        self.limits = limits
        self.wanted = set(wanted)
        self.entries: List[Entry] = []
        self._by_key: Dict[str, Entry] = {}
        self._count = 0
        self.total = 0
        self.newest_mtime = 0  # of every member seen, "./" included: the archive's source date

    def fail(self, raw: str, problem: str, expected: str) -> ArchiveError:
        return member_error(self.label, raw, problem, expected)

    def add(
        self,
        index: int,
        raw: str,
        kind: str,
        mode: int,
        size: Optional[int],
        link: Optional[str] = None,
        refused: Optional[str] = None,
        mtime: int = 0,
    ) -> Optional[Entry]:
        """Validate one member's header; ``refused`` describes a type that is never accepted.
        ``mtime`` is its modification time (UTC seconds)."""
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
            raise self.fail(
                raw,
                f"is {refused}",
                _REFUSAL_EXPECTED.get(
                    refused, "only regular files, directories and links that stay inside the archive"
                ),
            )
        bits = [name for bit, name in _SPECIAL_BITS if mode & bit]
        if bits:
            raise self.fail(
                raw,
                f"has the {'/'.join(bits)} bit set (mode {mode & 0o7777:04o})",
                "no setuid, setgid or sticky bits",
            )
        self.newest_mtime = max(self.newest_mtime, mtime)
        if not path:
            if kind == "dir":
                return None  # "./": the root itself
            raise self.fail(raw, "has an empty path", "a file name")
        if kind == "file" and size is not None:
            self.check_size(raw, size)
        key = unicodedata.normalize("NFC", path)
        previous = self._by_key.get(key)
        if previous is not None and not (previous.kind == "dir" and kind == "dir"):
            first = f", first stored as {previous.raw!r}" if previous.raw != raw else ""
            raise self.fail(
                raw, f"is a second entry for {path!r} (it would shadow the first{first})", "each path exactly once"
            )
        if link is not None:
            link_problem = self._link_problem(kind, link)
            if link_problem:
                raise self.fail(
                    raw,
                    f"is {KIND_NAMES[kind]} to {link!r}, which {link_problem}",
                    "links that stay inside the archive",
                )
        entry = Entry(index=index, path=path, raw=raw, kind=kind, size=size, link=link)
        self.entries.append(entry)
        self._by_key.setdefault(key, entry)
        return entry

    def check_size(self, raw: str, size: int) -> None:
        """Refuses a member whose header claims more than a member may hold."""
        limits = self.limits
        if size > limits.max_member_size:
            raise self.fail(
                raw,
                f"is {size} bytes, over the per-member limit of " f"{limits.max_member_size} bytes",
                f"at most {limits.max_member_size} bytes per member",
            )

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
        problem = text_problem(link)
        if problem:
            return problem
        if link.startswith("/"):
            return "points outside the archive (absolute target)"
        return None  # resolved against the other links in finish()

    def consume(
        self, entry: Entry, fp: Readable, compressed: Optional[Callable[[], int]], candidate: Optional[bool] = None
    ) -> None:
        """Read one member's data, enforcing the limits on the bytes as they stream."""
        limits = self.limits
        if candidate is None:
            candidate = entry.kind == "file" and entry.basename in self.wanted
        digest = hashlib.sha256() if candidate else None
        head = bytearray()
        n = 0
        while True:
            chunk = fp.read(CHUNK)
            if not chunk:
                break
            n += len(chunk)
            if n > limits.max_member_size:
                raise self.fail(
                    entry.raw,
                    f"expands to more than {limits.max_member_size} bytes",
                    f"at most {limits.max_member_size} bytes per member",
                )
            if self.total + n > limits.max_total_size:
                raise self.fail(
                    entry.raw,
                    f"brings the archive's content over " f"{limits.max_total_size} bytes",
                    f"at most {limits.max_total_size} bytes in total",
                )
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
            raise self.fail(
                entry.raw,
                f"holds {n} bytes but its header says {entry.size}",
                "an intact archive (truncated or corrupt?)",
            )
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
                        entry.raw,
                        f"lies under {parent.raw!r}, which is {KIND_NAMES[parent.kind]}",
                        "paths under directories only (nothing is written through a link)",
                    )
        links = {e.path: e.link for e in self.entries if e.kind == "symlink" and e.link is not None}
        for entry in self.entries:
            if entry.kind == "symlink" and entry.link is not None:
                problem = _symlink_problem(entry.path, entry.link, links)
                if problem:
                    raise self.fail(
                        entry.raw,
                        f"is a symbolic link to {entry.link!r}, which {problem}",
                        "links that stay inside the archive",
                    )
