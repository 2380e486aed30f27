"""Tests for hub.upstream.mirror: the mirror's entries, refusals, serving and the `mirror` command.

Most tests build small fake .debs with dpkg-deb (testkit.debs; no network).
``test_real_node_exporter`` downloads Debian's real prometheus-node-exporter for amd64 and arm64
through apt and never skips.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hub import cli
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.upstream import debian
from hub.upstream.debian import DebianBuild
from hub.upstream.mirror import Relabel, build_mirror, relabel_manifests, serve
from testkit.debs import (
    EM,
    FAKE_PACKAGE,
    FAKE_TABLE,
    make_cache,
    make_deb,
    sha256,
    standard_files,
    write_manifest,
)

REPO_ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return make_cache(tmp_path)


def test_no_debian_build_is_skipped(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, name="unknown_exporter"))
    out = tmp_path / "m"
    entries = build_mirror([manifest], out, cache_dir=tmp_path / "cache")
    assert [(e.exporter, e.status) for e in entries] == [
        ("unknown_exporter", "no-debian-build"),
        ("unknown_exporter", "no-debian-build"),
    ]
    assert all(e.path is None for e in entries)
    assert not out.exists() or not any(out.rglob("*.tar.gz"))


def test_wrong_arch_binary_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    files = standard_files("amd64")
    make_deb(cache, tmp_path / "debs", "arm64", files)  # an arm64 .deb holding amd64 binaries
    manifest = load_manifest(write_manifest(tmp_path))
    with pytest.raises(HubError, match="not an ELF binary for arm64"):
        build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=FAKE_TABLE, archs=["arm64"])


def test_serve(tmp_path: Path, cache: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path))
    out = tmp_path / "m"
    entries = build_mirror([manifest], out, cache_dir=cache, table=FAKE_TABLE, archs=["amd64"])
    with serve(out) as base:
        assert base.startswith("http://127.0.0.1:") and base.endswith("/")
        # what a fetch does with the mirror option: replace the https://github.com/ prefix
        url = manifest.archive_url("amd64").replace("https://github.com/", base, 1)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert hashlib.sha256(response.read()).hexdigest() == entries[0].sha256
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "example/nothing/here.tar.gz", timeout=10)
        assert missing.value.code == 404


def test_cli_build(tmp_path: Path, cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(debian, "DEBIAN_BUILDS", FAKE_TABLE)
    fake = write_manifest(tmp_path)
    other = write_manifest(tmp_path, name="other_exporter")
    out = tmp_path / "m"
    rc = cli.main(
        ["mirror", "build", "--out", str(out), "--cache", str(cache), "--arch", "amd64", str(fake), str(other.parent)]
    )
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    archive = out / "example/fake_exporter/releases/download/v1.2.3/fake_exporter-1.2.3.linux-amd64.tar.gz"
    assert lines[0] == f"fake_exporter\tamd64\t{archive}\t{sha256(archive)}"
    assert lines[1].startswith("other_exporter\tamd64\tno-debian-build")
    assert lines[-1].startswith("1 archive(s) written")
    assert "other_exporter (no-debian-build)" in lines[-1]


def test_cli_build_apt_error_exits_2(tmp_path: Path, monkeypatch, capsys) -> None:
    table = {"fake_exporter": DebianBuild("hub-no-such-package-for-tests", {"x": "/usr/bin/x"})}
    monkeypatch.setattr(debian, "DEBIAN_BUILDS", table)
    rc = cli.main(
        [
            "mirror",
            "build",
            "--out",
            str(tmp_path / "m"),
            "--cache",
            str(tmp_path / "c"),
            "--arch",
            "amd64",
            str(write_manifest(tmp_path)),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: apt-get download hub-no-such-package-for-tests:amd64 failed")


def test_relabel_sets_the_debian_builds_version(tmp_path: Path, cache: Path) -> None:
    path = write_manifest(tmp_path)
    text = path.read_text()
    (relabel,) = relabel_manifests([load_manifest(path)], cache_dir=cache, table=FAKE_TABLE)
    assert relabel == Relabel("fake_exporter", "v1.2.3", "v0.9.0", FAKE_PACKAGE, "0.9.0-1")
    # Only the version line changed, and the archives are now named after the build's version.
    assert path.read_text() == text.replace("version: v1.2.3", "version: v0.9.0")
    manifest = load_manifest(path)
    (entry,) = build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=FAKE_TABLE, archs=["amd64"])
    assert entry.url_path == "example/fake_exporter/releases/download/v0.9.0/fake_exporter-0.9.0.linux-amd64.tar.gz"
    # Again: nothing to change.
    assert relabel_manifests([manifest], cache_dir=cache, table=FAKE_TABLE)[0].new_version == "v0.9.0"
    assert path.read_text() == text.replace("version: v1.2.3", "version: v0.9.0")


def test_relabel_leaves_exporters_without_a_debian_build_and_refuses_mixed_versions(tmp_path: Path) -> None:
    other = write_manifest(tmp_path, name="other_exporter")
    before = other.read_text()
    assert relabel_manifests([load_manifest(other)], cache_dir=tmp_path / "c", table=FAKE_TABLE) == []
    assert other.read_text() == before
    cache = tmp_path / "cache"
    make_deb(cache, tmp_path / "debs", "amd64", standard_files("amd64"), version="0.9.0-1")
    make_deb(cache, tmp_path / "debs", "arm64", standard_files("arm64"), version="1.0.0-1")
    fake = write_manifest(tmp_path)
    with pytest.raises(HubError, match=f"{FAKE_PACKAGE} differs between arches: 0.9.0-1, 1.0.0-1"):
        relabel_manifests([load_manifest(fake)], cache_dir=cache, table=FAKE_TABLE)
    assert "version: v1.2.3" in fake.read_text()


def test_cli_build_relabel(tmp_path: Path, cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(debian, "DEBIAN_BUILDS", FAKE_TABLE)
    fake = write_manifest(tmp_path)
    out = tmp_path / "m"
    rc = cli.main(
        ["mirror", "build", "--relabel", "--out", str(out), "--cache", str(cache), "--arch", "amd64", str(fake)]
    )
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"fake_exporter: version v1.2.3 -> v0.9.0 ({FAKE_PACKAGE} 0.9.0-1)"
    archive = out / "example/fake_exporter/releases/download/v0.9.0/fake_exporter-0.9.0.linux-amd64.tar.gz"
    assert lines[1] == f"fake_exporter\tamd64\t{archive}\t{sha256(archive)}"
    assert load_manifest(fake).version == "v0.9.0"


def node_exporter_manifest(tmp_path: Path):
    real = REPO_ROOT / "exporters" / "node_exporter" / "manifest.yaml"
    if real.is_file():
        return load_manifest(real)
    directory = tmp_path / "exporters" / "node_exporter"
    directory.mkdir(parents=True)
    (directory / "manifest.yaml").write_text(
        "name: node_exporter\ndescription: Hardware and OS metrics exporter for Prometheus\n"
        "category: System\nversion: v1.11.0\nupstream:\n  repo: prometheus/node_exporter\n"
        "build:\n  binary_name: node_exporter\n  archs: [amd64, arm64]\n"
    )
    return load_manifest(directory / "manifest.yaml")


def test_real_node_exporter(tmp_path: Path) -> None:
    assert shutil.which("apt-get") and shutil.which("dpkg-deb"), "needs Debian's apt and dpkg"
    manifest = node_exporter_manifest(tmp_path)
    cache = tmp_path / "cache"
    entries = build_mirror([manifest], tmp_path / "m", cache_dir=cache, jobs=2)
    assert [(e.arch, e.status) for e in entries] == [("amd64", "ok"), ("arm64", "ok")]
    for entry in entries:
        assert entry.debian_package == "prometheus-node-exporter"
        assert (cache / f"prometheus-node-exporter_{entry.debian_version}_{entry.arch}.deb").is_file()
        top = f"node_exporter-{manifest.clean_version}.linux-{entry.arch}"
        assert entry.url_path == (f"prometheus/node_exporter/releases/download/{manifest.tag}/{top}.tar.gz")
        with tarfile.open(entry.path) as tar:
            assert {f"{top}/node_exporter", f"{top}/LICENSE"} <= set(tar.getnames())
            binary = tar.extractfile(f"{top}/node_exporter").read()
        assert binary[:4] == b"\x7fELF"
        assert int.from_bytes(binary[18:20], "little") == EM[entry.arch]  # 62 x86-64, 183 AArch64
        assert len(binary) > 5_000_000
    # A second run is served from the cache (no apt-get) and gives identical archives.
    again = build_mirror([manifest], tmp_path / "m2", cache_dir=cache)
    assert [e.sha256 for e in again] == [e.sha256 for e in entries]


def test_each_release_directory_gets_a_checksums_file(tmp_path: Path, cache: Path) -> None:
    """As Prometheus' releases publish sha256sums.txt; a mirror built one arch at a time still
    lists every archive of the directory."""
    manifest = load_manifest(write_manifest(tmp_path))
    out = tmp_path / "m"
    build_mirror([manifest], out, cache_dir=cache, table=FAKE_TABLE, archs=["amd64"])
    entries = build_mirror([manifest], out, cache_dir=cache, table=FAKE_TABLE, archs=["arm64"])
    sums = entries[0].path.parent / "sha256sums.txt"
    archives = sorted(p for p in sums.parent.iterdir() if p.name != sums.name)
    assert sums.read_text() == "".join(f"{sha256(p)}  {p.name}\n" for p in archives)
    assert len(archives) == 2
