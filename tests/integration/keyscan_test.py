"""The key scanner reads zstd streams: a secret planted in one, bare or inside a real RPM
payload or DEB member made by nfpm, is found; without a zstd decoder the scan fails instead of
skipping them (the signed build's packages are zstd-compressed: el9 RPMs, every DEB)."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit.packages import make_package

from integration.keyscan import Scan, zstd_compress

# Stands in for a slice of a secret key: 32 bytes that occur nowhere else.
SECRET = bytes.fromhex("5ec7e7ba5e0f4c1d9a2b3c4d5e6f70819a0b1c2d3e4f5061728394a5b6c7d8e9")
# Compressible bytes around it, so that zstd encodes it (random bytes would be stored as they are).
FILLER = b"a line of an ordinary file\n" * 200


def scan_of(path: Path) -> Scan:
    scan = Scan([SECRET, SECRET.hex().encode()])
    scan.tree("planted", path)
    return scan


def test_a_secret_in_a_bare_zstd_stream_is_found(tmp_path: Path) -> None:
    blob = tmp_path / "value"
    # Bytes before and after the frame, as in a store page or an RPM file.
    blob.write_bytes(b"header bytes" + zstd_compress(FILLER + SECRET.hex().encode() + FILLER) + b"trailing bytes")
    scan = scan_of(blob)
    assert SECRET.hex().encode() not in blob.read_bytes()  # only the decompressed stream holds it
    assert scan.found and scan.stream_kinds["zstd"] >= 1, scan.summary()


@pytest.mark.parametrize("kind", ["rpm", "deb"])
def test_a_secret_in_a_zstd_package_is_found(tmp_path: Path, kind: str) -> None:
    package = make_package(
        kind, tmp_path, name="planted", payload=FILLER + SECRET.hex().encode() + FILLER, compression="zstd"
    )
    data = package.read_bytes()
    assert SECRET.hex().encode() not in data, "the payload should be compressed"
    scan = scan_of(package)
    assert any("(stream at" in f for f in scan.found), scan.found
    assert scan.stream_kinds["zstd"] >= 1 and not scan.stream_kinds["xz"], scan.summary()


def test_without_a_zstd_decoder_the_scan_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = tmp_path / "value"
    blob.write_bytes(b"junk" + zstd_compress(SECRET))
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(AssertionError, match="zstd"):
        scan_of(blob)
