"""Tests for hub.upstream.pin (update-lock), end to end through a mirror, and the `update-lock` and `fetch` commands."""

from __future__ import annotations

import gzip
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
from testkit.archives import MiB, pax_header_bomb
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
    assert len(server.requests) == 2
    assert sorted(os.listdir(manifest_path.parent)) == ["manifest.yaml", "upstream.lock.json"]

    # current: nothing downloaded, nothing rewritten
    mtime = os.stat(lock_path).st_mtime_ns
    assert update_lock(manifest, lock_path, mirror=server.url) == lock
    assert len(server.requests) == 2 and os.stat(lock_path).st_mtime_ns == mtime
    # forced: downloaded again, same lock
    assert update_lock(manifest, lock_path, mirror=server.url + "/", force=True) == lock
    assert len(server.requests) == 4


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
