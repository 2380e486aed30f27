"""Registry credentials, and the push protocol against an in-process registry
(tests/testkit/registry.py): blobs in chunks, then manifests by digest, then tags; nothing
uploaded twice; failures retried, a bounded number of times; no credentials to an upload
Location on another origin.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from hub.common.errors import HubError
from hub.image.layout import OCI_INDEX
from hub.image.registry import push_layout, registry_credentials
from testkit.images import Workspace, blob
from testkit.registry import REPOSITORY, RegistryState, serve


def test_credentials_from_env_then_docker_config(tmp_path: Path) -> None:
    env = {"HUB_REGISTRY_USER": "u", "HUB_REGISTRY_PASSWORD": "p", "DOCKER_CONFIG": str(tmp_path)}
    assert registry_credentials("r.example", env) == ("u", "p")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert registry_credentials("r.example", env) is None
    auth = base64.b64encode(b"alice:s3cr:et").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"https://r.example": {"auth": auth}}}))
    assert registry_credentials("r.example", env) == ("alice", "s3cr:et")
    assert registry_credentials("other.example", env) is None


@pytest.fixture
def state() -> RegistryState:
    return RegistryState()


@pytest.fixture
def fake_registry(state: RegistryState) -> Iterator[str]:
    with serve(state) as host:
        yield host


def push(built: Any, host: str, **kwargs: Any) -> str:
    options: dict[str, Any] = {"tags": ["1.2.3"], "insecure": True, "credentials": ("bob", "pw"), **kwargs}
    return push_layout(built.layout_dir, registry=host, repository=REPOSITORY, **options)


def test_push_by_digest_then_tag(ws: Workspace, state: RegistryState, fake_registry: str) -> None:
    built, _ = ws.build()
    digest = push(built, fake_registry, tags=["1.2.3", "latest"])
    assert digest == built.digest
    assert state.manifests["latest"][1] == blob(built.layout_dir, built.digest)
    assert state.manifests["1.2.3"][0] == OCI_INDEX
    kinds = [entry.split()[0] for entry in state.log]
    assert kinds.count("blob") == 5  # system layer shared; 2 binaries layers, 2 configs
    assert state.log[-2:] == ["manifest 1.2.3", "manifest latest"]
    # a second push uploads no blob again
    state.log.clear()
    push(built, fake_registry)
    assert not [e for e in state.log if e.startswith(("blob", "patch"))]


def test_push_without_credentials_fails_clearly(ws: Workspace, fake_registry: str) -> None:
    built, _ = ws.build()
    with pytest.raises(HubError, match="HTTP 401 .credentials: HUB_REGISTRY_USER"):
        push(built, fake_registry, credentials=None)


def test_blobs_go_up_in_chunks_that_reassemble(ws: Workspace, state: RegistryState, fake_registry: str) -> None:
    built, _ = ws.build()
    push(built, fake_registry, chunk_size=1000)
    patches = [e.split() for e in state.log if e.startswith("patch")]
    assert len(patches) > len(state.blobs), "expected several chunks per blob"
    for digest, data in state.blobs.items():
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
        assert data == blob(built.layout_dir, digest)
    assert max(_chunk_sizes(state)) == 1000


def _chunk_sizes(state: RegistryState) -> list[int]:
    spans = [entry.split()[2].split("-") for entry in state.log if entry.startswith("patch")]
    return [int(end) - int(start) + 1 for start, end in spans]


def test_a_registry_minimum_chunk_length_is_honoured(ws: Workspace, state: RegistryState, fake_registry: str) -> None:
    built, _ = ws.build()
    state.min_chunk = 1000
    push(built, fake_registry, chunk_size=100)
    assert max(_chunk_sizes(state)) == 1000


def test_a_503_is_retried_and_the_push_succeeds(ws: Workspace, state: RegistryState, fake_registry: str) -> None:
    built, _ = ws.build()
    state.failures = {"PATCH": [503], "PUT": [503, 502], "HEAD": [500]}
    waits: list[float] = []
    assert push(built, fake_registry, sleep=waits.append) == built.digest
    assert all(not pending for pending in state.failures.values())
    assert waits == [1.0, 1.0, 1.0, 2.0]  # HEAD, PATCH, then PUT twice: exponential backoff per request


def test_retries_give_up_after_n_attempts(ws: Workspace, state: RegistryState, fake_registry: str) -> None:
    built, _ = ws.build()
    state.failures = {"POST": [503] * 10}
    waits: list[float] = []
    with pytest.raises(HubError, match=r"POST http://.*/blobs/uploads/: HTTP 503 after 3 attempts"):
        push(built, fake_registry, attempts=3, sleep=waits.append)
    assert [s.method for s in state.seen].count("POST") == 3
    assert waits == [1.0, 2.0]
    assert not state.blobs and not state.manifests


def test_a_chunk_whose_answer_was_lost_is_not_sent_twice(
    ws: Workspace, state: RegistryState, fake_registry: str
) -> None:
    """The registry took the chunk but the connection broke before its answer: the retry gets
    416, and the upload goes on from the registry's own count."""
    built, _ = ws.build()
    state.drop_next_patch = True
    assert push(built, fake_registry, chunk_size=1000, sleep=lambda s: None) == built.digest
    for digest, data in state.blobs.items():
        assert data == blob(built.layout_dir, digest)
    assert "GET" in [s.method for s in state.seen]  # the upload's status was asked


def test_upload_locations_on_another_origin_get_no_credentials(
    ws: Workspace, state: RegistryState, fake_registry: str
) -> None:
    """A Location naming another host (here: localhost instead of 127.0.0.1, same port) is
    followed, without the Authorization header."""
    built, _ = ws.build()
    state.auth = "basic"
    other = "localhost:" + fake_registry.rsplit(":", 1)[1]
    state.upload_base = f"http://{other}"
    assert push(built, fake_registry) == built.digest
    to_other = state.authorizations_sent_to(other)
    assert to_other and not any(to_other), "credentials were sent to an upload Location on another origin"
    assert state.basic() in state.authorizations_sent_to(fake_registry)


def test_a_redirect_to_another_origin_gets_no_credentials(ws: Workspace, state: RegistryState) -> None:
    """The registry answers a blob HEAD with a 307 to another port (as registries do for their
    storage): the redirect is followed, but Authorization stays with the registry."""
    built, _ = ws.build()
    state.auth = "basic"
    with serve(state) as registry, serve(state) as elsewhere:
        push(built, registry)
        state.redirect_blobs_to = f"http://{elsewhere}"
        push(built, registry, tags=["again"])
    to_elsewhere = state.authorizations_sent_to(elsewhere)
    assert len(to_elsewhere) == 6, "every blob HEAD (the shared layer twice) is redirected"
    assert not any(to_elsewhere), "credentials followed a redirect to another origin"
    assert "manifest again" in state.log


def test_basic_credentials_over_plain_http_to_another_host_are_refused(
    ws: Workspace, state: RegistryState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--insecure`` with a registry that is not on loopback: the Basic challenge is refused
    before any credential leaves. (The fake registry is reached as a proxy, so that it can
    stand for any host name.)"""
    built, _ = ws.build()
    state.auth, state.host = "basic", "registry.example:5000"
    with serve(state) as proxy:
        monkeypatch.setenv("http_proxy", f"http://{proxy}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with pytest.raises(HubError, match="Basic credentials over plain http and registry.example is not a loopback"):
            push(built, "registry.example:5000")
    assert state.seen and not any(state.authorizations_sent_to("registry.example:5000"))
