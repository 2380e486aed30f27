"""Tests for hub.upstream.archive_containers: what tar, zip and single-file archives can get wrong.

Entry types no archive should hold, the tar end-of-archive marker, zip entries that share or
corrupt their bytes, a single ``.gz`` that is not one file.
"""

from __future__ import annotations

import gzip
import lzma
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from hub.upstream.archive import extract_binaries
from testkit.archives import (
    AMD64,
    ROOT,
    TGZ,
    Corpus,
    entry,
    hostile_tar,
    prometheus_layout,
    tar_bytes,
    write_zip,
    zinfo,
)


# --- Hostile containers: entry types, tar trailers, zip tricks, single files that are not ----
CORPUS = Corpus()


@CORPUS.case("gzip-without-tar", "not a tar archive inside")
def _(tmp: Path) -> Path:
    path = tmp / TGZ
    path.write_bytes(gzip.compress(AMD64, mtime=0))
    return path


@CORPUS.case("tar-corrupt-header", "corrupt tar header at byte")
def _(tmp: Path) -> Path:
    raw = bytearray(tar_bytes(prometheus_layout() + [entry(f"{ROOT}/late", b"data")], format=tarfile.GNU_FORMAT))
    offset = raw.index(f"{ROOT}/late".encode())
    raw[offset + 148 : offset + 156] = b"0000000\0"  # wrong checksum: tarfile would stop quietly
    path = tmp / f"{ROOT}.tar.gz"
    path.write_bytes(gzip.compress(bytes(raw), mtime=0))
    return path


@CORPUS.case("tar-truncated-at-header", "without an end-of-archive marker")
def _(tmp: Path) -> Path:
    raw = tar_bytes(prometheus_layout(), format=tarfile.GNU_FORMAT)
    offset = raw.index(f"{ROOT}/LICENSE".encode())  # the header of the member after the binary
    path = tmp / f"{ROOT}.tar"
    path.write_bytes(raw[:offset])
    return path


@CORPUS.case("tar-data-after-end", "data after the end-of-archive marker")
def _(tmp: Path) -> Path:
    raw = tar_bytes(prometheus_layout())
    hidden = tar_bytes([entry(f"{ROOT}/hidden", b"seen only by tar --ignore-zeros")])
    path = tmp / f"{ROOT}.tar.xz"
    path.write_bytes(lzma.compress(raw + hidden))
    return path


@CORPUS.case("tar-char-device", "member 'dev/mem': is a character device")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("dev/mem", type=tarfile.CHRTYPE))


@CORPUS.case("tar-block-device", "member 'dev/sda': is a block device")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("dev/sda", type=tarfile.BLKTYPE))


@CORPUS.case("tar-fifo", "is a FIFO (named pipe)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/pipe", type=tarfile.FIFOTYPE))


@CORPUS.case("tar-unknown-type", "is an entry of unsupported tar type b'V'")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("volume", type=b"V"))


@CORPUS.case("zip-socket", "member 'sock': is a socket")
def _(tmp: Path) -> Path:
    return write_zip(
        tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("sock", stat.S_IFSOCK | 0o755), b"")]
    )


@CORPUS.case("zip-char-device", "is a character device")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("null", stat.S_IFCHR | 0o666), b"")])


@CORPUS.case("zip-encrypted", "member 'secret': is encrypted")
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


@CORPUS.case("zip-overlapping-entries", "its data overlaps member")
def _(tmp: Path) -> Path:
    path = write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("LICENSE"), b"x" * 1000)])
    raw = bytearray(path.read_bytes())
    second = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02") + 4)  # second central directory entry
    raw[second + 42 : second + 46] = (0).to_bytes(4, "little")  # point it at the first entry's data
    path.write_bytes(bytes(raw))
    return path


@CORPUS.case("zip-crc", "Bad CRC-32")
def _(tmp: Path) -> Path:
    path = tmp / f"{ROOT}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(zinfo("node_exporter"), AMD64)
    raw = bytearray(path.read_bytes())
    raw[30 + len("node_exporter") + 1000] ^= 0xFF  # a byte of the stored data
    path.write_bytes(bytes(raw))
    return path


@CORPUS.case("gz-holding-a-tar", "holds a tar archive, not a single file", binaries=["foo_exporter"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(tar_bytes(prometheus_layout()), mtime=0))
    return path


@CORPUS.case("gz-two-binaries", "holds exactly one file, but 2 binaries were requested", binaries=["a", "b"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(AMD64, mtime=0))
    return path


@pytest.mark.parametrize("name", CORPUS.names())
def test_hostile_archive_is_refused(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CORPUS.check_refused(name, tmp_path, monkeypatch)


def test_zip_without_unix_modes(tmp_path: Path) -> None:
    archive = tmp_path / "tool.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("tool")
        info.create_system = 0  # MS-DOS: no Unix mode at all
        zf.writestr(info, AMD64)
    extract_binaries(archive, ["tool"], tmp_path / "out")
    assert stat.S_IMODE((tmp_path / "out" / "tool").stat().st_mode) == 0o755
