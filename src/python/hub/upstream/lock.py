"""The upstream lock: ``exporters/<name>/upstream.lock.json``, its model, reading and writing.

The lock (see docs/contracts.md and ``schemas/upstream-lock.schema.json``) pins, per arch, the
canonical upstream URL, the sha256 and the size of the release archive, plus ``source_date``:
the newest member mtime inside the archives, used as SOURCE_DATE_EPOCH so every artifact's
timestamps come from its inputs. ``update-lock`` writes it (:mod:`hub.upstream.pin`).

``read_lock`` returns ``None`` when the upstream is not pinned: no lock file, or a lock whose
``archives`` is empty. A lock that exists but is malformed raises :class:`LockError`.
Validation here needs no jsonschema (the patterns are read from the shipped schema), so it
also runs in Pants' own interpreter.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from hub.common import files, matrix, schemas
from hub.common.dates import parse_source_date
from hub.common.errors import FieldError, HubError, LocatedError
from hub.common.schemas import field_path
from hub.manifest.model import Manifest

LOCK_FILE = "upstream.lock.json"
LOCK_VERSION = 1

__all__ = [
    "Lock",
    "LockError",
    "LockedArchive",
    "check_lock",
    "lock_path_for",
    "parse_lock",
    "read_lock",
    "write_lock",
]


class LockError(HubError):
    """A malformed lock file: every problem, each naming the file and the field."""

    def __init__(self, file: str, errors: Sequence[FieldError]):
        self.file = file
        self.errors = tuple(errors)
        super().__init__("\n".join(e.render(file) for e in self.errors))


@dataclass(frozen=True)
class LockedArchive:
    url: str  # canonical https://github.com/... URL (or, for a local upstream, a relative path)
    sha256: str  # lowercase hex
    size: int  # bytes


@dataclass(frozen=True)
class Lock:
    exporter: str
    version: str  # the manifest version the archives belong to
    source_date: str  # "2025-06-01T12:00:00Z"
    archives: Mapping[str, LockedArchive]  # arch -> archive, sorted by arch (read-only)
    lock_version: int = LOCK_VERSION

    @property
    def source_date_epoch(self) -> int:
        return parse_source_date(self.source_date)

    def to_json(self) -> dict[str, Any]:
        return {
            "lock_version": self.lock_version,
            "exporter": self.exporter,
            "version": self.version,
            "source_date": self.source_date,
            "archives": {
                arch: {"url": a.url, "sha256": a.sha256, "size": a.size} for arch, a in sorted(self.archives.items())
            },
        }


def lock_path_for(manifest_path: str | os.PathLike[str]) -> str:
    """exporters/<name>/manifest.yaml -> exporters/<name>/upstream.lock.json"""
    return os.path.join(os.path.dirname(os.fspath(manifest_path)), LOCK_FILE)


# --------------------------------------------------------------------------------------------
# Reading and writing the lock
# --------------------------------------------------------------------------------------------

_patterns: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    if not _patterns:
        schema = schemas.schema("upstream-lock")
        props = schema["properties"]
        archive = schema["$defs"]["archive"]["properties"]
        for key, sub in (
            ("exporter", props["exporter"]),
            ("version", props["version"]),
            ("source_date", props["source_date"]),
            ("url", archive["url"]),
            ("sha256", archive["sha256"]),
        ):
            _patterns[key] = re.compile(sub["pattern"])
    return _patterns[name]


def _matches(name: str, value: str) -> bool:
    # fullmatch: a Python '$' would also accept a trailing newline
    return _pattern(name).fullmatch(value) is not None


def _describe(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean {'true' if v else 'false'}"
    if isinstance(v, (int, float)):
        return f"{'integer' if isinstance(v, int) else 'number'} {v!r}"
    if isinstance(v, str):
        return f"string {v[:80]!r}"
    return "a list" if isinstance(v, list) else "a mapping"


def _keys(obj: dict[str, Any], where: list[Any], allowed: Sequence[str], errors: list[FieldError]) -> None:
    for key in obj:
        if key not in allowed:
            errors.append(
                FieldError(field_path(where), f"unknown field {key!r} (expected one of: {', '.join(sorted(allowed))})")
            )
    for key in allowed:
        if key not in obj:
            errors.append(FieldError(field_path([*where, key]), "required field is missing"))


def _string(
    obj: dict[str, Any], key: str, where: list[Any], pattern: str, expected: str, errors: list[FieldError]
) -> None:
    if key not in obj:
        return
    value = obj[key]
    path = field_path([*where, key])
    if not isinstance(value, str):
        errors.append(FieldError(path, f"expected a string, got {_describe(value)}"))
    elif not _matches(pattern, value):
        errors.append(FieldError(path, f"expected {expected}, got {value[:80]!r}"))


def parse_lock(text: str, file: str = LOCK_FILE) -> Lock | None:
    """Parses and validates a lock's JSON text; None when it pins nothing (empty archives)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LockError(file, [LocatedError("", f"invalid JSON: {e.msg}", e.lineno, e.colno)])
    errors: list[FieldError] = []
    if not isinstance(data, dict):
        raise LockError(file, [FieldError("", f"expected a mapping, got {_describe(data)}")])
    _keys(data, [], ("archives", "exporter", "lock_version", "source_date", "version"), errors)
    if "lock_version" in data:
        v = data["lock_version"]
        if not isinstance(v, int) or isinstance(v, bool):
            errors.append(FieldError("lock_version", f"expected an integer, got {_describe(v)}"))
        elif v != LOCK_VERSION:
            errors.append(FieldError("lock_version", f"unsupported lock_version {v} (this hub reads {LOCK_VERSION})"))
    _string(data, "exporter", [], "exporter", "an exporter name", errors)
    _string(data, "version", [], "version", "a version like v1.2.3 or 1.2.3", errors)
    _string(data, "source_date", [], "source_date", "a UTC date like 2025-06-01T12:00:00Z", errors)
    if isinstance(data.get("source_date"), str) and _matches("source_date", data["source_date"]):
        try:
            parse_source_date(data["source_date"])
        except HubError:
            errors.append(FieldError("source_date", f"not a valid date: {data['source_date']!r}"))
    archives: dict[str, LockedArchive] = {}
    raw_archives = data.get("archives", {})
    if not isinstance(raw_archives, dict):
        errors.append(FieldError("archives", f"expected a mapping, got {_describe(raw_archives)}"))
    else:
        for arch, entry in raw_archives.items():
            where: list[Any] = ["archives", arch]
            if arch not in matrix.ARCHES:
                errors.append(
                    FieldError("archives", f"unknown field {arch!r} (expected one of: {', '.join(matrix.ARCHES)})")
                )
                continue
            if not isinstance(entry, dict):
                errors.append(FieldError(field_path(where), f"expected a mapping, got {_describe(entry)}"))
                continue
            before = len(errors)
            _keys(entry, where, ("sha256", "size", "url"), errors)
            _string(entry, "url", where, "url", "an https:// URL or a relative path", errors)
            _string(entry, "sha256", where, "sha256", "64 lowercase hex digits", errors)
            if "size" in entry:
                size = entry["size"]
                if not isinstance(size, int) or isinstance(size, bool):
                    errors.append(
                        FieldError(field_path([*where, "size"]), f"expected an integer, got {_describe(size)}")
                    )
                elif size < 0:
                    errors.append(
                        FieldError(field_path([*where, "size"]), f"expected a size in bytes (>= 0), got {size}")
                    )
            if len(errors) == before:
                archives[arch] = LockedArchive(entry["url"], entry["sha256"], entry["size"])
    if errors:
        raise LockError(file, errors)
    if not archives:
        return None
    return Lock(
        exporter=data["exporter"],
        version=data["version"],
        source_date=data["source_date"],
        archives=dict(sorted(archives.items())),
        lock_version=data["lock_version"],
    )


def read_lock(path: str | os.PathLike[str], *, display_path: str | None = None) -> Lock | None:
    """The lock, or None when the upstream is not pinned (no file, or empty ``archives``)."""
    path = os.fspath(path)
    shown = display_path or path
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LockError(shown, [FieldError("", f"cannot read the file: {e.strerror or e}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LockError(shown, [FieldError("", f"not UTF-8 text (byte {e.start})")])
    return parse_lock(text, shown)


def write_lock(path: str | os.PathLike[str], lock: Lock) -> None:
    """Writes atomically (temporary file in the same directory, fsync, rename): stable JSON."""
    text = json.dumps(lock.to_json(), indent=2, sort_keys=True) + "\n"
    files.write_atomic(path, text.encode("utf-8"), durable=True)


def check_lock(manifest: Manifest, lock: Lock | None) -> list[FieldError]:
    """Why ``lock`` does not pin what ``manifest`` builds (stale version, missing arch, other URL)."""
    if lock is None:
        return [FieldError("", "not pinned: run `./pants update-lock` on this exporter")]
    errors = []
    if lock.exporter != manifest.name:
        errors.append(FieldError("exporter", f"{lock.exporter!r} is not this manifest's exporter {manifest.name!r}"))
    if lock.version != manifest.version:
        errors.append(
            FieldError(
                "version",
                f"stale: the lock pins {lock.version!r}, the manifest is at {manifest.version!r}; run update-lock",
            )
        )
    for arch in manifest.build.archs:
        pinned = lock.archives.get(arch)
        expected = manifest.local_archive(arch) if manifest.is_local else manifest.archive_url(arch)
        if pinned is None:
            errors.append(FieldError(f"archives.{arch}", "not pinned; run update-lock"))
        elif pinned.url != expected:
            errors.append(FieldError(f"archives.{arch}.url", f"expected {expected}, got {pinned.url}; run update-lock"))
    return errors
