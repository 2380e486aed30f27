"""Tests for hub.upstream.archive_formats: names against magic bytes, corrupt or truncated streams.

Most hostile archives put the problem *after* a perfectly good binary, to prove that the whole
archive is validated before anything is written.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from hub.upstream.archive import ArchiveError, Limits, extract_binaries
from testkit.archives import (
    AMD64,
    ROOT,
    TGZ,
    Corpus,
    KiB,
    entry,
    hostile_tar,
    prometheus_layout,
    tar_bytes,
    write_tar,
    write_zip,
    zinfo,
)


# --- Content that does not match the name; streams that are corrupt, truncated or too rich ----
CORPUS = Corpus()


@CORPUS.case("zip-named-tar-gz", "the file is a zip archive, but its name (.tar.gz) says a gzip-compressed tar archive")
def _(tmp: Path) -> Path:
    return write_zip(tmp / TGZ, [(zinfo(f"{ROOT}/node_exporter"), AMD64)])


@CORPUS.case("tar-named-zip", "the file is an uncompressed tar archive, but its name (.zip) says a zip archive")
def _(tmp: Path) -> Path:
    return write_tar(tmp / f"{ROOT}.zip", prometheus_layout(), compression="none")


@CORPUS.case("tgz-named-tar", "the file is gzip-compressed data, but its name (.tar) says an uncompressed tar archive")
def _(tmp: Path) -> Path:
    return write_tar(tmp / f"{ROOT}.tar", prometheus_layout(), compression="gz")


@CORPUS.case("binary-named-tar-gz", "the file is an uncompressed ELF file, but its name (.tar.gz)")
def _(tmp: Path) -> Path:
    path = tmp / TGZ
    path.write_bytes(AMD64)
    return path


@CORPUS.case("empty-file", "the file is empty")
def _(tmp: Path) -> Path:
    path = tmp / TGZ
    path.write_bytes(b"")
    return path


@CORPUS.case("tar-truncated-gzip", "truncated")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


@CORPUS.case("tar-gzip-crc", "the gzip CRC check failed")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # first byte of the CRC32 in the gzip trailer
    path.write_bytes(bytes(raw))
    return path


@CORPUS.case("tar-gzip-corrupt-deflate", "expected an intact gzip stream")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    raw = bytearray(path.read_bytes())
    for i in range(200, 260):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    return path


@CORPUS.case("tar-trailing-garbage-after-gzip", "unexpected data after the end of the gzip stream")
def _(tmp: Path) -> Path:
    path = write_tar(tmp / TGZ, prometheus_layout())
    path.write_bytes(path.read_bytes() + b"garbage")
    return path


@CORPUS.case("gz-truncated", "truncated", binaries=["foo_exporter"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    raw = gzip.compress(AMD64, mtime=0)
    path.write_bytes(raw[:-6])
    return path


@CORPUS.case("tar-pax-metadata-bomb", "bytes of tar headers before one member", limits=Limits(max_metadata=64 * KiB))
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/x", b"x", pax={"comment": "A" * (256 * KiB)}))


@pytest.mark.parametrize("name", CORPUS.names())
def test_hostile_archive_is_refused(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CORPUS.check_refused(name, tmp_path, monkeypatch)


@pytest.mark.parametrize(
    "compression,suffix", [("xz", ".tar.xz"), ("bz2", ".tar.bz2"), ("none", ".tar"), ("gz", ".tgz")]
)
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


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="unsupported archive type"):
        extract_binaries(tmp_path / "x.rar", ["x"], tmp_path / "out")
    with pytest.raises(ArchiveError, match="cannot read the archive"):
        extract_binaries(tmp_path / "absent.tar.gz", ["x"], tmp_path / "out")
