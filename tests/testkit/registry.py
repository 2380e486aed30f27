"""An in-process OCI registry for the push tests, on 127.0.0.1, that records every request.

It speaks just what ``hub image-push`` uses: blob HEAD, chunked uploads (POST, PATCH with
Content-Range, GET of the upload's status, PUT ?digest=), manifest PUT, and Basic or bearer
authentication (the token realm on the registry itself). It checks the push order (blobs
before manifests, manifests before the index, digests before tags) with assertions that
answer 500.

Faults to inject, all in :class:`RegistryState`: statuses to answer before handling a method
(``failures``), a PATCH taken but never answered (``drop_next_patch``), a 307 of blob HEADs to
another origin (``redirect_blobs_to``) and upload Locations on another origin
(``upload_base``). One handler serves every listening socket; a request whose Host is not the
registry's is served as "storage" (no authentication), and is recorded like the others.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Iterator

REPOSITORY = "demo/x"


@dataclass(frozen=True)
class Seen:
    method: str
    host: str  # the Host header
    path: str
    authorization: str | None


@dataclass
class RegistryState:
    auth: str = "bearer"  # "bearer", "basic" or "none"
    user: tuple[str, str] = ("bob", "pw")
    token: str = "tok-123"
    realm: str | None = None  # default: http://<registry host>/token
    host: str = ""  # host:port of the registry, set when it starts
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    uploads: dict[str, bytearray] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # "blob <digest>", "patch <uid> <range>", "manifest <ref>"
    seen: list[Seen] = field(default_factory=list)
    failures: dict[str, list[int]] = field(default_factory=dict)  # method -> statuses to answer first
    drop_next_patch: bool = False
    redirect_blobs_to: str | None = None  # base URL of another origin
    upload_base: str | None = None  # base URL of another origin for upload Locations
    min_chunk: int | None = None

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.user[0]}:{self.user[1]}".encode()).decode()

    def authorizations_sent_to(self, host: str) -> list[str | None]:
        return [s.authorization for s in self.seen if s.host == host]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    @property
    def state(self) -> RegistryState:
        return self.server.state  # type: ignore[no-any-return]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        state = self.state
        got = self.headers.get("Authorization")
        if state.auth == "none" or got == (f"Bearer {state.token}" if state.auth == "bearer" else state.basic()):
            return True
        realm = state.realm or f"http://{state.host}/token"
        challenge = f'Bearer realm="{realm}",service="fake"' if state.auth == "bearer" else 'Basic realm="fake"'
        self._body()
        self._send(401, {"WWW-Authenticate": challenge})
        return False

    def _handle(self) -> None:
        state = self.state
        url = urllib.parse.urlsplit(self.path)  # absolute when we are used as a proxy
        host = url.netloc or self.headers.get("Host", "")
        state.seen.append(Seen(self.command, host, url.path, self.headers.get("Authorization")))
        pending = state.failures.get(self.command)
        if pending:
            self._body()
            self._send(pending.pop(0), {}, b"injected failure")
            return
        try:
            if url.path == "/token":
                self._token(url.query)
            elif host != state.host or self._authorized():
                self._registry(url.path, urllib.parse.parse_qs(url.query), own=host == state.host)
        except AssertionError as e:
            self._send(500, {}, str(e).encode())

    do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = _handle  # noqa: N815

    def _token(self, query: str) -> None:
        assert "scope=repository%3Ademo%2Fx%3Apull%2Cpush" in "?" + query
        ok = self.headers.get("Authorization") == self.state.basic()
        self._send(200 if ok else 401, {}, json.dumps({"token": self.state.token}).encode() if ok else b"")

    def _upload_location(self, uid: str, n: int) -> str:
        return f"{self.state.upload_base or ''}/v2/{REPOSITORY}/blobs/uploads/{uid}?_state=s{n}"

    def _registry(self, path: str, query: dict[str, list[str]], own: bool) -> None:
        state = self.state
        if path.startswith("/storage/"):
            self._send(200)
        elif "/blobs/uploads/" in path and self.command == "POST":
            uid = f"u{len(state.uploads)}"
            state.uploads[uid] = bytearray()
            extra = {"OCI-Chunk-Min-Length": str(state.min_chunk)} if state.min_chunk else {}
            self._send(202, {"Location": self._upload_location(uid, 0), "Range": "0-0", **extra})
        elif "/blobs/uploads/" in path:
            self._upload(path.rsplit("/", 1)[1], query)
        elif "/blobs/" in path:
            digest = path.rsplit("/", 1)[1]
            if state.redirect_blobs_to and own and digest in state.blobs:
                self._send(307, {"Location": f"{state.redirect_blobs_to}/storage/{digest}"})
            else:
                self._send(200 if digest in state.blobs else 404)
        elif "/manifests/" in path and self.command == "PUT":
            self._manifest(path.rsplit("/", 1)[1])
        else:
            self._send(404)

    def _upload(self, uid: str, query: dict[str, list[str]]) -> None:
        state = self.state
        data = state.uploads[uid]
        if self.command == "GET":
            self._send(204, {"Location": self._upload_location(uid, len(data)), "Range": f"0-{len(data) - 1}"})
            return
        body = self._body()
        if self.command == "PATCH":
            start, _, end = self.headers["Content-Range"].partition("-")
            if int(start) != len(data):
                self._send(416, {"Range": f"0-{len(data) - 1}"})
                return
            assert int(end) == int(start) + len(body) - 1, "Content-Range does not match the body"
            data += body
            state.log.append(f"patch {uid} {start}-{end}")
            if state.drop_next_patch:  # taken, but the answer never arrives
                state.drop_next_patch = False
                self.close_connection = True
                return
            self._send(202, {"Location": self._upload_location(uid, len(data)), "Range": f"0-{len(data) - 1}"})
            return
        data += body  # PUT: the last bytes, if any, then the digest
        digest = query["digest"][0]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest, "the upload does not match its digest"
        state.blobs[digest] = bytes(data)
        state.log.append(f"blob {digest}")
        self._send(201, {"Docker-Content-Digest": digest})

    def _manifest(self, ref: str) -> None:
        state = self.state
        body = self._body()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        m = json.loads(body)
        for d in [m.get("config"), *m.get("layers", [])] if "config" in m else []:
            assert d["digest"] in state.blobs, "manifest pushed before its blobs"
        for d in m.get("manifests", []):
            assert d["digest"] in state.manifests, "index pushed before its manifests"
        if ref.startswith("sha256:"):
            assert ref == digest, "manifest pushed under another digest"
        else:
            assert digest in state.manifests, "tag applied before the push by digest"
        state.manifests[ref] = (self.headers["Content-Type"], body)
        state.log.append(f"manifest {ref}")
        self._send(201, {"Docker-Content-Digest": digest})


@contextlib.contextmanager
def serve(state: RegistryState) -> Iterator[str]:
    """Serves ``state`` on a free port of 127.0.0.1; yields ``127.0.0.1:<port>``. The first
    server of a state is the registry (``state.host``); more are other origins."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = state  # type: ignore[attr-defined]
    address = f"127.0.0.1:{server.server_address[1]}"
    state.host = state.host or address
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield address
    finally:
        server.shutdown()
        server.server_close()
