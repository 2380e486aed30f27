"""hub.repos.merge: cumulative publishing (previous pool merged, newest 3 versions kept, published
names never change content), with real nfpm packages."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from testkit.packages import SOURCE_DATE, make_package

from hub.catalog import artifact as catalog
from hub.cli import main
from hub.common.errors import HubError
from hub.repos import apt
from hub.repos import merge
from hub.repos import yum


def place(site: Path, build: Path, version: str, *, payload: bytes = b"", source_date: int = SOURCE_DATE) -> None:
    rpm = make_package(
        "rpm", build, name="node_exporter", version=version, release="1.el9", payload=payload, source_date=source_date
    )
    url = catalog.package_url("rpm", dist="el9", arch="amd64", package_name="node_exporter", filename=rpm.name)
    (site / url).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(rpm, site / url)
    deb = make_package(
        "deb", build, name="node-exporter", version=version, release="1+deb12", payload=payload, source_date=source_date
    )
    url = catalog.package_url("deb", dist="debian-12", arch="amd64", package_name="node-exporter", filename=deb.name)
    (site / url).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(deb, site / url)


def versions(site: Path) -> tuple[list[str], list[str]]:
    rpms = sorted(p.name for p in (site / "el9/x86_64").glob("*.rpm"))
    debs = sorted(p.name for p in (site / "pool").rglob("*.deb"))
    return rpms, debs


def test_previous_pool_is_merged_and_the_newest_three_kept(tmp_path: Path) -> None:
    previous = tmp_path / "previous"
    for i, v in enumerate(("1.9.0", "1.10.0", "1.10.1")):
        place(previous, tmp_path / "old", v, source_date=SOURCE_DATE - 1000 + i)
    merge.merge_previous(previous, None)
    site = tmp_path / "site"
    place(site, tmp_path / "new", "1.11.0")
    report = merge.merge_previous(site, previous)
    rpms, debs = versions(site)
    assert rpms == [f"node_exporter-{v}-1.el9.x86_64.rpm" for v in ("1.10.0", "1.10.1", "1.11.0")]
    assert debs == [f"node-exporter_{v}-1+deb12_amd64.deb" for v in ("1.10.0", "1.10.1", "1.11.0")]
    assert sorted(report["removed"]) == [
        "el9/x86_64/node_exporter-1.9.0-1.el9.x86_64.rpm",
        "pool/main/n/node-exporter/node-exporter_1.9.0-1+deb12_amd64.deb",
    ]
    assert len(report["copied"]) == 6 and report["kept_published"] == []
    assert report["yum"]["el9/x86_64"] == 3 and report["apt"]["bookworm"] == 3
    primary = gzip.decompress(next((site / "el9/x86_64/repodata").glob("*-primary.xml.gz")).read_bytes()).decode()
    assert primary.count("<package ") == 3 and "1.9.0" not in primary
    packages = (site / "dists/bookworm/main/binary-amd64/Packages").read_text()
    assert packages.count("Package: node-exporter") == 3
    assert f"<revision>{SOURCE_DATE}</revision>" in (site / "el9/x86_64/repodata/repomd.xml").read_text()


def test_a_published_name_keeps_its_bytes(tmp_path: Path) -> None:
    previous = tmp_path / "previous"
    place(previous, tmp_path / "old", "1.11.0", payload=b"published")
    site = tmp_path / "site"
    place(site, tmp_path / "new", "1.11.0", payload=b"rebuilt differently")
    published = {p.name: p.read_bytes() for p in previous.rglob("*") if p.suffix in (".rpm", ".deb")}
    report = merge.merge_previous(site, previous, keep=3)
    assert sorted(report["kept_published"]) == sorted(
        [
            "el9/x86_64/node_exporter-1.11.0-1.el9.x86_64.rpm",
            "pool/main/n/node-exporter/node-exporter_1.11.0-1+deb12_amd64.deb",
        ]
    )
    for p in site.rglob("*"):
        if p.suffix in (".rpm", ".deb"):
            assert p.read_bytes() == published[p.name]
    entry = yum.yum_entry(site / "el9/x86_64/node_exporter-1.11.0-1.el9.x86_64.rpm")
    assert (
        entry["sha256"]
        in gzip.decompress(next((site / "el9/x86_64/repodata").glob("*-primary.xml.gz")).read_bytes()).decode()
    )
    assert (
        apt.apt_entry(site / "pool/main/n/node-exporter/node-exporter_1.11.0-1+deb12_amd64.deb")["sha256"]
        in (site / "dists/bookworm/main/binary-amd64/Packages").read_text()
    )


def test_cli_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    place(site, tmp_path / "b", "1.0.0")
    assert main(["repo-merge", "--site", str(site), "--keep", "1"]) == 0
    assert "removed 0 beyond the newest 1 versions" in capsys.readouterr().out
    assert main(["repo-merge", "--site", str(site), "--previous", str(tmp_path / "nope")]) == 2
    with pytest.raises(HubError, match="at least 1"):
        merge.merge_previous(site, None, keep=0)
