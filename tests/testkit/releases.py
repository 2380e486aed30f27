"""Upstream releases for the lock, download and update-lock tests.

A local HTTP server (:class:`Server`) stands in for GitHub's release downloads or for a mirror
and records the paths asked; ``tar_gz`` makes small release archives whose members carry
chosen dates; ``MANIFEST`` is a minimal manifest of ``acme/foo``.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import yaml


class Server:
    """Serves ``root`` over HTTP on 127.0.0.1 (once its thread runs) and records the paths asked."""

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


@contextlib.contextmanager
def serving(root: Path) -> Iterator[Server]:
    """A running :class:`Server` of the new directory ``root``, stopped on exit."""
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
    """A .tar.gz of ``{name: (data, mtime)}``, with no date in its gzip header."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as tar:
            for name, (data, mtime) in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), mtime, 0o755
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


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
