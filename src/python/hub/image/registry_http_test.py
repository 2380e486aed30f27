"""The registry session's rules, case by case: where Basic credentials may go, the token
realm's scheme, redirects that cannot be followed, and retries of a dead connection. (The
push-level cases, redirects and Locations on other origins included, are in registry_test.py.)
"""

from __future__ import annotations

import socket

import pytest

from hub.common.errors import HubError
from hub.image.registry_http import RegistrySession, is_loopback, may_send_basic, origin_of
from testkit.registry import REPOSITORY, RegistryState, serve


def test_origins_compare_scheme_host_and_port() -> None:
    assert origin_of("https://Registry.Example/v2/") == ("https", "registry.example", 443)
    assert origin_of("https://registry.example:443/x") == origin_of("https://registry.example/y")
    assert origin_of("http://registry.example/x") != origin_of("https://registry.example/x")
    assert origin_of("http://127.0.0.1:5000/") != origin_of("http://127.0.0.1:5001/")
    assert origin_of("http://[::1]:5000/") == ("http", "::1", 5000)


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://registry.example/token", True),
        ("http://127.0.0.1:5000/token", True),
        ("http://127.1.2.3/token", True),
        ("http://localhost:5000/token", True),
        ("http://[::1]:5000/token", True),
        ("http://registry.example/token", False),
        ("http://10.0.0.1:5000/token", False),
        ("http://localhost.registry.example/token", False),
        ("ftp://127.0.0.1/token", False),
    ],
)
def test_basic_credentials_travel_only_over_https_or_to_loopback(url: str, allowed: bool) -> None:
    assert may_send_basic(url) is allowed


def test_loopback_names_are_not_resolved() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("LOCALHOST")
    assert not is_loopback("registry.example") and not is_loopback("192.168.1.1")


def test_a_plain_http_token_realm_elsewhere_gets_no_credentials() -> None:
    state = RegistryState(realm="http://auth.example/token")
    with serve(state) as registry:
        session = RegistrySession(f"http://{registry}", REPOSITORY, credentials=("bob", "pw"))
        with pytest.raises(
            HubError, match=r"token realm http://auth.example/token is plain http .* \(expected an https realm"
        ):
            session.request("HEAD", f"/v2/{REPOSITORY}/blobs/sha256:00", ok=(200, 404))
    assert [s.host for s in state.seen] == [registry]  # the realm was never asked


def test_a_realm_that_is_not_a_url_is_refused() -> None:
    state = RegistryState(realm="file:///etc/passwd")
    with serve(state) as registry:
        session = RegistrySession(f"http://{registry}", REPOSITORY, credentials=("bob", "pw"))
        with pytest.raises(HubError, match="realm 'file:///etc/passwd'; expected an http.s. URL"):
            session.request("HEAD", f"/v2/{REPOSITORY}/blobs/sha256:00", ok=(200, 404))


def test_a_token_from_the_realm_is_used_for_the_registry_only() -> None:
    state = RegistryState()
    with serve(state) as registry:
        session = RegistrySession(f"http://{registry}", REPOSITORY, credentials=("bob", "pw"))
        assert session.request("HEAD", f"/v2/{REPOSITORY}/blobs/sha256:00", ok=(200, 404)).status == 404
    assert [s.authorization for s in state.seen] == [None, state.basic(), "Bearer tok-123"]


def test_a_wrong_password_gets_no_token() -> None:
    state = RegistryState()
    with serve(state) as registry:
        session = RegistrySession(f"http://{registry}", REPOSITORY, credentials=("bob", "wrong"))
        with pytest.raises(HubError, match=r"/token: cannot get a registry token: HTTP 401 \(credentials: HUB_"):
            session.request("HEAD", f"/v2/{REPOSITORY}/blobs/sha256:00", ok=(200, 404))


def test_a_dead_registry_is_retried_then_reported() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    session = RegistrySession(f"http://127.0.0.1:{port}", REPOSITORY, attempts=3, sleep=waits.append)
    with pytest.raises(HubError, match=rf"HEAD http://127.0.0.1:{port}/v2/: .*refused \(after 3 attempts\)"):
        session.request("HEAD", "/v2/")
    assert waits == [1.0, 2.0]
