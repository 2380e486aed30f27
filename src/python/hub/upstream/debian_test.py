"""Tests for hub.upstream.debian: the table of Debian builds and the .deb cache (fake .debs, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.upstream import debian
from hub.upstream.archive import MAX_METADATA, ArchiveError, Limits
from hub.upstream.debian import fetch_deb, read_deb_files
from testkit.archives import MiB, pax_header_bomb, run_capped
from testkit.debs import FAKE_MTIME, FAKE_PACKAGE, deb_around, make_deb, standard_files


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


def test_read_deb_files_follows_links(tmp_path: Path) -> None:
    deb = make_deb(
        tmp_path / "cache",
        tmp_path / "work",
        "amd64",
        standard_files("amd64"),
        links={"/usr/bin/fake": "hub-fake-exporter"},
    )
    files = read_deb_files(deb, ["/usr/bin/fake", "/usr/bin/faketool", "/usr/bin/missing"])
    assert set(files) == {"/usr/bin/fake", "/usr/bin/faketool"}
    assert files["/usr/bin/fake"] == (standard_files("amd64")["/usr/bin/hub-fake-exporter"], FAKE_MTIME)


@pytest.mark.parametrize(
    "limits, message",
    [
        (Limits(max_member_size=1024), "over the per-member limit of 1024 bytes"),
        (Limits(max_members=3), "more than 3 members"),
        (Limits(max_total_size=6000), "brings the archive's content over 6000 bytes"),
    ],
)
def test_read_deb_files_stays_within_the_extraction_limits(tmp_path: Path, limits: Limits, message: str) -> None:
    deb = make_deb(tmp_path / "cache", tmp_path / "work", "amd64", standard_files("amd64"))
    with pytest.raises(ArchiveError, match=message):
        read_deb_files(deb, ["/usr/bin/faketool"], limits=limits)


_CAPPED_CHILD = """
import json, sys
from pathlib import Path
from hub.common.errors import HubError
from hub.upstream.debian import read_deb_files
try:
    print(json.dumps({"files": sorted(read_deb_files(Path(sys.argv[1]), ["/usr/bin/x"]))}))
except HubError as e:
    print(json.dumps({"error": str(e)}))
"""


def test_a_deb_with_a_huge_pax_header_is_refused_within_512_mib(tmp_path: Path) -> None:
    """Building the mirror reads .debs under the extraction's limits: a package whose data
    holds a 400 MiB pax header is refused, in a process capped at 512 MiB of address space."""
    deb = deb_around(pax_header_bomb(tmp_path / "data.tar.gz"), tmp_path / "hostile_0.9.0-1_amd64.deb")
    proc = run_capped(_CAPPED_CHILD, str(deb), address_space=512 * MiB)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"more than {MAX_METADATA} bytes of tar headers before one member" in json.loads(proc.stdout)["error"]


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
