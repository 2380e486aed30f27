"""Fake Debian packages for the offline-mirror tests: .debs built with dpkg-deb, no network.

``make_deb`` builds ``<package>_<version>_<arch>.deb`` holding the files given;
``standard_files`` are the fake exporter's two binaries (ELF headers of the arch, then a
payload) and its copyright file; ``FAKE_TABLE`` is the Debian build table that ships them;
``write_manifest`` writes the fake exporter's manifest.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from hub.upstream.debian import DebianBuild

FAKE_MTIME = 1_600_000_000  # 2020-09-13T12:26:40Z
FAKE_PACKAGE = "hub-fake-exporter"
FAKE_TABLE = {
    "fake_exporter": DebianBuild(
        FAKE_PACKAGE,
        {"fake_exporter": "/usr/bin/hub-fake-exporter", "faketool": "/usr/bin/faketool"},
    )
}
EM = {"amd64": 62, "arm64": 183}


def fake_elf(arch: str, payload: bytes = b"") -> bytes:
    """A 64-bit little-endian ELF header with the arch's e_machine, then a payload."""
    header = bytearray(64)
    header[:7] = b"\x7fELF\x02\x01\x01"
    header[16:18] = (2).to_bytes(2, "little")  # ET_EXEC
    header[18:20] = EM[arch].to_bytes(2, "little")
    return bytes(header) + payload + arch.encode() * 1000


def make_deb(
    cache: Path,
    work: Path,
    arch: str,
    files: dict,
    *,
    package: str = FAKE_PACKAGE,
    links: dict | None = None,
    version: str = "0.9.0-1",
) -> Path:
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
        check=True,
        capture_output=True,
    )
    return deb


def standard_files(arch: str) -> dict:
    return {
        "/usr/bin/hub-fake-exporter": fake_elf(arch, b"main"),
        "/usr/bin/faketool": fake_elf(arch, b"tool"),
        f"/usr/share/doc/{FAKE_PACKAGE}/copyright": b"Fake copyright\n",
    }


def make_cache(tmp_path: Path) -> Path:
    """A .deb cache holding the fake exporter's package for amd64 and arm64."""
    cache = tmp_path / "cache"
    for arch in ("amd64", "arm64"):
        make_deb(cache, tmp_path / "debs", arch, standard_files(arch))
    return cache


def write_manifest(
    base: Path, name: str = "fake_exporter", *, archs=("amd64", "arm64"), extra_binaries=("faketool",), **upstream
) -> Path:
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


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def deb_around(data_tar_gz: Path, deb: Path, *, package: str = FAKE_PACKAGE, arch: str = "amd64") -> Path:
    """A .deb written by hand (ar: debian-binary, control.tar.gz, data.tar.gz) around a given
    data.tar.gz, which dpkg-deb would never build itself (a hostile one, say)."""
    control = io.BytesIO()
    with tarfile.open(fileobj=control, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        text = (
            f"Package: {package}\nVersion: 0.9.0-1\nArchitecture: {arch}\n"
            "Maintainer: Test <test@example.invalid>\nDescription: hostile data for tests\n"
        ).encode()
        info = tarfile.TarInfo("./control")
        info.size, info.mtime = len(text), FAKE_MTIME
        tar.addfile(info, io.BytesIO(text))
    with open(deb, "wb") as out:
        out.write(b"!<arch>\n")
        for name, size, source in (
            ("debian-binary", 4, io.BytesIO(b"2.0\n")),
            ("control.tar.gz", len(control.getvalue()), io.BytesIO(control.getvalue())),
            ("data.tar.gz", data_tar_gz.stat().st_size, open(data_tar_gz, "rb")),
        ):
            out.write(f"{name:<16}{FAKE_MTIME:<12}{0:<6}{0:<6}{100644:<8}{size:<10}`\n".encode())
            with source:
                shutil.copyfileobj(source, out)
            if size % 2:
                out.write(b"\n")
    return deb
