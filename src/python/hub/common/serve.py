"""Serve a directory over HTTP from a background thread: the upstream mirror (``hub mirror
serve``, the offline quick start) and the tests' static sites. Read-only, no directory listing
beyond http.server's, quiet (no request log on stderr)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path
from typing import Iterator


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def serve_directory(root: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``root`` until the block ends; yields the base URL (ends in "/"). Port 0 picks a
    free port; an IPv6 host is shown in brackets."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hub-serve", daemon=True)
    thread.start()
    try:
        bound_host, bound_port = server.server_address[:2]
        assert isinstance(bound_host, str)  # an IPv4 or IPv6 socket's address
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        yield f"http://{shown}:{bound_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
