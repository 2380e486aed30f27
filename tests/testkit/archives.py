"""Archives crafted byte by byte for the extraction tests (hub.upstream.archive*_test.py).

Nothing here is committed as a binary file: every archive is generated in the test's own
directory. ``elf`` makes a minimal ELF header followed by incompressible "code"; ``entry`` and
``write_tar``/``write_zip`` build tar and zip archives member by member, hostile ones included;
``prometheus_layout`` is a good release archive as Prometheus' promu lays it out. A
:class:`Corpus` registers hostile cases, each with the error it must raise.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import random
import stat
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from hub.common.errors import HubError
from hub.upstream.archive import ArchiveError, extract_binaries

KiB = 1024
MiB = 1024 * KiB

ROOT = "node_exporter-1.5.0.linux-amd64"
TGZ = f"{ROOT}.tar.gz"


def elf(machine: int = 62, *, cls: int = 2, data: int = 1, etype: int = 2, size: int = 64 * KiB) -> bytes:
    """A minimal ELF header (64 bytes) followed by pseudo-random, incompressible "code"."""
    ident = b"\x7fELF" + bytes([cls, data, 1, 0]) + b"\0" * 8
    header = struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, 0x401000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
    assert len(ident + header) == 64
    return ident + header + noise(size - 64, seed=machine)


def noise(size: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    return (
        bytes(rng.getrandbits(8) for _ in range(size))
        if size < 4096
        else b"".join(rng.getrandbits(32 * 1024).to_bytes(4 * 1024, "little") for _ in range(size // 4096))
        + bytes(size % 4096)
    )


AMD64 = elf(62)
ARM64 = elf(183)

Member = Tuple[tarfile.TarInfo, Optional[bytes]]


def entry(
    name: str,
    data: bytes = b"",
    *,
    type: bytes = tarfile.REGTYPE,
    mode: int = 0o644,
    linkname: str = "",
    pax: Optional[Dict[str, str]] = None,
) -> Member:
    info = tarfile.TarInfo(name)
    info.type = type
    info.mode = mode
    info.linkname = linkname
    info.mtime = 1_700_000_000
    info.uname = info.gname = "root"
    if type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    if pax:
        info.pax_headers = dict(pax)
    if type in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
        return info, data
    return info, None


def prometheus_layout(binary: bytes = AMD64, root: str = ROOT, name: str = "node_exporter") -> List[Member]:
    return [
        entry(f"{root}/", type=tarfile.DIRTYPE, mode=0o755),
        entry(f"{root}/{name}", binary, mode=0o755),
        entry(f"{root}/LICENSE", b"Apache License\n" * 100),
        entry(f"{root}/NOTICE", b"Prometheus exporter\n"),
    ]


def tar_bytes(members: List[Member], *, format: int = tarfile.PAX_FORMAT, **kw: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=format, **kw) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def write_tar(path: Path, members: List[Member], compression: str = "gz", **kw: int) -> Path:
    raw = tar_bytes(members, **kw)
    if compression == "gz":
        raw = gzip.compress(raw, mtime=0)
    elif compression == "xz":
        raw = lzma.compress(raw)
    elif compression == "bz2":
        raw = bz2.compress(raw)
    path.write_bytes(raw)
    return path


def write_zip(path: Path, members: List[Tuple[zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return path


def zinfo(name: str, mode: int = stat.S_IFREG | 0o755) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20))
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def out_files(out: Path) -> List[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def hostile_tar(tmp: Path, *extra: Member, compression: str = "gz", **kw: int) -> Path:
    """A good Prometheus-style archive with hostile members after the binary."""
    suffix = {"gz": ".tar.gz", "xz": ".tar.xz", "none": ".tar"}[compression]
    return write_tar(tmp / f"{ROOT}{suffix}", prometheus_layout() + list(extra), compression, **kw)


# Each case: builder(tmp_path) -> archive, the binaries asked for, the expected error substring,
# and optional keyword arguments of extract_binaries (arch, limits).
Case = Tuple[Callable[[Path], Path], List[str], str, Dict[str, object]]


class Corpus:
    """Hostile archives, each registered with ``@corpus.case(name, expected error)``."""

    def __init__(self) -> None:
        self.cases: Dict[str, Case] = {}

    def case(self, name: str, expected: str, binaries: Optional[List[str]] = None, **kwargs: object):
        def register(builder: Callable[[Path], Path]) -> Callable[[Path], Path]:
            assert name not in self.cases
            self.cases[name] = (builder, binaries or ["node_exporter"], expected, kwargs)
            return builder

        return register

    def names(self) -> List[str]:
        return sorted(self.cases)

    def check_refused(self, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The case's archive is refused with its message, in one line, and nothing is written."""
        builder, binaries, expected, kwargs = self.cases[name]
        src = tmp_path / "src"
        src.mkdir()
        archive = builder(src)
        out = tmp_path / "out"
        out.mkdir()
        monkeypatch.chdir(src)  # messages name the archive as it was given: here, its bare name
        with pytest.raises(ArchiveError) as raised:
            extract_binaries(Path(archive.name), binaries, out, **kwargs)  # type: ignore[arg-type]
        message = str(raised.value)
        assert expected in message
        assert isinstance(raised.value, HubError)
        assert "\n" not in message and archive.name in message
        assert out_files(out) == []


def pax_header_bomb(path: Path, header_size: int = 400 * MiB) -> Path:
    """A .tar.gz of ~400 KB whose first member has a pax header of ``header_size`` bytes (one
    ``comment`` record of "A"s), then an ordinary small file. Written in 1 MiB pieces, so that
    making it costs no memory; tarfile reads such a header whole into memory."""
    prefix = " comment="
    digits = len(str(header_size))
    value_size = header_size - digits - len(prefix) - 1
    assert len(str(header_size)) == digits and value_size > 0
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = header_size
    member = tarfile.TarInfo(f"{ROOT}/LICENSE")
    member.size, member.mtime = 1, 1_700_000_000
    with gzip.GzipFile(path, "wb", mtime=0) as gz:
        gz.write(header.tobuf(tarfile.USTAR_FORMAT))
        gz.write(f"{header_size}{prefix}".encode())
        left = value_size
        piece = b"A" * MiB
        while left:
            gz.write(piece[: min(left, MiB)])
            left -= min(left, MiB)
        gz.write(b"\n" + b"\0" * (-header_size % 512))
        gz.write(member.tobuf(tarfile.USTAR_FORMAT) + b"x" + b"\0" * 511 + b"\0" * 1024)
    return path


def run_capped(code: str, *args: str, address_space: int = 512 * MiB) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a child Python whose address space is capped (RLIMIT_AS), with this
    process' import path; ``sys.argv[1:]`` are ``args``."""
    capped = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({address_space}, {address_space}))\n" + code
    return subprocess.run(
        [sys.executable, "-c", capped, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=300,
    )
