"""hub.site.check reads a YUM repository's primary.xml: each package's location, size and
checksum are checked against the file; an entry missing one of them is a problem, not a crash."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from hub.site.check import check_site

_REPOMD = """<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <data type="primary">
    <checksum type="sha256">{sha256}</checksum>
    <location href="repodata/primary.xml.gz"/>
    <size>{size}</size>
  </data>
</repomd>
"""

_PRIMARY = """<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="{count}">
{packages}
</metadata>
"""


def _package(rpm: bytes, *, location: bool = True) -> str:
    href = '<location href="x-1.0-1.el9.x86_64.rpm"/>' if location else ""
    return (
        f'<package type="rpm"><name>x</name>'
        f'<checksum type="sha256" pkgid="YES">{hashlib.sha256(rpm).hexdigest()}</checksum>'
        f'<size package="{len(rpm)}"/>{href}</package>'
    )


def _site(tmp_path: Path, packages: list[str]) -> Path:
    site = tmp_path / "site"
    repo = site / "el9" / "x86_64"
    (repo / "repodata").mkdir(parents=True)
    primary = gzip.compress(_PRIMARY.format(count=len(packages), packages="\n".join(packages)).encode())
    (repo / "repodata" / "primary.xml.gz").write_bytes(primary)
    repomd = _REPOMD.format(sha256=hashlib.sha256(primary).hexdigest(), size=len(primary))
    (repo / "repodata" / "repomd.xml").write_text(repomd)
    (repo / "repodata" / "repomd.xml.asc").write_text("signature\n")
    return site


def test_a_primary_package_is_checked_against_its_file(tmp_path: Path) -> None:
    rpm = b"rpm"
    site = _site(tmp_path, [_package(rpm)])
    (site / "el9" / "x86_64" / "x-1.0-1.el9.x86_64.rpm").write_bytes(rpm)
    assert check_site(site) == []
    (site / "el9" / "x86_64" / "x-1.0-1.el9.x86_64.rpm").write_bytes(b"other")
    (problem,) = check_site(site)
    assert problem.startswith("el9/x86_64 primary: el9/x86_64/x-1.0-1.el9.x86_64.rpm has sha256")


def test_a_primary_package_without_a_location_is_a_problem(tmp_path: Path) -> None:
    site = _site(tmp_path, [_package(b"rpm", location=False)])
    assert check_site(site) == ["el9/x86_64 primary: a package without its location href, package size or checksum"]
