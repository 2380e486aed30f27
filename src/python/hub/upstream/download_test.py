"""Tests for hub.upstream.download: verified downloads, and the mirror rewrite of URLs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from hub.common.errors import HubError
from hub.upstream.download import download, mirror_url
from testkit.releases import Server, serving, sha

SHA_A = "a" * 64


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path / "www") as s:
        yield s


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
