"""Registry credentials, and the push protocol against an in-process registry with bearer
tokens: blobs, then manifests by digest, then tags; nothing uploaded twice.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from hub.common.errors import HubError
from hub.image.layout import OCI_INDEX
from hub.image.registry import push_layout, registry_credentials
from testkit.images import Workspace, blob


def test_credentials_from_env_then_docker_config(tmp_path: Path) -> None:
    env = {"HUB_REGISTRY_USER": "u", "HUB_REGISTRY_PASSWORD": "p", "DOCKER_CONFIG": str(tmp_path)}
    assert registry_credentials("r.example", env) == ("u", "p")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert registry_credentials("r.example", env) is None
    auth = base64.b64encode(b"alice:s3cr:et").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"https://r.example": {"auth": auth}}}))
    assert registry_credentials("r.example", env) == ("alice", "s3cr:et")
    assert registry_credentials("other.example", env) is None


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    blobs: dict[str, bytes] = {}
    manifests: dict[str, tuple[str, bytes]] = {}
    uploads: dict[str, bytes] = {}
    log: list[str] = []
    token = "tok-123"

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

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.token}":
            return True
        host = self.headers["Host"]
        self._send(401, {"WWW-Authenticate": f'Bearer realm="http://{host}/token",service="fake"'})
        return False

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/token"):
            ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(b"bob:pw").decode()
            assert "scope=repository%3Ademo%2Fx%3Apull%2Cpush" in self.path
            self._send(200 if ok else 401, {}, json.dumps({"token": self.token}).encode() if ok else b"")
            return
        self.do_HEAD()

    def do_HEAD(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        digest = self.path.rsplit("/", 1)[1]
        self._send(200 if digest in self.blobs else 404)

    def do_POST(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        uid = f"u{len(self.uploads)}"
        self.uploads[uid] = b""
        self._send(202, {"Location": f"/v2/demo/x/blobs/uploads/{uid}?_state=abc"})

    def do_PUT(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if "/blobs/uploads/" in self.path:
            assert "_state=abc&digest=sha256%3A" in self.path
            digest = self.path.split("digest=")[1].replace("%3A", ":")
            assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
            self.blobs[digest] = body
            self.log.append(f"blob {digest}")
            self._send(201, {"Docker-Content-Digest": digest})
            return
        ref = self.path.rsplit("/", 1)[1]
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        m = json.loads(body)
        for d in [m.get("config"), *m.get("layers", [])] if "config" in m else []:
            assert d["digest"] in self.blobs, "manifest pushed before its blobs"
        for d in m.get("manifests", []):
            assert d["digest"] in self.manifests, "index pushed before its manifests"
        if ref.startswith("sha256:"):
            assert ref == digest
        else:
            assert digest in self.manifests, "tag applied before the push by digest"
        self.manifests[ref] = (self.headers["Content-Type"], body)
        self.log.append(f"manifest {ref}")
        self._send(201, {"Docker-Content-Digest": digest})


@pytest.fixture
def fake_registry() -> Iterator[str]:
    FakeRegistry.blobs, FakeRegistry.manifests, FakeRegistry.uploads, FakeRegistry.log = {}, {}, {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_push_by_digest_then_tag(ws: Workspace, fake_registry: str) -> None:
    built, _ = ws.build()
    digest = push_layout(
        built.layout_dir,
        registry=fake_registry,
        repository="demo/x",
        tags=["1.2.3", "latest"],
        insecure=True,
        credentials=("bob", "pw"),
    )
    assert digest == built.digest
    assert FakeRegistry.manifests["latest"][1] == blob(built.layout_dir, built.digest)
    assert FakeRegistry.manifests["1.2.3"][0] == OCI_INDEX
    kinds = [entry.split()[0] for entry in FakeRegistry.log]
    assert kinds.count("blob") == 5  # system layer shared; 2 binaries layers, 2 configs
    assert FakeRegistry.log[-2:] == ["manifest 1.2.3", "manifest latest"]
    # a second push uploads no blob again
    FakeRegistry.log.clear()
    push_layout(
        built.layout_dir,
        registry=fake_registry,
        repository="demo/x",
        tags=["1.2.3"],
        insecure=True,
        credentials=("bob", "pw"),
    )
    assert not [e for e in FakeRegistry.log if e.startswith("blob")]


def test_push_without_credentials_fails_clearly(ws: Workspace, fake_registry: str) -> None:
    built, _ = ws.build()
    with pytest.raises(HubError, match="HTTP 401 .credentials: HUB_REGISTRY_USER"):
        push_layout(built.layout_dir, registry=fake_registry, repository="demo/x", tags=["1.2.3"], insecure=True)
