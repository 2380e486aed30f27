"""Tests for hub.upstream.debian: the table of Debian builds and the .deb cache (fake .debs, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.upstream import debian
from hub.upstream.debian import fetch_deb
from testkit.debs import (
    FAKE_PACKAGE,
    make_deb,
    standard_files,
)


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


def test_table_is_consistent() -> None:
    for name, build in debian.DEBIAN_BUILDS.items():
        assert build.package.startswith("prometheus")
        assert build.layout in ("dir", "flat")
        assert all(p.startswith("/usr/bin/") for p in build.binaries.values()), name


@pytest.mark.parametrize(
    "debian_version, upstream",
    [
        ("1.5.0-1+b6", "1.5.0"),
        ("2.42.0+ds-5+deb12u1", "2.42.0"),
        ("1:0.25.0+dfsg2-1", "0.25.0"),
        ("0.11.0~repack-1", "0.11.0"),
        ("1.0.0+git20180522.e755a44-3+b12", "1.0.0+git20180522.e755a44"),
        ("1.2.3-rc.1-2", "1.2.3-rc.1"),
        ("0.9.0", "0.9.0"),  # a native package has no revision
    ],
)
def test_upstream_version(debian_version: str, upstream: str) -> None:
    assert debian.upstream_version(debian_version) == upstream
