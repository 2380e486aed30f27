"""Tests for hub.upstream.repack: each upstream layout (tar.gz dir and flat, zip, single .gz), built
through the mirror from fake .debs (testkit.debs), and reproducible."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.upstream.debian import DebianBuild
from hub.upstream.mirror import build_mirror, elf_machine
from hub.upstream.repack import pack_archive
from hub.upstream.source_date import source_date_of
from testkit.debs import (
    EM,
    FAKE_MTIME,
    FAKE_PACKAGE,
    FAKE_TABLE,
    fake_elf,
    make_cache,
    make_deb,
    sha256,
    standard_files,
    write_manifest,
)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return make_cache(tmp_path)


def check_gzip_header(data: bytes, mtime: int = 0) -> None:
    """A .tar.gz records mtime 0 (its members carry the dates); a single .gz the binary's."""
    assert data[:3] == b"\x1f\x8b\x08"
    assert data[3] == 0, "no FNAME/FEXTRA/FCOMMENT flags"
    assert int.from_bytes(data[4:8], "little") == mtime, "gzip header mtime"


def test_tar_gz_layout_and_naming(tmp_path: Path, cache: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path))
    out = tmp_path / "mirror"
    entries = build_mirror([manifest], out, cache_dir=cache, table=FAKE_TABLE)

    assert [(e.exporter, e.arch, e.status) for e in entries] == [
        ("fake_exporter", "amd64", "ok"),
        ("fake_exporter", "arm64", "ok"),
    ]
    for entry in entries:
        arch = entry.arch
        rel = f"example/fake_exporter/releases/download/v1.2.3/fake_exporter-1.2.3.linux-{arch}.tar.gz"
        assert entry.url_path == rel
        assert entry.path == out / rel
        assert entry.sha256 == sha256(entry.path)
        assert entry.size == entry.path.stat().st_size
        assert entry.mtime == FAKE_MTIME
        assert (entry.debian_package, entry.debian_version) == (FAKE_PACKAGE, "0.9.0-1")
        # the URL the build derives, with the mirror in place of https://github.com/
        assert manifest.archive_url(arch) == "https://github.com/" + rel

        data = entry.path.read_bytes()
        check_gzip_header(data)
        top = f"fake_exporter-1.2.3.linux-{arch}"
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
            assert [m.name for m in members] == [
                f"{top}/",
                f"{top}/LICENSE",
                f"{top}/fake_exporter",
                f"{top}/faketool",
            ] or [m.name for m in members] == [top, f"{top}/LICENSE", f"{top}/fake_exporter", f"{top}/faketool"]
            for m in members:
                assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root")
                assert m.mtime == FAKE_MTIME
            by_name = {m.name.rstrip("/"): m for m in members}
            assert by_name[top].isdir() and by_name[top].mode == 0o755
            assert by_name[f"{top}/fake_exporter"].mode == 0o755
            assert by_name[f"{top}/LICENSE"].mode == 0o644
            main = tar.extractfile(f"{top}/fake_exporter").read()
            tool = tar.extractfile(f"{top}/faketool").read()
            assert main == fake_elf(arch, b"main") and tool == fake_elf(arch, b"tool")
            assert elf_machine(main) == EM[arch]
            assert tar.extractfile(f"{top}/LICENSE").read() == b"Fake copyright\n"


def test_reproducible(tmp_path: Path, cache: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path))
    first = build_mirror([manifest], tmp_path / "a", cache_dir=cache, table=FAKE_TABLE)
    second = build_mirror([manifest], tmp_path / "b", cache_dir=cache, table=FAKE_TABLE, jobs=2)
    assert [e.sha256 for e in first] == [e.sha256 for e in second]
    assert [sha256(e.path) for e in first] == [sha256(e.path) for e in second]
    assert first[0].sha256 != first[1].sha256  # amd64 and arm64 differ

    # The same .deb contents in a fresh cache (rebuilt debs) give the same archives too.
    cache2 = tmp_path / "cache2"
    for arch in ("amd64", "arm64"):
        make_deb(cache2, tmp_path / "debs2", arch, standard_files(arch))
    third = build_mirror([manifest], tmp_path / "c", cache_dir=cache2, table=FAKE_TABLE)
    assert [e.sha256 for e in third] == [e.sha256 for e in first]


def test_single_file_gz(tmp_path: Path, cache: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, archive_name="{name}-{arch}.gz", extra_binaries=()))
    entries = build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=FAKE_TABLE)
    assert [e.status for e in entries] == ["ok", "ok"]
    for entry in entries:
        assert entry.url_path.endswith(f"/v1.2.3/fake_exporter-{entry.arch}.gz")
        data = entry.path.read_bytes()
        # The binary's date from the .deb: `update-lock` takes a .gz's source date from it.
        check_gzip_header(data, FAKE_MTIME)
        assert source_date_of(entry.path) == FAKE_MTIME
        assert gzip.decompress(data) == fake_elf(entry.arch, b"main")
    again = build_mirror([manifest], tmp_path / "m2", cache_dir=cache, table=FAKE_TABLE)
    assert [e.sha256 for e in again] == [e.sha256 for e in entries]


def test_single_file_gz_refuses_several_binaries(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(HubError, match="one binary"):
        pack_archive("x-amd64.gz", {"a": b"1", "b": b"2"}, mtime=0)


def test_zip_layout(tmp_path: Path, cache: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, archive_name="{name}-{clean_version}.linux-{arch}.zip"))
    entries = build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=FAKE_TABLE, archs=["arm64"])
    assert [(e.arch, e.status) for e in entries] == [("arm64", "ok")]
    entry = entries[0]
    assert entry.path.name == "fake_exporter-1.2.3.linux-arm64.zip"
    top = "fake_exporter-1.2.3.linux-arm64"
    with zipfile.ZipFile(entry.path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [f"{top}/", f"{top}/LICENSE", f"{top}/fake_exporter", f"{top}/faketool"]
        for info in infos:
            assert info.date_time == (2020, 9, 13, 12, 26, 40)
        modes = {i.filename: i.external_attr >> 16 for i in infos}
        assert modes[f"{top}/fake_exporter"] == 0o100755
        assert modes[f"{top}/LICENSE"] == 0o100644
        assert zf.read(f"{top}/faketool") == fake_elf("arm64", b"tool")
    again = build_mirror([manifest], tmp_path / "m2", cache_dir=cache, table=FAKE_TABLE, archs=["arm64"])
    assert again[0].sha256 == entry.sha256


def test_flat_layout_and_symlinked_binary(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    make_deb(
        cache,
        tmp_path / "debs",
        "amd64",
        {"/usr/lib/fake/fake-bin": fake_elf("amd64", b"linked")},
        links={"/usr/bin/hub-fake-exporter": "../lib/fake/fake-bin"},
    )
    table = {"fake_exporter": DebianBuild(FAKE_PACKAGE, {"fake": "/usr/bin/hub-fake-exporter"}, layout="flat")}
    manifest = load_manifest(
        write_manifest(
            tmp_path,
            archive_name="fake_{clean_version}_linux_{arch}.tar.gz",
            archs=("amd64",),
            extra_binaries=(),
        )
    )
    (entry,) = build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=table)
    with tarfile.open(entry.path) as tar:
        assert tar.getnames() == ["LICENSE", "fake_exporter"]  # main binary under its name
        assert tar.extractfile("fake_exporter").read() == fake_elf("amd64", b"linked")
        # no copyright file in that deb: a LICENSE pointing at the Debian package
        assert FAKE_PACKAGE.encode() in tar.extractfile("LICENSE").read()
