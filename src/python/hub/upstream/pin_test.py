"""Tests for hub.upstream.pin (update-lock), end to end through a mirror, and the `update-lock` and `fetch` commands."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Iterator

import pytest

from hub.common.dates import format_source_date
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.upstream.archive import MAX_METADATA, ArchiveError
from hub.upstream.lock import check_lock, lock_path_for, read_lock
from hub.upstream.pin import update_lock
from hub.upstream.mirror import build_mirror, serve
from testkit import debs
from testkit.archives import MiB, pax_header_bomb
from testkit.fake_github import client, running_github
from testkit.releases import MANIFEST, Server, serving, sha, tar_gz, write_manifest


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path / "www") as s:
        yield s


def publish_release(server: Server) -> dict[str, bytes]:
    archives = {
        "amd64": tar_gz({"foo-1.2.3.linux-amd64/foo": (b"amd64 binary", 1_748_779_200)}),
        "arm64": tar_gz({"foo-1.2.3.linux-arm64/foo": (b"arm64 binary", 1_748_779_260)}),
    }
    for arch, data in archives.items():
        server.put(f"acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-{arch}.tar.gz", data)
    return archives


def test_update_lock_through_mirror(server: Server, tmp_path: Path) -> None:
    archives = publish_release(server)
    manifest_path = write_manifest(tmp_path)
    manifest = load_manifest(manifest_path)
    lock_path = lock_path_for(manifest_path)

    lock = update_lock(manifest, lock_path, mirror=server.url)
    assert lock.exporter == "foo" and lock.version == "v1.2.3"
    assert lock.source_date == "2025-06-01T12:01:00Z"  # the newest member of both archives
    for arch, data in archives.items():
        pinned = lock.archives[arch]
        assert pinned.url == f"https://github.com/acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-{arch}.tar.gz"
        assert (pinned.sha256, pinned.size) == (sha(data), len(data))
    assert read_lock(lock_path) == lock
    assert check_lock(manifest, lock) == []
    # both archives, and the checksums files a release may publish (none here), each asked once
    base = "/acme/foo/releases/download/v1.2.3/"
    assert sorted(server.requests) == sorted(
        [
            f"{base}foo-1.2.3.linux-{arch}.tar.gz{suffix}"
            for arch in archives
            for suffix in ("", ".sha256", ".sha256sum")
        ]
        + [f"{base}{name}" for name in ("sha256sums.txt", "SHA256SUMS", "checksums.txt", "foo_1.2.3_checksums.txt")]
    )
    assert sorted(os.listdir(manifest_path.parent)) == ["manifest.yaml", "upstream.lock.json"]

    # current: nothing downloaded, nothing rewritten
    mtime = os.stat(lock_path).st_mtime_ns
    server.requests.clear()
    assert update_lock(manifest, lock_path, mirror=server.url) == lock
    assert server.requests == [] and os.stat(lock_path).st_mtime_ns == mtime
    # forced: downloaded again, same lock
    assert update_lock(manifest, lock_path, mirror=server.url + "/", force=True) == lock
    assert len([p for p in server.requests if p.endswith(".tar.gz")]) == 2


def test_update_lock_after_a_version_bump(server: Server, tmp_path: Path) -> None:
    publish_release(server)
    manifest_path = write_manifest(tmp_path)
    lock_path = lock_path_for(manifest_path)
    update_lock(load_manifest(manifest_path), lock_path, mirror=server.url)
    new = tar_gz({"foo": (b"v2", 1_800_000_000)})
    for arch in ("amd64", "arm64"):
        server.put(f"acme/foo/releases/download/v2.0.0/foo-2.0.0.linux-{arch}.tar.gz", new)
    bumped = load_manifest(write_manifest(tmp_path, {**MANIFEST, "version": "v2.0.0"}))
    assert [e.field for e in check_lock(bumped, read_lock(lock_path))] == [
        "version",
        "archives.amd64.url",
        "archives.arm64.url",
    ]
    lock = update_lock(bumped, lock_path, mirror=server.url)
    assert lock.version == "v2.0.0" and lock.archives["amd64"].sha256 == sha(new)
    assert lock.source_date == format_source_date(1_800_000_000)


def test_update_lock_single_arch_gz(server: Server, tmp_path: Path) -> None:
    data = gzip.compress(b"\x7fELF...", mtime=1_700_000_000)
    server.put("ClusterLabs/ha/releases/download/1.4.0/ha-amd64.gz", data)
    manifest = load_manifest(
        write_manifest(
            tmp_path,
            {
                **MANIFEST,
                "name": "ha",
                "version": "1.4.0",
                "upstream": {"repo": "ClusterLabs/ha", "archive_name": "{name}-{arch}.gz"},
                "build": {"binary_name": "ha", "archs": ["amd64"]},
            },
        )
    )
    lock = update_lock(manifest, tmp_path / "lock.json", mirror=server.url)
    assert list(lock.archives) == ["amd64"]
    assert lock.archives["amd64"].url == "https://github.com/ClusterLabs/ha/releases/download/1.4.0/ha-amd64.gz"
    assert lock.source_date_epoch == 1_700_000_000


def test_update_lock_failure_writes_nothing(server: Server, tmp_path: Path) -> None:
    server.put("acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-amd64.tar.gz", tar_gz({"foo": (b"x", 1)}))
    manifest_path = write_manifest(tmp_path)  # arm64 is missing upstream
    with pytest.raises(HubError, match=r"HTTP 404"):
        update_lock(load_manifest(manifest_path), lock_path_for(manifest_path), mirror=server.url)
    assert not os.path.exists(lock_path_for(manifest_path))


def test_update_lock_reads_archives_under_the_extraction_limits(server: Server, tmp_path: Path) -> None:
    """A pax header of 2 MiB (over the 1 MiB an extraction allows) is refused while pinning,
    naming the URL it came from, and no lock is written."""
    url = server.put(
        "acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-amd64.tar.gz",
        pax_header_bomb(tmp_path / "bomb.tar.gz", header_size=2 * MiB).read_bytes(),
    )
    server.put("acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-arm64.tar.gz", tar_gz({"foo": (b"x", 1)}))
    manifest_path = write_manifest(tmp_path)
    with pytest.raises(ArchiveError, match=rf"^{re.escape(url)}: more than {MAX_METADATA} bytes of tar headers"):
        update_lock(load_manifest(manifest_path), lock_path_for(manifest_path), mirror=server.url)
    assert not os.path.exists(lock_path_for(manifest_path))


def test_update_lock_local_archives(tmp_path: Path) -> None:
    data = {**MANIFEST, "upstream": {"local": {"amd64": "dist/foo-amd64.tar.gz", "arm64": "dist/foo-arm64.tar.gz"}}}
    manifest_path = write_manifest(tmp_path, data)
    (manifest_path.parent / "dist").mkdir()
    for arch, when in (("amd64", 1_700_000_000), ("arm64", 1_700_000_100)):
        (manifest_path.parent / "dist" / f"foo-{arch}.tar.gz").write_bytes(tar_gz({"foo": (arch.encode(), when)}))
    manifest = load_manifest(manifest_path)
    lock = update_lock(manifest, lock_path_for(manifest_path))
    assert lock.archives["arm64"].url == "dist/foo-arm64.tar.gz"
    assert lock.source_date_epoch == 1_700_000_100
    assert read_lock(lock_path_for(manifest_path)) == lock and check_lock(manifest, lock) == []


def test_cli_update_lock(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli import main

    archives = publish_release(server)
    manifest_path = write_manifest(tmp_path)
    lock_path = lock_path_for(manifest_path)
    assert main(["update-lock", str(manifest_path), "--mirror", server.url]) == 0
    base = "https://github.com/acme/foo/releases/download/v1.2.3"
    assert capsys.readouterr().out.splitlines() == [
        f"{lock_path}: {arch} sha256={sha(data)} size={len(data)} {base}/foo-1.2.3.linux-{arch}.tar.gz"
        for arch, data in archives.items()
    ]
    assert main(["update-lock", str(manifest_path), "--mirror", server.url]) == 0
    assert all(line.endswith("(unchanged)") for line in capsys.readouterr().out.splitlines())

    out = tmp_path / "fetched.tar.gz"
    assert main(["fetch", str(manifest_path), "--arch", "arm64", "--out", str(out), "--mirror", server.url]) == 0
    assert out.read_bytes() == archives["arm64"]

    server.put("acme/foo/releases/download/v1.2.3/foo-1.2.3.linux-arm64.tar.gz", b"tampered")
    assert (
        main(
            [
                "fetch",
                str(manifest_path),
                "--arch",
                "arm64",
                "--out",
                str(tmp_path / "t.tar.gz"),
                "--mirror",
                server.url,
            ]
        )
        == 2
    )
    assert "size mismatch for" in capsys.readouterr().err
    assert not (tmp_path / "t.tar.gz").exists()


# --- what the release publishes --------------------------------------------------------------


def test_update_lock_through_the_offline_mirror_checks_its_checksums_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The offline mirror serves sha256sums.txt next to the archives: update-lock checks each
    download against it. A checksums file that disagrees with an archive makes update-lock
    fail, naming both digests, and the lock stays as it was."""
    from hub.cli import main

    manifest_path = debs.write_manifest(tmp_path)
    out = tmp_path / "mirror"
    entries = build_mirror(
        [load_manifest(manifest_path)], out, cache_dir=debs.make_cache(tmp_path), table=debs.FAKE_TABLE
    )
    lock_path = Path(lock_path_for(manifest_path))
    with serve(out) as base:
        assert main(["update-lock", str(manifest_path), "--mirror", base]) == 0
        before = lock_path.read_bytes()
        assert json.loads(before)["archives"]["arm64"]["sha256"] == entries[1].sha256

        sums = entries[1].path.parent / "sha256sums.txt"
        wrong = "f" * 64
        sums.write_text(sums.read_text().replace(entries[1].sha256, wrong))
        capsys.readouterr()
        assert main(["update-lock", str(manifest_path), "--mirror", base, "--force"]) == 2
    err = capsys.readouterr().err
    assert f"the archive's sha256 is {entries[1].sha256}, but the checksums file {base}" in err
    assert f"sha256sums.txt gives {wrong}; refusing to pin it" in err
    assert lock_path.read_bytes() == before


def test_update_lock_reads_goreleaser_checksums(server: Server, tmp_path: Path) -> None:
    archives = publish_release(server)
    base = "acme/foo/releases/download/v1.2.3"
    server.put(f"{base}/foo_1.2.3_checksums.txt", f"{sha(archives['amd64'])}  foo-1.2.3.linux-amd64.tar.gz\n".encode())
    server.put(f"{base}/sha256sums.txt", b"# no line for our archives\n")
    manifest_path = write_manifest(tmp_path)
    update_lock(load_manifest(manifest_path), lock_path_for(manifest_path), mirror=server.url)
    asked = [p.rsplit("/", 1)[-1] for p in server.requests]
    assert "foo_1.2.3_checksums.txt" in asked and "foo-1.2.3.linux-amd64.tar.gz.sha256" in asked

    server.put(f"{base}/foo_1.2.3_checksums.txt", f"{'0' * 64}  foo-1.2.3.linux-amd64.tar.gz\n".encode())
    with pytest.raises(
        HubError, match=f"sha256 is {sha(archives['amd64'])}, but the checksums file .* gives {'0' * 64}"
    ):
        update_lock(load_manifest(manifest_path), lock_path_for(manifest_path), mirror=server.url, force=True)


def test_update_lock_checks_the_api_digest(tmp_path: Path) -> None:
    """Without a mirror, the release's assets come from the API: a wrong digest is refused."""
    with running_github() as gh:
        repo, tag = "acme/foo", "v1.2.3"
        data = {arch: tar_gz({f"foo-{arch}/foo": (arch.encode(), 1_700_000_000)}) for arch in ("amd64", "arm64")}
        assets = [gh.asset(repo, tag, f"foo-1.2.3.linux-{arch}.tar.gz", data[arch]) for arch in data]
        assets[1]["digest"] = "sha256:" + "e" * 64
        gh.add_json(f"/repos/{repo}/releases/tags/{tag}", gh.release(repo, tag, assets))
        manifest = load_manifest(write_manifest(tmp_path))
        lock_path = Path(lock_path_for(manifest.path))
        with pytest.raises(HubError) as info:
            update_lock(manifest, lock_path, github=client(gh))
        assert str(info.value) == (
            f"sha256 mismatch for {gh.url}/assets/{repo}/{tag}/foo-1.2.3.linux-arm64.tar.gz: the archive's sha256 is "
            f"{sha(data['arm64'])}, but the GitHub API's digest of foo-1.2.3.linux-arm64.tar.gz gives {'e' * 64}; "
            "refusing to pin it (expected the published digest)"
        )
        assert not lock_path.exists()
        assets[1]["digest"] = f"sha256:{sha(data['arm64'])}"
        gh.routes.clear()
        for arch in data:
            gh.asset(repo, tag, f"foo-1.2.3.linux-{arch}.tar.gz", data[arch])
        gh.add_json(f"/repos/{repo}/releases/tags/{tag}", gh.release(repo, tag, assets))
        lock = update_lock(manifest, lock_path, github=client(gh))
        assert lock.archives["arm64"].sha256 == sha(data["arm64"])
        assert (
            lock.archives["arm64"].url
            == f"https://github.com/{repo}/releases/download/{tag}/foo-1.2.3.linux-arm64.tar.gz"
        )


def test_with_a_mirror_the_api_is_not_asked(server: Server, tmp_path: Path) -> None:
    """A mirror stands for an air-gapped site: checksums files by their usual names only."""
    archives = publish_release(server)
    sums = f"{'1' * 64}  foo-1.2.3.linux-amd64.tar.gz\n"
    server.put("acme/foo/releases/download/v1.2.3/sha256sums.txt", sums.encode())
    notes: list[str] = []
    with running_github() as gh:
        manifest = load_manifest(write_manifest(tmp_path))
        with pytest.raises(HubError, match=f"sha256 is {sha(archives['amd64'])}, but the checksums file"):
            update_lock(manifest, lock_path_for(manifest.path), github=client(gh), mirror=server.url, log=notes.append)
    assert notes == [] and not gh.log
