"""Tests for hub.upstream.github: headers and the token, pagination, errors and rate limits."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from hub.manifest.load import load_manifest
from hub.upstream.bump import update_exporter
from hub.upstream.github import GitHubClient, next_link
from testkit.fake_github import (
    FOO,
    FakeGitHub,
    client,
    foo_world,
    running_github,
    simple,
    write,
)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with running_github() as gh:
        yield gh


def test_api_headers_and_token(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github, token="t0k3n"), download_all=True)
    assert result.status == "updated", result.message
    api = [(p, h) for p, h in github.log if p.startswith("/repos/")]
    downloads = [(p, h) for p, h in github.log if p.startswith("/assets/")]
    assert api and downloads
    for _, h in api:
        assert h["authorization"] == "Bearer t0k3n"
        assert h["accept"] == "application/vnd.github+json"
        assert h["user-agent"].startswith("monitoring-hub/")
        assert h["x-github-api-version"] == "2022-11-28"
    for _, h in downloads:  # the token never leaves the API
        assert "authorization" not in h


def test_token_only_for_the_api_origin() -> None:
    c = GitHubClient("https://api.github.com", "secret")
    assert c._headers("https://api.github.com/repos/a/b/releases")["Authorization"] == "Bearer secret"
    assert "Authorization" not in c._headers("https://elsewhere.example/repos/a/b/releases?page=2")


def test_repository_gone(github: FakeGitHub, tmp_path: Path) -> None:
    path = write(tmp_path, "gone_exporter", simple("gone_exporter", "v1.0.0"))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "error"
    assert result.message == (
        f"acme/gone_exporter: repository not found on GitHub (HTTP 404 from {github.url}/repos/acme/gone_exporter/releases): "
        "renamed, deleted or private? fix upstream.repo"
    )


def rate_limited(gh: FakeGitHub, repo: str, reset: int) -> None:
    gh.add_json(
        f"/repos/{repo}/releases?per_page=100",
        {
            "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit.)",  # noqa: B950 - data
            "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
        },
        status=403,
        headers={
            "x-ratelimit-limit": "60",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": "60",
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        },
    )


def test_rate_limit_is_reported_and_the_rest_fails_fast(github: FakeGitHub, tmp_path: Path) -> None:
    now = 1_750_000_000
    rate_limited(github, "acme/limited_exporter", now + 600)
    foo_world(github)
    c = client(github, clock=lambda: now, sleep=lambda s: pytest.fail("must not wait"))
    limited = update_exporter(
        load_manifest(write(tmp_path, "limited_exporter", simple("limited_exporter", "v1.0.0"))), c
    )
    assert limited.status == "error"
    assert limited.message == (
        f"GitHub API rate limit exceeded (HTTP 403) for {github.url}/repos/acme/limited_exporter/releases?per_page=100: "
        "resets at 2025-06-15T15:16:40Z (in 600 s); set GITHUB_TOKEN for a higher limit; "
        "--max-wait allows waiting up to 0 s in total"
    )
    # The limit is global: the next exporter is reported without asking again.
    foo = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), c)
    assert foo.status == "error" and "not asked: GitHub API rate limit exceeded" in (foo.message or "")
    assert github.paths("/repos/acme/foo_exporter") == []


def test_rate_limit_within_max_wait_is_waited_out(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/foo_exporter"
    github.add_json(
        f"/repos/{repo}/releases?per_page=100",
        {"message": "You have exceeded a secondary rate limit."},
        status=429,
        headers={"retry-after": "7"},
    )
    foo_world(github)
    waits: list[float] = []
    c = client(github, max_wait=10, sleep=waits.append)
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), c)
    assert result.status == "updated", result.message
    assert waits == [7.0]


def test_rate_limit_beyond_max_wait(github: FakeGitHub, tmp_path: Path) -> None:
    github.add_json(
        "/repos/acme/foo_exporter/releases?per_page=100",
        {"message": "slow down"},
        status=429,
        headers={"retry-after": "60"},
    )
    c = client(github, max_wait=10, sleep=lambda s: pytest.fail("must not wait"))
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), c)
    assert result.status == "error" and "rate limit exceeded (HTTP 429)" in (result.message or "")
    assert "(in 60 s)" in (result.message or "")


def test_other_http_errors(github: FakeGitHub, tmp_path: Path) -> None:
    github.add_json("/repos/acme/foo_exporter/releases?per_page=100", {"message": "Bad credentials"}, status=401)
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), client(github, token="bad"))
    assert result.message == (
        f"{github.url}/repos/acme/foo_exporter/releases?per_page=100: HTTP 401: GitHub rejected the token in GITHUB_TOKEN: Bad credentials"  # noqa: B950 - data
    )


@pytest.mark.parametrize(
    "header,expected",
    [
        (None, None),
        (
            '<https://api.github.com/repositories/1/releases?page=2>; rel="next", <https://api.github.com/repositories/1/releases?page=5>; rel="last"',  # noqa: B950 - data
            "https://api.github.com/repositories/1/releases?page=2",
        ),
        ('<https://a/x?page=1>; rel="prev", <https://a/x?page=1>; rel="first"', None),
        ('<https://a/x?page=3>; rel="last next"', "https://a/x?page=3"),
        ("<https://a/x?page=3>; rel=next", "https://a/x?page=3"),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert next_link(header) == expected
