"""Tests for hub.upstream.mirror: upstream archive layouts built from .deb files, reproducibility, serving.

Most tests build small fake .debs with dpkg-deb (no network). ``test_real_node_exporter`` downloads
Debian's real prometheus-node-exporter for amd64 and arm64 through apt and never skips.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from hub import cli
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.upstream import mirror
from hub.upstream.source_date import source_date_of
from hub.upstream.mirror import DebianBuild, build_mirror, elf_machine, fetch_deb, serve

FAKE_MTIME = 1_600_000_000  # 2020-09-13T12:26:40Z
FAKE_PACKAGE = "hub-fake-exporter"
FAKE_TABLE = {
    "fake_exporter": DebianBuild(
        FAKE_PACKAGE,
        {"fake_exporter": "/usr/bin/hub-fake-exporter", "faketool": "/usr/bin/faketool"},
    )
}
EM = {"amd64": 62, "arm64": 183}
REPO_ROOT = Path(__file__).resolve().parents[4]


def fake_elf(arch: str, payload: bytes = b"") -> bytes:
    """A 64-bit little-endian ELF header with the arch's e_machine, then a payload."""
    header = bytearray(64)
    header[:7] = b"\x7fELF\x02\x01\x01"
    header[16:18] = (2).to_bytes(2, "little")  # ET_EXEC
    header[18:20] = EM[arch].to_bytes(2, "little")
    return bytes(header) + payload + arch.encode() * 1000


def make_deb(cache: Path, work: Path, arch: str, files: dict, *, package: str = FAKE_PACKAGE,
             links: dict | None = None, version: str = "0.9.0-1") -> Path:
    """Build ``<package>_<version>_<arch>.deb`` in ``cache`` holding ``files`` ({abs path: bytes})."""
    root = work / f"root-{package}-{arch}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: {arch}\n"
        "Maintainer: Test <test@example.invalid>\nDescription: fake exporter for tests\n"
    )
    for path, data in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o755 if "/bin/" in path or "/lib/" in path else 0o644)
    for path, link_target in (links or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link_target, target)
    for p in root.rglob("*"):
        os.utime(p, (FAKE_MTIME, FAKE_MTIME), follow_symlinks=False)
    cache.mkdir(parents=True, exist_ok=True)
    deb = cache / f"{package}_{version}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
        check=True, capture_output=True,
    )
    return deb


def standard_files(arch: str) -> dict:
    return {
        "/usr/bin/hub-fake-exporter": fake_elf(arch, b"main"),
        "/usr/bin/faketool": fake_elf(arch, b"tool"),
        f"/usr/share/doc/{FAKE_PACKAGE}/copyright": b"Fake copyright\n",
    }


def write_manifest(base: Path, name: str = "fake_exporter", *, archs=("amd64", "arm64"),
                   extra_binaries=("faketool",), **upstream) -> Path:
    directory = base / "exporters" / name
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"name: {name}",
        "description: A fake exporter for tests",
        "category: System",
        "version: v1.2.3",
        "upstream:",
        "  repo: example/fake_exporter",
        *(f"  {k}: '{v}'" for k, v in upstream.items()),
        "build:",
        f"  binary_name: {name}",
        f"  archs: [{', '.join(archs)}]",
    ]
    if extra_binaries:
        lines.append(f"  extra_binaries: [{', '.join(extra_binaries)}]")
    (directory / "manifest.yaml").write_text("\n".join(lines) + "\n")
    return directory / "manifest.yaml"


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    for arch in ("amd64", "arm64"):
        make_deb(cache, tmp_path / "debs", arch, standard_files(arch))
    return cache


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_gzip_header(data: bytes, mtime: int = 0) -> None:
    """A .tar.gz records mtime 0 (its members carry the dates); a single .gz the binary's."""
    assert data[:3] == b"\x1f\x8b\x08"
    assert data[3] == 0, "no FNAME/FEXTRA/FCOMMENT flags"
    assert int.from_bytes(data[4:8], "little") == mtime, "gzip header mtime"


# --------------------------------------------------------------------------------------------


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
                f"{top}/", f"{top}/LICENSE", f"{top}/fake_exporter", f"{top}/faketool"
            ] or [m.name for m in members] == [
                top, f"{top}/LICENSE", f"{top}/fake_exporter", f"{top}/faketool"
            ]
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
    manifest = load_manifest(
        write_manifest(tmp_path, archive_name="{name}-{arch}.gz", extra_binaries=())
    )
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
        mirror.pack_archive("x-amd64.gz", {"a": b"1", "b": b"2"}, mtime=0)


def test_zip_layout(tmp_path: Path, cache: Path) -> None:
    manifest = load_manifest(
        write_manifest(tmp_path, archive_name="{name}-{clean_version}.linux-{arch}.zip")
    )
    entries = build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=FAKE_TABLE,
                           archs=["arm64"])
    assert [(e.arch, e.status) for e in entries] == [("arm64", "ok")]
    entry = entries[0]
    assert entry.path.name == "fake_exporter-1.2.3.linux-arm64.zip"
    top = "fake_exporter-1.2.3.linux-arm64"
    with zipfile.ZipFile(entry.path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            f"{top}/", f"{top}/LICENSE", f"{top}/fake_exporter", f"{top}/faketool"
        ]
        for info in infos:
            assert info.date_time == (2020, 9, 13, 12, 26, 40)
        modes = {i.filename: i.external_attr >> 16 for i in infos}
        assert modes[f"{top}/fake_exporter"] == 0o100755
        assert modes[f"{top}/LICENSE"] == 0o100644
        assert zf.read(f"{top}/faketool") == fake_elf("arm64", b"tool")
    again = build_mirror([manifest], tmp_path / "m2", cache_dir=cache, table=FAKE_TABLE,
                         archs=["arm64"])
    assert again[0].sha256 == entry.sha256


def test_flat_layout_and_symlinked_binary(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    make_deb(
        cache, tmp_path / "debs", "amd64",
        {"/usr/lib/fake/fake-bin": fake_elf("amd64", b"linked")},
        links={"/usr/bin/hub-fake-exporter": "../lib/fake/fake-bin"},
    )
    table = {"fake_exporter": DebianBuild(FAKE_PACKAGE, {"fake": "/usr/bin/hub-fake-exporter"},
                                          layout="flat")}
    manifest = load_manifest(write_manifest(
        tmp_path, archive_name="fake_{clean_version}_linux_{arch}.tar.gz", archs=("amd64",),
        extra_binaries=(),
    ))
    (entry,) = build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=table)
    with tarfile.open(entry.path) as tar:
        assert tar.getnames() == ["LICENSE", "fake_exporter"]  # main binary under its name
        assert tar.extractfile("fake_exporter").read() == fake_elf("amd64", b"linked")
        # no copyright file in that deb: a LICENSE pointing at the Debian package
        assert FAKE_PACKAGE.encode() in tar.extractfile("LICENSE").read()


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
        build_mirror([manifest], tmp_path / "m", cache_dir=cache, table=FAKE_TABLE,
                     archs=["arm64"])


def test_newest_cached_deb_wins(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    make_deb(cache, tmp_path / "d1", "amd64", standard_files("amd64"), version="0.9.0-1")
    make_deb(cache, tmp_path / "d2", "amd64", standard_files("amd64"), version="0.10.0-1")
    assert fetch_deb(FAKE_PACKAGE, "amd64", cache).version == "0.10.0-1"


def test_apt_failure_names_package_and_arch(tmp_path: Path) -> None:
    with pytest.raises(HubError) as info:
        fetch_deb("hub-no-such-package-for-tests", "arm64", tmp_path / "cache")
    message = str(info.value)
    assert "hub-no-such-package-for-tests:arm64" in message
    assert "E:" in message
    assert not list((tmp_path / "cache").iterdir())  # no partial download left behind


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
    monkeypatch.setattr(mirror, "DEBIAN_BUILDS", FAKE_TABLE)
    fake = write_manifest(tmp_path)
    other = write_manifest(tmp_path, name="other_exporter")
    out = tmp_path / "m"
    rc = cli.main(["mirror", "build", "--out", str(out), "--cache", str(cache),
                   "--arch", "amd64", str(fake), str(other.parent)])
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    archive = out / "example/fake_exporter/releases/download/v1.2.3/fake_exporter-1.2.3.linux-amd64.tar.gz"
    assert lines[0] == f"fake_exporter\tamd64\t{archive}\t{sha256(archive)}"
    assert lines[1].startswith("other_exporter\tamd64\tno-debian-build")
    assert lines[-1].startswith("1 archive(s) written")
    assert "other_exporter (no-debian-build)" in lines[-1]


def test_cli_build_apt_error_exits_2(tmp_path: Path, monkeypatch, capsys) -> None:
    table = {"fake_exporter": DebianBuild("hub-no-such-package-for-tests", {"x": "/usr/bin/x"})}
    monkeypatch.setattr(mirror, "DEBIAN_BUILDS", table)
    rc = cli.main(["mirror", "build", "--out", str(tmp_path / "m"), "--cache",
                   str(tmp_path / "c"), "--arch", "amd64", str(write_manifest(tmp_path))])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: apt-get download hub-no-such-package-for-tests:amd64 failed")


def test_table_is_consistent() -> None:
    for name, build in mirror.DEBIAN_BUILDS.items():
        assert build.package.startswith("prometheus")
        assert build.layout in ("dir", "flat")
        assert all(p.startswith("/usr/bin/") for p in build.binaries.values()), name


# --------------------------------------------------------------------------------------------
# Real network (Debian's archive through apt): never skipped.


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
        assert entry.url_path == (
            f"prometheus/node_exporter/releases/download/{manifest.tag}/{top}.tar.gz"
        )
        with tarfile.open(entry.path) as tar:
            assert {f"{top}/node_exporter", f"{top}/LICENSE"} <= set(tar.getnames())
            binary = tar.extractfile(f"{top}/node_exporter").read()
        assert binary[:4] == b"\x7fELF"
        assert int.from_bytes(binary[18:20], "little") == EM[entry.arch]  # 62 x86-64, 183 AArch64
        assert len(binary) > 5_000_000
    # A second run is served from the cache (no apt-get) and gives identical archives.
    again = build_mirror([manifest], tmp_path / "m2", cache_dir=cache)
    assert [e.sha256 for e in again] == [e.sha256 for e in entries]
