from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import struct
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
import yaml

from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.common import schemas
from hub.upstream.lock import Lock, LockedArchive, LockError, check_lock, download, lock_path_for, mirror_url, read_lock, source_date_of, update_lock, write_lock
from hub.common.dates import format_source_date, parse_source_date

SHA_A = "a" * 64


# --------------------------------------------------------------------------------------------
# A local HTTP server standing in for GitHub or a mirror
# --------------------------------------------------------------------------------------------


class Server:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def put(self, rel: str, data: bytes) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.url}/{rel}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    root.mkdir()
    s = Server(root)
    s.thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_gz(members: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as tar:
            for name, (data, mtime) in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), mtime, 0o755
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# download
# --------------------------------------------------------------------------------------------


def test_download_ok(server: Server, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks
    url = server.put("a/file.tar.gz", data)
    dest = tmp_path / "out" / "file.tar.gz"
    dest.parent.mkdir()
    got = download(url, dest, expected_sha256=sha(data), expected_size=len(data))
    assert (got.sha256, got.size) == (sha(data), len(data))
    assert dest.read_bytes() == data
    assert os.listdir(dest.parent) == ["file.tar.gz"]


def test_download_without_expectations_reports_digest(server: Server, tmp_path: Path) -> None:
    url = server.put("x.gz", b"hello")
    got = download(url, tmp_path / "x.gz")
    assert got.sha256 == sha(b"hello") and got.size == 5


def test_sha256_mismatch_leaves_nothing(server: Server, tmp_path: Path) -> None:
    url = server.put("x.tar.gz", b"evil bytes")
    dest = tmp_path / "dl" / "x.tar.gz"
    dest.parent.mkdir()
    with pytest.raises(HubError) as info:
        download(url, dest, expected_sha256=SHA_A)
    message = str(info.value)
    assert url in message and SHA_A in message and sha(b"evil bytes") in message
    assert message == f"sha256 mismatch for {url}: expected {SHA_A}, got {sha(b'evil bytes')}"
    assert os.listdir(dest.parent) == []


def test_mismatch_keeps_an_existing_file(server: Server, tmp_path: Path) -> None:
    url = server.put("x.tar.gz", b"new")
    dest = tmp_path / "x.tar.gz"
    dest.write_bytes(b"old")
    with pytest.raises(HubError):
        download(url, dest, expected_sha256=SHA_A)
    assert dest.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["www", "x.tar.gz"]


@pytest.mark.parametrize("expected_size, got", [(5, "10"), (20, "10")])
def test_size_mismatch(server: Server, tmp_path: Path, expected_size: int, got: str) -> None:
    url = server.put("x.zip", b"0123456789")
    with pytest.raises(HubError) as info:
        download(url, tmp_path / "x.zip", expected_sha256=sha(b"0123456789"), expected_size=expected_size)
    assert str(info.value) == f"size mismatch for {url}: expected {expected_size} bytes, got {got}"
    assert os.listdir(tmp_path) == ["www"]


def test_max_size(server: Server, tmp_path: Path) -> None:
    url = server.put("big.gz", b"x" * 100)
    with pytest.raises(HubError, match=r"larger than the limit of 10 bytes"):
        download(url, tmp_path / "big.gz", max_size=10)
    assert os.listdir(tmp_path) == ["www"]


def test_http_error(server: Server, tmp_path: Path) -> None:
    with pytest.raises(HubError) as info:
        download(f"{server.url}/missing.tar.gz", tmp_path / "m.tar.gz")
    assert str(info.value) == f"cannot download {server.url}/missing.tar.gz: HTTP 404 File not found"
    assert os.listdir(tmp_path) == ["www"]


def test_connection_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HubError, match=rf"cannot download http://127.0.0.1:{port}/x.gz: "):
        download(f"http://127.0.0.1:{port}/x.gz", tmp_path / "x.gz", timeout=5)
    assert os.listdir(tmp_path) == []


def test_download_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(HubError, match="cannot write"):
        download("http://127.0.0.1:9/x", tmp_path / "nope" / "x")


# --------------------------------------------------------------------------------------------
# mirror
# --------------------------------------------------------------------------------------------

GH = "https://github.com/prometheus/node_exporter/releases/download/v1.11.0/node_exporter-1.11.0.linux-amd64.tar.gz"
REST = "prometheus/node_exporter/releases/download/v1.11.0/node_exporter-1.11.0.linux-amd64.tar.gz"


@pytest.mark.parametrize(
    "url, mirror, result",
    [
        pytest.param(GH, None, GH, id="no-mirror"),
        pytest.param(GH, "", GH, id="empty-mirror"),
        pytest.param(GH, "http://mirror.local:8080", f"http://mirror.local:8080/{REST}", id="host-no-slash"),
        pytest.param(GH, "http://mirror.local:8080/", f"http://mirror.local:8080/{REST}", id="host-slash"),
        pytest.param(GH, "https://artifacts.corp/github", f"https://artifacts.corp/github/{REST}", id="path-no-slash"),
        pytest.param(GH, "https://artifacts.corp/github/", f"https://artifacts.corp/github/{REST}", id="path-slash"),
        pytest.param(GH, "file:///srv/mirror", f"file:///srv/mirror/{REST}", id="file-url"),
        pytest.param(GH, "/srv/mirror/", f"file:///srv/mirror/{REST}", id="directory"),
        pytest.param("https://example.org/x.tar.gz", "http://m/", "https://example.org/x.tar.gz", id="not-github"),
        pytest.param("https://github.com.evil/x", "http://m/", "https://github.com.evil/x", id="lookalike-host"),
    ],
)
def test_mirror_url(url: str, mirror: str | None, result: str) -> None:
    assert mirror_url(url, mirror) == result


def test_download_from_file_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "a" / "b").mkdir(parents=True)
    (mirror / "a" / "b" / "f.gz").write_bytes(b"data")
    url = mirror_url("https://github.com/a/b/f.gz", str(mirror))
    got = download(url, tmp_path / "f.gz", expected_sha256=sha(b"data"), expected_size=4)
    assert got.size == 4 and (tmp_path / "f.gz").read_bytes() == b"data"


# --------------------------------------------------------------------------------------------
# source dates
# --------------------------------------------------------------------------------------------


def test_source_date_tar_gz(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(tar_gz({"x/a": (b"a", 1_700_000_000), "x/b": (b"b", 1_750_000_000), "x/c": (b"c", 1_600_000_000)}))
    assert source_date_of(path) == 1_750_000_000
    (tmp_path / "x.tgz").write_bytes(path.read_bytes())
    assert source_date_of(tmp_path / "x.tgz") == 1_750_000_000


def test_source_date_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("a", (2020, 1, 2, 3, 4, 6)), b"a")
        zf.writestr(zipfile.ZipInfo("b", (2021, 5, 6, 7, 8, 10)), b"b")
    assert format_source_date(source_date_of(path)) == "2021-05-06T07:08:10Z"


def test_source_date_zip_extended_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    info = zipfile.ZipInfo("a", (2020, 1, 1, 0, 0, 0))
    info.extra = struct.pack("<HHBI", 0x5455, 5, 1, 1_750_000_001)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, b"a")
    assert source_date_of(path) == 1_750_000_001


def test_source_date_single_gz(tmp_path: Path) -> None:
    path = tmp_path / "ha_cluster_exporter-amd64.gz"
    with gzip.GzipFile(path, "wb", mtime=1_712_345_678) as gz:
        gz.write(b"\x7fELF")
    assert source_date_of(path) == 1_712_345_678


@pytest.mark.parametrize(
    "name, content, message",
    [
        pytest.param("x.gz", gzip.compress(b"x", mtime=0), "the archive records no modification time", id="gz-no-mtime"),
        pytest.param("x.tar.gz", tar_gz({"a": (b"a", 0)}), "the archive records no modification time", id="tar-zero-mtimes"),
        pytest.param("x.tar.gz", b"not gzip", "cannot read the archive", id="tar-garbage"),
        pytest.param("x.zip", b"not a zip", "cannot read the archive", id="zip-garbage"),
        pytest.param("x.gz", b"plain", "not a gzip file", id="gz-garbage"),
        pytest.param("x.rar", b"", "unknown archive type", id="unknown-type"),
    ],
)
def test_source_date_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(HubError, match=message):
        source_date_of(path)


def test_source_date_format_roundtrip() -> None:
    assert format_source_date(1_748_779_200) == "2025-06-01T12:00:00Z"
    assert parse_source_date("2025-06-01T12:00:00Z") == 1_748_779_200


# --------------------------------------------------------------------------------------------
# The lock file
# --------------------------------------------------------------------------------------------


def good_lock(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "lock_version": 1,
        "exporter": "foo",
        "version": "v1.2.3",
        "source_date": "2025-06-01T12:00:00Z",
        "archives": {
            "amd64": {"url": "https://github.com/acme/foo/releases/download/v1.2.3/foo-amd64.tar.gz", "sha256": SHA_A, "size": 10},
            "arm64": {"url": "https://github.com/acme/foo/releases/download/v1.2.3/foo-arm64.tar.gz", "sha256": "b" * 64, "size": 0},
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
        {"arm64": LockedArchive("https://github.com/x/y/z.tar.gz", "b" * 64, 2), "amd64": LockedArchive("https://github.com/x/y/w.tar.gz", SHA_A, 1)},
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
    pytest.param(good_lock(lock_version=2), ["L: lock_version: unsupported lock_version 2 (this hub reads 1)"], id="lock-version-2"),
    pytest.param(good_lock(lock_version=True), ["L: lock_version: expected an integer, got boolean true"], id="lock-version-bool"),
    pytest.param(good_lock(exporter="Foo Bar"), ["L: exporter: expected an exporter name, got 'Foo Bar'"], id="bad-exporter"),
    pytest.param(good_lock(version="1.2"), ["L: version: expected a version like v1.2.3 or 1.2.3, got '1.2'"], id="bad-version"),
    pytest.param(
        good_lock(source_date="2025-06-01 12:00"),
        ["L: source_date: expected a UTC date like 2025-06-01T12:00:00Z, got '2025-06-01 12:00'"],
        id="bad-source-date-format",
    ),
    pytest.param(
        good_lock(source_date="2025-13-01T12:00:00Z"), ["L: source_date: not a valid date: '2025-13-01T12:00:00Z'"], id="bad-source-date"
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
        good_lock(archives__amd64__sha256="abc"), ["L: archives.amd64.sha256: expected 64 lowercase hex digits, got 'abc'"], id="sha-short"
    ),
    pytest.param(good_lock(archives__arm64__size=-1), ["L: archives.arm64.size: expected a size in bytes (>= 0), got -1"], id="size-negative"),
    pytest.param(good_lock(archives__arm64__size="1"), ["L: archives.arm64.size: expected an integer, got string '1'"], id="size-string"),
    pytest.param(good_lock(archives__arm64__size=1.5), ["L: archives.arm64.size: expected an integer, got number 1.5"], id="size-float"),
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


# --------------------------------------------------------------------------------------------
# update_lock, end to end through a mirror
# --------------------------------------------------------------------------------------------

MANIFEST = {
    "name": "foo",
    "description": "Foo exporter",
    "category": "System",
    "version": "v1.2.3",
    "license": "MIT",
    "upstream": {"repo": "acme/foo"},
    "build": {"binary_name": "foo"},
}


def write_manifest(tmp_path: Path, data: dict[str, Any] = MANIFEST) -> Path:
    path = tmp_path / "exporters" / data["name"] / "manifest.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def publish_release(server: Server) -> dict[str, bytes]:
    archives = {
        "amd64": tar_gz({"foo-1.2.3.linux-amd64/foo": (b"amd64 binary", 1_748_779_200)}),
        "arm64": tar_gz({"foo-1.2.3.linux-arm64/foo": (b"arm64 binary", 1_748_779_260)}),
    }
    for arch, data in archives.items():
        server.put(f"acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-{arch}.tar.gz", data)
    return archives


def test_update_lock_through_mirror(server: Server, tmp_path: Path) -> None:
    archives = publish_release(server)
    manifest_path = write_manifest(tmp_path)
    manifest = load_manifest(manifest_path)
    lock_path = lock_path_for(manifest_path)

    lock = update_lock(manifest, lock_path, mirror=server.url)
    assert lock.exporter == "foo" and lock.version == "v1.2.3"
    assert lock.source_date == "2025-06-01T12:01:00Z"  # the newest member of both archives
    for arch, data in archives.items():
        pinned = lock.archives[arch]
        assert pinned.url == f"https://github.com/acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-{arch}.tar.gz"
        assert (pinned.sha256, pinned.size) == (sha(data), len(data))
    assert read_lock(lock_path) == lock
    assert check_lock(manifest, lock) == []
    assert len(server.requests) == 2
    assert sorted(os.listdir(manifest_path.parent)) == ["manifest.yaml", "upstream.lock.json"]

    # current: nothing downloaded, nothing rewritten
    mtime = os.stat(lock_path).st_mtime_ns
    assert update_lock(manifest, lock_path, mirror=server.url) == lock
    assert len(server.requests) == 2 and os.stat(lock_path).st_mtime_ns == mtime
    # forced: downloaded again, same lock
    assert update_lock(manifest, lock_path, mirror=server.url + "/", force=True) == lock
    assert len(server.requests) == 4


def test_update_lock_after_a_version_bump(server: Server, tmp_path: Path) -> None:
    publish_release(server)
    manifest_path = write_manifest(tmp_path)
    lock_path = lock_path_for(manifest_path)
    update_lock(load_manifest(manifest_path), lock_path, mirror=server.url)
    new = tar_gz({"foo": (b"v2", 1_800_000_000)})
    for arch in ("amd64", "arm64"):
        server.put(f"acme/foo/releases/download/v2.0.0/foo-2.0.0.linux-{arch}.tar.gz", new)
    bumped = load_manifest(write_manifest(tmp_path, {**MANIFEST, "version": "v2.0.0"}))
    assert [e.field for e in check_lock(bumped, read_lock(lock_path))] == ["version", "archives.amd64.url", "archives.arm64.url"]
    lock = update_lock(bumped, lock_path, mirror=server.url)
    assert lock.version == "v2.0.0" and lock.archives["amd64"].sha256 == sha(new)
    assert lock.source_date == format_source_date(1_800_000_000)


def test_update_lock_single_arch_gz(server: Server, tmp_path: Path) -> None:
    data = gzip.compress(b"\x7fELF...", mtime=1_700_000_000)
    server.put("ClusterLabs/ha/releases/download/1.4.0/ha-amd64.gz", data)
    manifest = load_manifest(
        write_manifest(
            tmp_path,
            {**MANIFEST, "name": "ha", "version": "1.4.0", "upstream": {"repo": "ClusterLabs/ha", "archive_name": "{name}-{arch}.gz"},
             "build": {"binary_name": "ha", "archs": ["amd64"]}},
        )
    )
    lock = update_lock(manifest, tmp_path / "lock.json", mirror=server.url)
    assert list(lock.archives) == ["amd64"]
    assert lock.archives["amd64"].url == "https://github.com/ClusterLabs/ha/releases/download/1.4.0/ha-amd64.gz"
    assert lock.source_date_epoch == 1_700_000_000


def test_update_lock_failure_writes_nothing(server: Server, tmp_path: Path) -> None:
    server.put("acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-amd64.tar.gz", tar_gz({"foo": (b"x", 1)}))
    manifest_path = write_manifest(tmp_path)  # arm64 is missing upstream
    with pytest.raises(HubError, match=r"HTTP 404"):
        update_lock(load_manifest(manifest_path), lock_path_for(manifest_path), mirror=server.url)
    assert not os.path.exists(lock_path_for(manifest_path))


def test_update_lock_local_archives(tmp_path: Path) -> None:
    data = {**MANIFEST, "upstream": {"local": {"amd64": "dist/foo-amd64.tar.gz", "arm64": "dist/foo-arm64.tar.gz"}}}
    manifest_path = write_manifest(tmp_path, data)
    (manifest_path.parent / "dist").mkdir()
    for arch, when in (("amd64", 1_700_000_000), ("arm64", 1_700_000_100)):
        (manifest_path.parent / "dist" / f"foo-{arch}.tar.gz").write_bytes(tar_gz({"foo": (arch.encode(), when)}))
    manifest = load_manifest(manifest_path)
    lock = update_lock(manifest, lock_path_for(manifest_path))
    assert lock.archives["arm64"].url == "dist/foo-arm64.tar.gz"
    assert lock.source_date_epoch == 1_700_000_100
    assert read_lock(lock_path_for(manifest_path)) == lock and check_lock(manifest, lock) == []


def test_check_lock_unpinned(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path))
    assert [e.render("L") for e in check_lock(manifest, None)] == ["L: not pinned: run `./pants update-lock` on this exporter"]
    lock = Lock("foo", "v1.2.3", "2025-06-01T12:00:00Z", {"amd64": LockedArchive(manifest.archive_url("amd64"), SHA_A, 1)})
    assert [e.render("L") for e in check_lock(manifest, lock)] == ["L: archives.arm64: not pinned; run update-lock"]


def test_cli_update_lock(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.cli import main

    archives = publish_release(server)
    manifest_path = write_manifest(tmp_path)
    lock_path = lock_path_for(manifest_path)
    assert main(["update-lock", str(manifest_path), "--mirror", server.url]) == 0
    base = "https://github.com/acme/foo/releases/download/v1.2.3"
    assert capsys.readouterr().out.splitlines() == [
        f"{lock_path}: {arch} sha256={sha(data)} size={len(data)} {base}/foo-1.2.3.linux-{arch}.tar.gz"
        for arch, data in archives.items()
    ]
    assert main(["update-lock", str(manifest_path), "--mirror", server.url]) == 0
    assert all(line.endswith("(unchanged)") for line in capsys.readouterr().out.splitlines())

    out = tmp_path / "fetched.tar.gz"
    assert main(["fetch", str(manifest_path), "--arch", "arm64", "--out", str(out), "--mirror", server.url]) == 0
    assert out.read_bytes() == archives["arm64"]

    server.put("acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-arm64.tar.gz", b"tampered")
    assert main(["fetch", str(manifest_path), "--arch", "arm64", "--out", str(tmp_path / "t.tar.gz"), "--mirror", server.url]) == 2
    assert "size mismatch for" in capsys.readouterr().err
    assert not (tmp_path / "t.tar.gz").exists()
