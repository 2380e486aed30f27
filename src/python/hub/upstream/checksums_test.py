"""Tests for hub.upstream.checksums: finding and reading checksums files."""

from __future__ import annotations

import pytest

from hub.upstream.checksums import checksum_assets, parse_checksums
from hub.upstream.github import Asset, Release


@pytest.mark.parametrize(
    "text",
    [
        "{sum}  foo.tar.gz\n",
        "{sum} *foo.tar.gz\n",
        "{sum}  ./foo.tar.gz\n",
        "{sum}  dist/foo.tar.gz\n",
        "# comment\n{other}  bar.tar.gz\r\n{sum}  foo.tar.gz\r\n",
        "SHA256 (foo.tar.gz) = {sum}\n",
        "{sum}\n",  # a <file>.sha256 with the digest alone
    ],
)
def test_parse_checksums(text: str) -> None:
    digest = "ab" * 32
    assert (
        parse_checksums(text.format(sum=digest.upper() if "SHA256" in text else digest, other="cd" * 32), "foo.tar.gz")
        == digest
    )


def test_parse_checksums_not_listed() -> None:
    assert parse_checksums(f"{'ab' * 32}  bar.tar.gz\n{'cd' * 32}  foo.tar.gz.sig\n", "foo.tar.gz") is None


def test_checksum_assets() -> None:
    def asset(name: str) -> Asset:
        return Asset(name, 1, None, f"https://x/{name}", None)

    names = [
        "foo.tar.gz",
        "foo.tar.gz.sha256",
        "sha256sums.txt",
        "SHA256SUMS",
        "foo_1.0.0_checksums.txt",
        "checksums.txt",
        "sha256sums.txt.sig",
        "checksums.txt.asc",
        "foo.deb",
        "foo.sbom.json",
    ]
    release = Release("v1", None, False, False, None, None, tuple(map(asset, names)))
    assert [a.name for a in checksum_assets(release, "foo.tar.gz")] == [
        "foo.tar.gz.sha256",
        "SHA256SUMS",
        "checksums.txt",
        "foo_1.0.0_checksums.txt",
        "sha256sums.txt",
    ]
