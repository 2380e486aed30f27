"""Tests for hub.upstream.bump: choosing the newest release, and updating one exporter end to end
against a fake GitHub (testkit.fake_github)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from hub import cli
from hub.manifest.load import load_manifest
from hub.upstream.bump import newest_release, update_exporter, version_of_tag
from hub.upstream.github import Release
from hub.upstream.lock import check_lock, read_lock
from testkit.fake_github import (
    FOO,
    PUBLISHED,
    FakeGitHub,
    archive,
    client,
    foo_world,
    running_github,
    simple,
    write,
)
from testkit.releases import sha


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with running_github() as gh:
        yield gh


def test_bump_with_api_digests(github: FakeGitHub, tmp_path: Path) -> None:
    data = foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated", result.message
    assert (result.old_version, result.new_version, result.tag) == ("v1.2.0", "v1.10.0", "v1.10.0")
    assert result.release_url == "https://github.com/acme/foo_exporter/releases/tag/v1.10.0"

    # Only the version line changed; comments, anchors and the rest are intact.
    assert path.read_text() == FOO.replace("version: v1.2.0  # bumped", "version: v1.10.0  # bumped")
    assert load_manifest(path).version == "v1.10.0"

    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None
    assert (lock.exporter, lock.version, lock.source_date) == ("foo_exporter", "v1.10.0", PUBLISHED)
    for arch in ("amd64", "arm64"):
        a = lock.archives[arch]
        # The canonical GitHub URL, never the fake server's download URL.
        assert a.url == f"https://github.com/acme/foo_exporter/releases/download/v1.10.0/foo-1.10.0.linux-{arch}.tar.gz"
        assert (a.sha256, a.size) == (sha(data[arch]), len(data[arch]))
    assert [a.method for a in result.assets] == ["api-digest", "api-digest"]
    assert check_lock(load_manifest(path), lock) == []  # what package builds will check

    # Every page was read; nothing was downloaded (the digests come from the API).
    pages = github.paths("/repos/acme/foo_exporter/releases")
    assert pages == [
        "/repos/acme/foo_exporter/releases?per_page=100",
        "/repos/acme/foo_exporter/releases?per_page=100&page=2",
        "/repos/acme/foo_exporter/releases?per_page=100&page=3",
    ]
    assert github.paths("/assets/") == [] and github.paths("/mirror/") == []


def test_dry_run_changes_nothing(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    before = sorted(p.name for p in path.parent.iterdir())
    result = update_exporter(load_manifest(path), client(github), dry_run=True)
    assert result.status == "available"
    assert (result.new_version, result.source_date) == ("v1.10.0", PUBLISHED)
    assert [a.method for a in result.assets] == ["api-digest", "api-digest"]
    assert path.read_text() == FOO
    assert sorted(p.name for p in path.parent.iterdir()) == before  # no lock, no temporary file
    assert github.paths("/assets/") == []


def test_missing_arm64_asset(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/half_exporter"
    amd = github.asset(repo, "v1.1.0", "half_exporter-1.1.0.linux-amd64.tar.gz", archive("half", "amd64"))
    github.releases(repo, [[github.release(repo, "v1.1.0", [amd])]])
    text = simple("half_exporter", "v1.0.0")
    path = write(tmp_path, "half_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "error"
    assert result.message == (
        "release v1.1.0 of acme/half_exporter has no asset arm64: half_exporter-1.1.0.linux-arm64.tar.gz "
        "(from upstream.archive_name '{name}-{clean_version}.linux-{arch}.tar.gz'); "
        "its assets: half_exporter-1.1.0.linux-amd64.tar.gz"
    )
    assert path.read_text() == text and not (path.parent / "upstream.lock.json").exists()


def test_only_prereleases(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/foo_exporter"
    github.releases(
        repo, [[github.release(repo, "v2.0.0-rc.1", [], prerelease=True), github.release(repo, "v2.0.0-beta.1", [])]]
    )  # not flagged, still a prerelease
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), client(github))
    assert result.status == "error"
    assert result.message == (
        "acme/foo_exporter: no stable release whose tag fits upstream.tag '{version}' "
        "(drafts, prereleases and non-semver tags are skipped)"
    )


def test_pinned_strategy_is_untouched(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    text = FOO.replace("  repo: acme/foo_exporter\n", "  repo: acme/foo_exporter\n  strategy: pinned\n")
    path = write(tmp_path, "foo_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert (result.status, result.message) == ("skipped", "upstream.strategy is pinned: never bumped automatically")
    assert path.read_text() == text and not (path.parent / "upstream.lock.json").exists()
    assert github.log == []


def test_up_to_date(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    text = FOO.replace("version: v1.2.0", "version: v1.10.0")
    path = write(tmp_path, "foo_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert (result.status, result.message) == ("up-to-date", "the newest stable release is v1.10.0")
    assert path.read_text() == text
    ahead = write(tmp_path / "b", "foo_exporter", FOO.replace("version: v1.2.0", "version: v1.11.0-rc.1"))
    result = update_exporter(load_manifest(ahead), client(github))
    assert result.message == "the newest stable release is v1.10.0 (the manifest is ahead of it)"


def test_license_is_filled_from_the_api(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO.replace("license: Apache-2.0\n", ""))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated" and result.license == "Apache-2.0"
    assert path.read_text() == FOO.replace("version: v1.2.0  # bumped", "version: v1.10.0  # bumped")

    # Up to date: the license alone is set. NOASSERTION is never written.
    github.routes.pop("/repos/acme/foo_exporter")
    github.repo("acme/foo_exporter", "NOASSERTION")
    path = write(tmp_path / "b", "foo_exporter", FOO.replace("license: Apache-2.0\n", "").replace("v1.2.0", "v1.10.0"))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "up-to-date" and result.license is None
    assert load_manifest(path).license is None


def test_cli_bad_manifest_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad_exporter", "name: bad_exporter\nversion: [1]\n")
    assert cli.main(["update-upstreams", "--api-url", "http://127.0.0.1:9", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize(
    "tag_pattern,version,tag,expected",
    [
        ("{version}", "v1.2.0", "v1.10.0", "v1.10.0"),
        ("{version}", "v1.2.0", "1.10.0", "1.10.0"),  # as upstream tags it
        ("{version}", "v1.2.0", "v1.10", None),
        ("{version}", "v1.2.0", "nightly", None),
        ("v{clean_version}", "1.2.0", "v1.3.0", "1.3.0"),
        ("v{clean_version}", "v1.2.0", "v1.3.0", "v1.3.0"),
        ("v{clean_version}", "1.2.0", "1.3.0", None),
        ("{name}-{version}", "v1.2.0", "foo_exporter-v2.0.0", "v2.0.0"),
        ("{name}-{version}", "v1.2.0", "bar-v2.0.0", None),
        ("release-{clean_version}", "1.2.0", "release-1.3.0-rc.1", "1.3.0-rc.1"),
        ("{version}", "v1.2.0", "v1.3.0+build.1", "v1.3.0+build.1"),
    ],
)
def test_version_of_tag(tmp_path: Path, tag_pattern: str, version: str, tag: str, expected: str | None) -> None:
    text = FOO.replace("version: v1.2.0", f"version: '{version}'").replace(
        "  repo: acme/foo_exporter\n", f"  repo: acme/foo_exporter\n  tag: '{tag_pattern}'\n"
    )
    manifest = load_manifest(write(tmp_path, "foo_exporter", text))
    assert version_of_tag(manifest, tag) == expected


def test_newest_release_by_semver_not_by_date(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "foo_exporter", FOO))

    def rel(tag: str, **kw: Any) -> Release:
        return Release(tag, tag, kw.get("draft", False), kw.get("prerelease", False), PUBLISHED, None, ())

    releases = [
        rel("v1.9.9"),
        rel("v3.0.0", draft=True),
        rel("v2.0.0-rc.2"),
        rel("v2.0.0", prerelease=True),
        rel("v1.10.0"),
        rel("v1.9.10"),
        rel("latest"),
    ]
    found = newest_release(manifest, releases)
    assert found is not None and found[1] == "v1.10.0"
    assert newest_release(manifest, [rel("v2.0.0-rc.2")]) is None
