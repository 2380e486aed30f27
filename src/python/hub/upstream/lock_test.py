"""Tests for hub.upstream.lock: the lock model, reading and writing, errors, check_lock."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hub.common import schemas
from hub.manifest.load import load_manifest
from hub.upstream.lock import Lock, LockedArchive, LockError, check_lock, read_lock, write_lock
from testkit.releases import write_manifest

SHA_A = "a" * 64


def good_lock(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "lock_version": 1,
        "exporter": "foo",
        "version": "v1.2.3",
        "source_date": "2025-06-01T12:00:00Z",
        "archives": {
            "amd64": {
                "url": "https://github.com/acme/foo/releases/download/v1.2.3/foo-amd64.tar.gz",
                "sha256": SHA_A,
                "size": 10,
            },
            "arm64": {
                "url": "https://github.com/acme/foo/releases/download/v1.2.3/foo-arm64.tar.gz",
                "sha256": "b" * 64,
                "size": 0,
            },
        },
    }
    for key, value in changes.items():
        *parents, last = key.split("__")
        node = data
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


def test_write_then_read_lock(tmp_path: Path) -> None:
    lock = Lock(
        "foo",
        "v1.2.3",
        "2025-06-01T12:00:00Z",
        {
            "arm64": LockedArchive("https://github.com/x/y/z.tar.gz", "b" * 64, 2),
            "amd64": LockedArchive("https://github.com/x/y/w.tar.gz", SHA_A, 1),
        },
    )
    path = tmp_path / "upstream.lock.json"
    path.write_text("old")
    write_lock(path, lock)
    text = path.read_text()
    assert text.endswith("}\n") and json.loads(text) == lock.to_json()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert list(json.loads(text)) == ["archives", "exporter", "lock_version", "source_date", "version"]
    assert os.listdir(tmp_path) == ["upstream.lock.json"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    again = read_lock(path)
    assert again == lock and list(again.archives) == ["amd64", "arm64"]
    assert again.source_date_epoch == 1_748_779_200
    write_lock(path, again)
    assert path.read_text() == text  # stable bytes


def test_unpinned_lock_is_none(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "upstream.lock.json") is None
    (tmp_path / "upstream.lock.json").write_text(json.dumps(good_lock(archives={})))
    assert read_lock(tmp_path / "upstream.lock.json") is None


BAD_LOCKS = [
    pytest.param("{", ["L:1:2: invalid JSON: Expecting property name enclosed in double quotes"], id="json-syntax"),
    pytest.param("[]", ["L: expected a mapping, got a list"], id="not-a-mapping"),
    pytest.param(
        good_lock(extra=1),
        ["L: unknown field 'extra' (expected one of: archives, exporter, lock_version, source_date, version)"],
        id="unknown-field",
    ),
    pytest.param(good_lock(version=None), ["L: version: required field is missing"], id="missing-version"),
    pytest.param(
        good_lock(lock_version=2),
        ["L: lock_version: unsupported lock_version 2 (this hub reads 1)"],
        id="lock-version-2",
    ),
    pytest.param(
        good_lock(lock_version=True), ["L: lock_version: expected an integer, got boolean true"], id="lock-version-bool"
    ),
    pytest.param(
        good_lock(exporter="Foo Bar"), ["L: exporter: expected an exporter name, got 'Foo Bar'"], id="bad-exporter"
    ),
    pytest.param(
        good_lock(version="1.2"), ["L: version: expected a version like v1.2.3 or 1.2.3, got '1.2'"], id="bad-version"
    ),
    pytest.param(
        good_lock(source_date="2025-06-01 12:00"),
        ["L: source_date: expected a UTC date like 2025-06-01T12:00:00Z, got '2025-06-01 12:00'"],
        id="bad-source-date-format",
    ),
    pytest.param(
        good_lock(source_date="2025-13-01T12:00:00Z"),
        ["L: source_date: not a valid date: '2025-13-01T12:00:00Z'"],
        id="bad-source-date",
    ),
    pytest.param(good_lock(archives=[]), ["L: archives: expected a mapping, got a list"], id="archives-list"),
    pytest.param(
        good_lock(archives__ppc64le={"url": "https://github.com/a", "sha256": SHA_A, "size": 1}),
        ["L: archives: unknown field 'ppc64le' (expected one of: amd64, arm64)"],
        id="unknown-arch",
    ),
    pytest.param(
        good_lock(archives__amd64__sha256="A" * 64),
        ["L: archives.amd64.sha256: expected 64 lowercase hex digits, got '" + "A" * 64 + "'"],
        id="sha-uppercase",
    ),
    pytest.param(
        good_lock(archives__amd64__sha256="abc"),
        ["L: archives.amd64.sha256: expected 64 lowercase hex digits, got 'abc'"],
        id="sha-short",
    ),
    pytest.param(
        good_lock(archives__arm64__size=-1),
        ["L: archives.arm64.size: expected a size in bytes (>= 0), got -1"],
        id="size-negative",
    ),
    pytest.param(
        good_lock(archives__arm64__size="1"),
        ["L: archives.arm64.size: expected an integer, got string '1'"],
        id="size-string",
    ),
    pytest.param(
        good_lock(archives__arm64__size=1.5),
        ["L: archives.arm64.size: expected an integer, got number 1.5"],
        id="size-float",
    ),
    pytest.param(
        good_lock(archives__amd64__url="https://github.com/a b"),
        ["L: archives.amd64.url: expected an https:// URL or a relative path, got 'https://github.com/a b'"],
        id="url-space",
    ),
    pytest.param(
        good_lock(archives__amd64__url="http://github.com/a"),
        ["L: archives.amd64.url: expected an https:// URL or a relative path, got 'http://github.com/a'"],
        id="url-http",
    ),
    pytest.param(
        good_lock(archives__amd64__url="../../etc/passwd"),
        ["L: archives.amd64.url: expected an https:// URL or a relative path, got '../../etc/passwd'"],
        id="url-traversal",
    ),
    pytest.param(
        good_lock(archives__amd64={"url": "https://github.com/a"}),
        ["L: archives.amd64.sha256: required field is missing", "L: archives.amd64.size: required field is missing"],
        id="archive-missing-fields",
    ),
    pytest.param(
        good_lock(exporter=3, archives__amd64__size=None, archives__arm64__url="x y"),
        [
            "L: exporter: expected a string, got integer 3",
            "L: archives.amd64.size: required field is missing",
            "L: archives.arm64.url: expected an https:// URL or a relative path, got 'x y'",
        ],
        id="all-errors-at-once",
    ),
]


@pytest.mark.parametrize("content, lines", BAD_LOCKS)
def test_bad_lock(tmp_path: Path, content: str | dict[str, Any], lines: list[str]) -> None:
    path = tmp_path / "upstream.lock.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(LockError) as info:
        read_lock(path, display_path="L")
    assert str(info.value).splitlines() == lines
    assert [e.render("L") for e in info.value.errors] == lines


def lock_schema() -> dict[str, Any]:

    return schemas.load_schema("upstream-lock")


def test_lock_schema_agrees_with_read_lock(tmp_path: Path) -> None:
    validator = schemas.validator("upstream-lock")  # its registry resolves matrix.schema.json
    jsonschema.Draft202012Validator.check_schema(lock_schema())
    assert validator.is_valid(good_lock())
    assert validator.is_valid(good_lock(archives={}))
    for param in BAD_LOCKS:
        content = param.values[0]
        # the schema's pattern cannot tell that month 13 does not exist; read_lock can
        if isinstance(content, dict) and param.id != "bad-source-date":
            assert not validator.is_valid(content), param.id


def test_check_lock_unpinned(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path))
    assert [e.render("L") for e in check_lock(manifest, None)] == [
        "L: not pinned: run `./pants update-lock` on this exporter"
    ]
    lock = Lock(
        "foo", "v1.2.3", "2025-06-01T12:00:00Z", {"amd64": LockedArchive(manifest.archive_url("amd64"), SHA_A, 1)}
    )
    assert [e.render("L") for e in check_lock(manifest, lock)] == ["L: archives.arm64: not pinned; run update-lock"]
