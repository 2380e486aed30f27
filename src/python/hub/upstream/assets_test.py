"""Tests for hub.upstream.assets: each way to pin an asset (API digest, checksums file, download), mirrors."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from hub.manifest.load import load_manifest
from hub.upstream.bump import update_exporter
from hub.upstream.lock import read_lock
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


def test_download_mode_takes_source_date_from_the_bytes(github: FakeGitHub, tmp_path: Path) -> None:
    data = foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github), download_all=True)
    assert result.status == "updated", result.message
    assert [a.method for a in result.assets] == ["download (matches api-digest)"] * 2
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.source_date == "2023-11-14T22:13:20Z"
    assert lock.archives["arm64"].sha256 == sha(data["arm64"])
    assert sorted(github.paths("/assets/")) == [
        "/assets/acme/foo_exporter/v1.10.0/foo-1.10.0.linux-amd64.tar.gz",
        "/assets/acme/foo_exporter/v1.10.0/foo-1.10.0.linux-arm64.tar.gz",
    ]


def test_mirror_is_used_for_downloads(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github), download_all=True, mirror=f"{github.url}/mirror")
    assert result.status == "updated", result.message
    assert github.paths("/assets/") == []
    assert sorted(github.paths("/mirror/")) == [
        "/mirror/acme/foo_exporter/releases/download/v1.10.0/foo-1.10.0.linux-amd64.tar.gz",
        "/mirror/acme/foo_exporter/releases/download/v1.10.0/foo-1.10.0.linux-arm64.tar.gz",
    ]
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.archives["amd64"].url.startswith("https://github.com/acme/foo_exporter/")


def test_checksums_file_when_the_api_has_no_digest(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/sums_exporter"
    data = {arch: archive("sums", arch) for arch in ("amd64", "arm64")}
    names = {arch: f"sums_exporter_0.5.0_linux_{arch}.tar.gz" for arch in data}
    sums = (
        "".join(f"{sha(data[a])}  {names[a]}\n" for a in data)
        + f"{'0' * 64}  sums_exporter_0.5.0_darwin_arm64.tar.gz\n"
    )
    assets = [github.asset(repo, "v0.5.0", names[a], data[a], digest=False) for a in data]
    assets.append(github.asset(repo, "v0.5.0", "sums_exporter_0.5.0_checksums.txt", sums.encode(), digest=False))
    github.releases(repo, [[github.release(repo, "v0.5.0", assets), github.release(repo, "v0.4.0", [])]])
    text = simple(
        "sums_exporter",
        "'0.4.0'",
        extra_upstream="  tag: 'v{clean_version}'\n  archive_name: '{name}_{clean_version}_linux_{arch}.tar.gz'\n",
    )
    path = write(tmp_path, "sums_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated", result.message
    # {clean_version} in the tag: the manifest keeps its own style (no leading v, quoted).
    assert path.read_text() == text.replace("version: '0.4.0'", "version: '0.5.0'")
    assert [a.method for a in result.assets] == ["checksums-file", "checksums-file"]
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.version == "0.5.0" and lock.source_date == PUBLISHED
    assert lock.archives["amd64"].sha256 == sha(data["amd64"])
    assert lock.archives["amd64"].url == (
        "https://github.com/acme/sums_exporter/releases/download/v0.5.0/sums_exporter_0.5.0_linux_amd64.tar.gz"
    )
    # Only the checksums file was downloaded, once.
    assert github.paths("/assets/") == ["/assets/acme/sums_exporter/v0.5.0/sums_exporter_0.5.0_checksums.txt"]


def test_download_when_nothing_else_knows_the_digest(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/dl_exporter"
    data = archive("dl", "amd64")
    asset = github.asset(repo, "v3.1.0", "dl_exporter-3.1.0.linux-amd64.tar.gz", data, digest=False)
    github.releases(repo, [[github.release(repo, "v3.1.0", [asset])]])
    path = write(tmp_path, "dl_exporter", simple("dl_exporter", "v3.0.0", archs="[amd64]"))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated", result.message
    assert [a.method for a in result.assets] == ["download"]
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.archives["amd64"].sha256 == sha(data)
    assert lock.source_date == "2023-11-14T22:13:20Z"  # every archive was downloaded: from the bytes


def test_a_wrong_api_digest_is_caught_when_downloading(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/dl_exporter"
    asset = github.asset(repo, "v3.1.0", "dl_exporter-3.1.0.linux-amd64.tar.gz", archive("dl", "amd64"))
    asset["digest"] = "sha256:" + "0" * 64
    github.releases(repo, [[github.release(repo, "v3.1.0", [asset])]])
    path = write(tmp_path, "dl_exporter", simple("dl_exporter", "v3.0.0", archs="[amd64]"))
    result = update_exporter(load_manifest(path), client(github), download_all=True)
    assert result.status == "error"
    assert "sha256 mismatch" in (result.message or "")
    assert "version: v3.0.0" in path.read_text()
    assert not (path.parent / "upstream.lock.json").exists()
