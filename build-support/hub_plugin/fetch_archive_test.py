from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import threading
from pathlib import Path
from typing import Iterator

import pytest

from hub_plugin.fetch_archive import FetchError, fetch, main

DATA = b"an upstream archive\n" * 100
SHA256 = hashlib.sha256(DATA).hexdigest()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serving(root: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "a.tar.gz").write_bytes(DATA)
    with serving(tmp_path / "www") as url:
        yield url


def test_writes_the_pinned_bytes(mirror: str, tmp_path: Path) -> None:
    out = tmp_path / "a.tar.gz"
    assert main([mirror + "a.tar.gz", SHA256, str(len(DATA)), str(out)]) == 0
    assert out.read_bytes() == DATA


def test_a_file_url_works_too(tmp_path: Path) -> None:
    (tmp_path / "src.tar.gz").write_bytes(DATA)
    fetch((tmp_path / "src.tar.gz").as_uri(), SHA256.upper(), len(DATA), str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == DATA


@pytest.mark.parametrize(
    "sha256, size, message",
    [
        ("0" * 64, len(DATA), f"sha256 mismatch for {{url}}: expected {'0' * 64}, got {SHA256}"),
        (SHA256, len(DATA) + 1, f"size mismatch for {{url}}: expected {len(DATA) + 1} bytes, got {len(DATA)}"),
        (SHA256, len(DATA) - 1, f"size mismatch for {{url}}: expected {len(DATA) - 1} bytes, got more"),
    ],
)
def test_other_bytes_are_refused_and_nothing_is_written(
    mirror: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], sha256: str, size: int, message: str
) -> None:
    out = tmp_path / "a.tar.gz"
    url = mirror + "a.tar.gz"
    assert main([url, sha256, str(size), str(out)]) == 1
    assert capsys.readouterr().err.strip() == message.format(url=url)
    assert not out.exists()


def test_http_errors_and_unreachable_hosts_say_so(mirror: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"cannot download .*/missing.tar.gz: HTTP 404"):
        fetch(mirror + "missing.tar.gz", SHA256, len(DATA), str(tmp_path / "x"), pause=0)
    with serving(tmp_path) as url:
        pass  # stopped: nothing listens there any more
    with pytest.raises(FetchError, match="cannot download .*Connection refused"):
        fetch(url + "a.tar.gz", SHA256, len(DATA), str(tmp_path / "y"), attempts=2, pause=0)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_bad_arguments_print_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["u", "s", "not-a-size", "out"]) == 2
    assert "usage: fetch_archive.py URL SHA256 SIZE OUT" in capsys.readouterr().err
