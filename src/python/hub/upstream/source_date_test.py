"""Tests for hub.upstream.source_date: the newest date an upstream archive records."""

from __future__ import annotations

import gzip
import json
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from hub.common.dates import format_source_date, parse_source_date
from hub.common.errors import HubError
from hub.upstream.archive import MAX_METADATA, ArchiveError
from hub.upstream.source_date import source_date_of
from testkit.archives import (
    ROOT,
    TGZ,
    MiB,
    entry,
    hostile_tar,
    pax_header_bomb,
    prometheus_layout,
    run_capped,
    write_tar,
)
from testkit.releases import tar_gz


def test_source_date_tar_gz(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(tar_gz({"x/a": (b"a", 1_700_000_000), "x/b": (b"b", 1_750_000_000), "x/c": (b"c", 1_600_000_000)}))
    assert source_date_of(path) == 1_750_000_000
    (tmp_path / "x.tgz").write_bytes(path.read_bytes())
    assert source_date_of(tmp_path / "x.tgz") == 1_750_000_000


def test_source_date_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("a", (2020, 1, 2, 3, 4, 6)), b"a")
        zf.writestr(zipfile.ZipInfo("b", (2021, 5, 6, 7, 8, 10)), b"b")
    assert format_source_date(source_date_of(path)) == "2021-05-06T07:08:10Z"


def test_source_date_zip_extended_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    info = zipfile.ZipInfo("a", (2020, 1, 1, 0, 0, 0))
    info.extra = struct.pack("<HHBI", 0x5455, 5, 1, 1_750_000_001)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, b"a")
    assert source_date_of(path) == 1_750_000_001


def test_source_date_single_gz(tmp_path: Path) -> None:
    path = tmp_path / "ha_cluster_exporter-amd64.gz"
    with gzip.GzipFile(path, "wb", mtime=1_712_345_678) as gz:
        gz.write(b"\x7fELF")
    assert source_date_of(path) == 1_712_345_678


@pytest.mark.parametrize(
    "name, content, message",
    [
        pytest.param(
            "x.gz", gzip.compress(b"x", mtime=0), "the archive records no modification time", id="gz-no-mtime"
        ),
        pytest.param(
            "x.tar.gz", tar_gz({"a": (b"a", 0)}), "the archive records no modification time", id="tar-zero-mtimes"
        ),
        pytest.param("x.tar.gz", b"not gzip", "name .* says a gzip-compressed tar archive", id="tar-garbage"),
        pytest.param("x.zip", b"not a zip", "name .* says a zip archive", id="zip-garbage"),
        pytest.param("x.gz", b"plain", "name .* says a single gzip-compressed file", id="gz-garbage"),
        pytest.param("x.rar", b"", "unsupported archive type", id="unknown-type"),
    ],
)
def test_source_date_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(HubError, match=message):
        source_date_of(path)


def test_source_date_reads_the_formats_extraction_reads(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "x.tar.xz", prometheus_layout(), "xz")
    assert source_date_of(path) == 1_700_000_000


def test_source_date_refuses_what_extraction_refuses(tmp_path: Path) -> None:
    path = hostile_tar(tmp_path, entry(f"{ROOT}/escape", type=tarfile.SYMTYPE, linkname="../../etc/passwd"))
    with pytest.raises(ArchiveError, match="points outside the archive"):
        source_date_of(path)


_CAPPED_CHILD = """
import json, sys
from hub.common.errors import HubError
from hub.upstream.source_date import source_date_of
try:
    print(json.dumps({"date": source_date_of(sys.argv[1])}))
except HubError as e:
    print(json.dumps({"error": str(e)}))
"""


def test_a_huge_pax_header_is_refused_within_512_mib(tmp_path: Path) -> None:
    """A 400 KB .tar.gz whose pax header holds 400 MiB: tarfile would read it whole (about
    450 MB of memory). In a process whose address space is capped at 512 MiB, source_date_of
    refuses it with the extraction's header limit instead of failing for want of memory."""
    archive = pax_header_bomb(tmp_path / TGZ)
    assert archive.stat().st_size < 1 * MiB
    proc = run_capped(_CAPPED_CHILD, str(archive), address_space=512 * MiB)
    assert proc.returncode == 0, proc.stderr[-2000:]
    error = json.loads(proc.stdout)["error"]
    assert f"more than {MAX_METADATA} bytes of tar headers before one member" in error
    assert str(archive) in error


def test_source_date_format_roundtrip() -> None:
    assert format_source_date(1_748_779_200) == "2025-06-01T12:00:00Z"
    assert parse_source_date("2025-06-01T12:00:00Z") == 1_748_779_200
