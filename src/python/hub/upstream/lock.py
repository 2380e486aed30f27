"""Pinned upstream archives: the lock file, verified downloads, the mirror rewrite, source dates.

``exporters/<name>/upstream.lock.json`` (see docs/contracts.md and
``schemas/upstream-lock.schema.json``) pins, per arch, the canonical upstream URL, the sha256
and the size of the release archive, plus ``source_date``: the newest member mtime inside the
archives, used as SOURCE_DATE_EPOCH so every artifact's timestamps come from its inputs.

``read_lock`` returns ``None`` when the upstream is not pinned: no lock file, or a lock whose
``archives`` is empty. A lock that exists but is malformed raises :class:`LockError`.
Validation here needs no jsonschema (the patterns are read from the shipped schema), so it
also runs in Pants' own interpreter.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import http.client
import json
import os
import re
import struct
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from hub import __version__
from hub.common import matrix
from hub.common import files, schemas
from hub.common.errors import FieldError, HubError
from hub.manifest.load import field_path
from hub.manifest.model import GITHUB_PREFIX, Manifest
from hub.common.errors import LocatedError
from hub.common.dates import format_source_date, parse_source_date

LOCK_FILE = "upstream.lock.json"
LOCK_VERSION = 1
DEFAULT_MAX_SIZE = 1 << 30  # 1 GiB: the largest exporter release is ~120 MB
DEFAULT_TIMEOUT = 60.0  # seconds without progress
CHUNK_SIZE = 1 << 20
MIRROR_ENV = "PANTS_HUB_UPSTREAM_MIRROR"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

__all__ = [
    "Downloaded",
    "Lock",
    "LockError",
    "LockedArchive",
    "check_lock",
    "download",
    "lock_path_for",
    "mirror_url",
    "parse_lock",
    "read_lock",
    "source_date_of",
    "update_lock",
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
                arch: {"url": a.url, "sha256": a.sha256, "size": a.size}
                for arch, a in sorted(self.archives.items())
            },
        }


@dataclass(frozen=True)
class Downloaded:
    sha256: str
    size: int


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


def _string(obj: dict[str, Any], key: str, where: list[Any], pattern: str, expected: str, errors: list[FieldError]) -> None:
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
                    errors.append(FieldError(field_path([*where, "size"]), f"expected an integer, got {_describe(size)}"))
                elif size < 0:
                    errors.append(FieldError(field_path([*where, "size"]), f"expected a size in bytes (>= 0), got {size}"))
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
            FieldError("version", f"stale: the lock pins {lock.version!r}, the manifest is at {manifest.version!r}; run update-lock")
        )
    for arch in manifest.build.archs:
        pinned = lock.archives.get(arch)
        expected = manifest.local_archive(arch) if manifest.is_local else manifest.archive_url(arch)
        if pinned is None:
            errors.append(FieldError(f"archives.{arch}", "not pinned; run update-lock"))
        elif pinned.url != expected:
            errors.append(FieldError(f"archives.{arch}.url", f"expected {expected}, got {pinned.url}; run update-lock"))
    return errors


# --------------------------------------------------------------------------------------------
# Mirror and downloads
# --------------------------------------------------------------------------------------------


def mirror_url(url: str, mirror: str | None) -> str:
    """Replaces the ``https://github.com/`` prefix of ``url`` with ``mirror``, keeping the path.

    ``mirror`` may end with '/' or not. A mirror without a scheme is a local directory (turned
    into a file:// URL). URLs that are not on GitHub, or an empty mirror, are left unchanged.
    """
    if not mirror or not url.startswith(GITHUB_PREFIX):
        return url
    base = mirror if "://" in mirror else Path(os.path.abspath(mirror)).as_uri()
    if not base.endswith("/"):
        base += "/"
    return base + url[len(GITHUB_PREFIX):]


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    timeout: float = DEFAULT_TIMEOUT,
) -> Downloaded:
    """Streams ``url`` to ``dest`` (through a temporary file, then rename) and verifies it.

    On any failure, including a sha256 or size mismatch, HubError is raised and nothing is left
    behind (an existing ``dest`` is untouched).
    """
    dest = os.fspath(dest)
    directory = os.path.dirname(os.path.abspath(dest))
    limit = min(max_size, expected_size) if expected_size is not None else max_size
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".part", dir=directory)
    except OSError as e:
        raise HubError(f"cannot write {dest}: {e.strerror or e}") from None
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": f"monitoring-hub/{__version__}"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    length = response.headers.get("Content-Length")
                    if length is not None and length.strip().isdigit():
                        _check_size(url, int(length), expected_size, max_size)
                    while True:
                        chunk = response.read(CHUNK_SIZE)
                        if not chunk:
                            break
                        size += len(chunk)
                        if size > limit:
                            _check_size(url, size, expected_size, max_size, at_least=True)
                        digest.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as e:
                raise HubError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
            except urllib.error.URLError as e:
                raise HubError(f"cannot download {url}: {e.reason}") from None
            except (OSError, http.client.HTTPException) as e:
                raise HubError(f"cannot download {url}: {e or type(e).__name__}") from None
            out.flush()
            os.fsync(out.fileno())
        _check_size(url, size, expected_size, max_size)
        actual = digest.hexdigest()
        if expected_sha256 is not None and actual != expected_sha256.lower():
            raise HubError(f"sha256 mismatch for {url}: expected {expected_sha256.lower()}, got {actual}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Downloaded(actual, size)


def _check_size(url: str, size: int, expected: int | None, max_size: int, *, at_least: bool = False) -> None:
    got = f"at least {size}" if at_least else f"{size}"
    if expected is not None and size != expected:
        raise HubError(f"size mismatch for {url}: expected {expected} bytes, got {got}")
    if size > max_size:
        raise HubError(f"{url} is larger than the limit of {max_size} bytes (got {got})")


def sha256_file(path: str) -> Downloaded:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            digest.update(chunk)
            size += len(chunk)
    return Downloaded(digest.hexdigest(), size)


# --------------------------------------------------------------------------------------------
# Source dates
# --------------------------------------------------------------------------------------------


def source_date_of(archive_path: str | os.PathLike[str]) -> int:
    """The newest member mtime of a .tar.gz/.tgz/.zip, or the gzip header mtime of a .gz (UTC s)."""
    path = os.fspath(archive_path)
    name = os.path.basename(path).lower()
    try:
        if name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as tar:
                newest = max((int(m.mtime) for m in tar), default=0)
        elif name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                newest = max((_zip_mtime(info) for info in zf.infolist()), default=0)
        elif name.endswith(".gz"):
            with open(path, "rb") as f:
                header = f.read(10)
            if len(header) < 10 or header[:2] != b"\x1f\x8b":
                raise HubError(f"{path}: not a gzip file")
            newest = struct.unpack("<I", header[4:8])[0]
        else:
            raise HubError(f"{path}: unknown archive type (expected .tar.gz, .tgz, .zip or .gz)")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as e:
        raise HubError(f"{path}: cannot read the archive: {e}") from None
    if newest <= 0:
        raise HubError(f"{path}: the archive records no modification time, so it gives no source date")
    return newest


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    """The UTC mtime from the extended-timestamp extra field, else the DOS time read as UTC."""
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        header_id, length = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + length]
        if header_id == 0x5455 and len(body) >= 5 and body[0] & 1:
            return struct.unpack("<I", body[1:5])[0]
        i += 4 + length
    return calendar.timegm((*info.date_time, 0, 0, 0))


# --------------------------------------------------------------------------------------------
# update-lock
# --------------------------------------------------------------------------------------------


def update_lock(manifest: Manifest, lock_path: str | os.PathLike[str], *, mirror: str | None = None, force: bool = False) -> Lock:
    """Pins every arch's archive of ``manifest`` and writes the lock (the URLs stay canonical).

    Downloads go through ``mirror`` (see mirror_url). A lock that already pins this version and
    these URLs is returned unchanged without any download, unless ``force``.
    """
    lock_path = os.fspath(lock_path)
    try:
        existing = read_lock(lock_path)
    except LockError:
        existing = None  # a broken lock is replaced
    if not force and existing is not None and not check_lock(manifest, existing) and set(existing.archives) == set(manifest.build.archs):
        return existing
    archives: dict[str, LockedArchive] = {}
    dates = []
    with tempfile.TemporaryDirectory(prefix="hub-update-lock-") as tmp:
        for arch in manifest.build.archs:
            if manifest.is_local:
                url = manifest.local_archive(arch)
                path = os.path.join(manifest.directory, url)
                try:
                    got = sha256_file(path)
                except OSError as e:
                    raise HubError(f"{manifest.path}: upstream.local.{arch}: cannot read {url}: {e.strerror or e}") from None
            else:
                url = manifest.archive_url(arch)
                path = os.path.join(tmp, f"{arch}-{manifest.archive_name(arch)}")
                got = download(mirror_url(url, mirror), path)
            dates.append(source_date_of(path))
            archives[arch] = LockedArchive(url, got.sha256, got.size)
    lock = Lock(manifest.name, manifest.version, format_source_date(max(dates)), archives)
    write_lock(lock_path, lock)
    return lock
