"""hub.repos.yum: per-package entries, the merge, determinism, retention, and dnf reading it.

Real RPMs made by nfpm (HUB_NFPM), real createrepo_c, real rpm and dnf.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import createrepo_c  # a hard requirement of these tests: no skip
import pytest
from testkit.packages import SOURCE_DATE, make_package

from hub.cli import main
from hub.common.errors import HubError
from hub.repos import yum


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rpms")
    out = {}
    for name, version, release, arch in [
        ("alpha_exporter", "1.2.0", "1.el9", "amd64"),
        ("alpha_exporter", "1.10.0", "1.el9", "amd64"),
        ("beta_exporter", "0.9.1", "1.el9", "amd64"),
        ("beta_exporter", "0.9.1", "1.el9", "arm64"),
        ("beta_exporter", "0.9.1", "1.el8", "amd64"),
    ]:
        p = make_package("rpm", d, name=name, version=version, release=release, arch=arch, payload=os.urandom(2048))
        out[p.name] = p
    return out


def test_entry_holds_the_createrepo_c_chunks_and_identity(rpms: dict[str, Path]) -> None:
    rpm = rpms["alpha_exporter-1.2.0-1.el9.x86_64.rpm"]
    e = yum.yum_entry(rpm)
    assert e["format"] == "hub-yum-entry/1"
    assert e["sha256"] == hashlib.sha256(rpm.read_bytes()).hexdigest()
    assert e["size"] == rpm.stat().st_size
    assert (e["name"], e["version"], e["release"], e["arch"], e["dist"]) == (
        "alpha_exporter",
        "1.2.0",
        "1.el9",
        "x86_64",
        "el9",
    )
    assert e["location_href"] == rpm.name  # relative: the RPM sits beside repodata/
    assert e["build_time"] == SOURCE_DATE
    assert '<location href="alpha_exporter-1.2.0-1.el9.x86_64.rpm"/>' in e["primary"]
    # No machine-dependent value: the file's mtime is replaced by the build time.
    assert f'<time file="{SOURCE_DATE}" build="{SOURCE_DATE}"/>' in e["primary"]
    assert "<file>/usr/bin/alpha_exporter</file>" in e["filelists"]
    assert e["other"].startswith("<package pkgid=")
    os.utime(rpm, (1, 1))
    assert yum.yum_entry(rpm) == e  # depends on the bytes only
    json.dumps(e)


def test_entry_dist_explicit_and_refused(rpms: dict[str, Path]) -> None:
    rpm = rpms["beta_exporter-0.9.1-1.el8.x86_64.rpm"]
    assert yum.yum_entry(rpm)["dist"] == "el8"
    assert yum.yum_entry(rpm, dist="el10")["dist"] == "el10"
    with pytest.raises(HubError, match="expected one of el8, el9, el10"):
        yum.yum_entry(rpm, dist="el7")


def test_entry_of_a_non_rpm_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rpm"
    bad.write_bytes(b"not an rpm")
    with pytest.raises(HubError, match="bad.rpm: not a readable RPM"):
        yum.yum_entry(bad)


def _repo_with(tmp_path: Path, rpms: list[Path]) -> tuple[Path, list[dict]]:
    repo = tmp_path / "el9" / "x86_64"
    repo.mkdir(parents=True)
    for r in rpms:
        shutil.copy(r, repo / r.name)
    entries = [yum.yum_entry(repo / r.name) for r in rpms]
    return repo, entries


def _tree(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def test_merge_is_deterministic_gzip_and_dated_by_the_source_date(tmp_path: Path, rpms: dict[str, Path]) -> None:
    chosen = [rpms["alpha_exporter-1.2.0-1.el9.x86_64.rpm"], rpms["beta_exporter-0.9.1-1.el9.x86_64.rpm"]]
    repo, entries = _repo_with(tmp_path, chosen)
    yum.write_repodata(repo, entries, "2025-06-01T12:00:00Z")
    first = _tree(repo / "repodata")
    yum.write_repodata(repo, list(reversed(entries)), SOURCE_DATE)  # order of entries does not matter
    assert _tree(repo / "repodata") == first
    repomd = (repo / "repodata" / "repomd.xml").read_text()
    assert f"<revision>{SOURCE_DATE}</revision>" in repomd
    assert set(re.findall(r"<timestamp>(\d+)</timestamp>", repomd)) == {str(SOURCE_DATE)}
    hrefs = re.findall(r'<location href="([^"]+)"/>', repomd)
    assert [h.rsplit("-", 1)[1] for h in hrefs] == ["primary.xml.gz", "filelists.xml.gz", "other.xml.gz"]
    for href in hrefs:
        data = (repo / href).read_bytes()
        assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0"  # gzip, mtime 0
        assert href.split("/")[1].startswith(hashlib.sha256(data).hexdigest())
    primary = gzip.decompress(next((repo / "repodata").glob("*-primary.xml.gz")).read_bytes()).decode()
    assert 'packages="2"' in primary
    assert primary.index("<name>alpha_exporter</name>") < primary.index("<name>beta_exporter</name>")
    assert "sqlite" not in repomd  # dnf never reads the databases


def test_merge_matches_the_createrepo_c_command(tmp_path: Path, rpms: dict[str, Path]) -> None:
    """Same packages, same checksums, same file lists as the reference tool, parsed back by
    createrepo_c's own reader."""
    chosen = [rpms[n] for n in sorted(rpms) if ".el9.x86_64" in n]
    repo, entries = _repo_with(tmp_path / "ours", chosen)
    yum.write_repodata(repo, entries, SOURCE_DATE)
    ref = tmp_path / "ref"
    ref.mkdir()
    for r in chosen:
        shutil.copy(r, ref / r.name)
    subprocess.run(["createrepo_c", "--quiet", "--no-database", "--general-compress-type=gz", str(ref)], check=True)

    def load(path: Path) -> dict[str, tuple]:
        md = createrepo_c.Metadata()
        md.locate_and_load_xml(str(path))
        out = {}
        for key in md.keys():
            p = md.get(key)
            out[p.location_href] = (
                p.pkgId,
                p.name,
                p.version,
                p.release,
                p.arch,
                sorted(f[1] + f[2] for f in p.files),
                sorted(x[0] for x in p.provides),
                sorted(x[0] for x in p.requires),
                p.time_build,
            )
        return out

    assert load(repo) == load(ref)


def test_merge_reads_no_rpm_and_replaces_the_old_repodata(tmp_path: Path, rpms: dict[str, Path]) -> None:
    repo, entries = _repo_with(tmp_path, [rpms["alpha_exporter-1.2.0-1.el9.x86_64.rpm"]])
    yum.write_repodata(repo, entries, SOURCE_DATE)
    (repo / "repodata" / "repomd.xml.asc").write_text("stale signature")
    for r in repo.glob("*.rpm"):
        r.unlink()
    extra = yum.yum_entry(rpms["beta_exporter-0.9.1-1.el9.x86_64.rpm"])
    yum.write_repodata(repo, entries + [extra], SOURCE_DATE)
    names = sorted(p.name for p in (repo / "repodata").iterdir())
    assert len(names) == 4 and "repomd.xml.asc" not in names
    assert not [p for p in repo.iterdir() if p.name.startswith(".")]  # no temporary left


def test_two_packages_with_one_name_and_different_bytes_are_refused(tmp_path: Path, rpms: dict[str, Path]) -> None:
    e = yum.yum_entry(rpms["alpha_exporter-1.2.0-1.el9.x86_64.rpm"])
    other = dict(e, sha256="0" * 64)
    with pytest.raises(HubError, match="two different packages named alpha_exporter-1.2.0-1.el9.x86_64.rpm"):
        yum.write_repodata(tmp_path, [e, other], SOURCE_DATE)


def test_site_has_every_dist_and_arch_and_places_each_package(tmp_path: Path, rpms: dict[str, Path]) -> None:
    entries = [yum.yum_entry(r) for r in rpms.values()]
    counts = yum.build_yum_site(tmp_path, entries)
    assert counts == {
        "el8/aarch64": 0,
        "el8/x86_64": 1,
        "el9/aarch64": 1,
        "el9/x86_64": 3,
        "el10/aarch64": 0,
        "el10/x86_64": 0,
    }
    for repo in counts:
        repomd = (tmp_path / repo / "repodata" / "repomd.xml").read_text()
        assert f"<revision>{SOURCE_DATE}</revision>" in repomd  # default: the newest build time


def test_retention_keeps_the_newest_versions_by_rpm_order(rpms: dict[str, Path]) -> None:
    entries = [yum.yum_entry(r) for r in rpms.values()]
    kept = yum.keep_latest_entries(entries, keep=1)
    names = sorted(e["location_href"] for e in kept)
    # 1.10.0 is newer than 1.2.0 (numeric segments), and each (dist, name, arch) is its own group.
    assert names == [
        "alpha_exporter-1.10.0-1.el9.x86_64.rpm",
        "beta_exporter-0.9.1-1.el8.x86_64.rpm",
        "beta_exporter-0.9.1-1.el9.aarch64.rpm",
        "beta_exporter-0.9.1-1.el9.x86_64.rpm",
    ]
    assert len(yum.keep_latest_entries(entries, keep=3)) == len(entries)
    with pytest.raises(HubError):
        yum.keep_latest_entries(entries, keep=0)


def test_cli_entry_and_repo(tmp_path: Path, rpms: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    one = rpms["beta_exporter-0.9.1-1.el9.aarch64.rpm"]
    assert main(["yum-entry", "--rpm", str(one), "--out", str(tmp_path / "e" / "one.json")]) == 0
    assert (
        main(["yum-entry", "--out-dir", str(tmp_path / "e"), *sum((["--rpm", str(r)] for r in rpms.values()), [])]) == 0
    )
    assert (
        main(
            [
                "yum-repo",
                "--entries",
                str(tmp_path / "e"),
                "--out",
                str(tmp_path / "site"),
                "--repo",
                "el9/aarch64",
                "--source-date",
                "2025-06-01T12:00:00Z",
            ]
        )
        == 0
    )
    assert "el9/aarch64: 1 packages" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["el9"]
    assert main(["yum-entry", "--rpm", str(one), "--rpm", str(one), "--out", str(tmp_path / "x.json")]) == 2


def test_dnf_reads_the_repository(tmp_path: Path, rpms: dict[str, Path]) -> None:
    """The real client: dnf (Debian's 4.x) lists the packages of a merged repository."""
    site = tmp_path / "site"
    for r in rpms.values():
        e = yum.yum_entry(r)
        dest = site / e["dist"] / e["arch"]
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(r, dest / r.name)
    entries = [yum.yum_entry(p) for p in site.rglob("*.rpm")]
    yum.build_yum_site(site, entries)
    conf = tmp_path / "dnf.conf"
    conf.write_text(
        "[main]\nreposdir=\nplugins=0\ngpgcheck=0\n"
        f"cachedir={tmp_path}/cache\nlogdir={tmp_path}/log\npersistdir={tmp_path}/persist\n"
        f"[t]\nname=t\nbaseurl={site.as_uri()}/el9/x86_64/\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    result = subprocess.run(
        [
            "dnf",
            "-c",
            str(conf),
            f"--installroot={tmp_path / 'root'}",
            "--releasever=9",
            "-q",
            "repoquery",
            "--available",
            "--qf",
            "%{name}-%{version}-%{release}.%{arch} %{location}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home), "LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.split("\n"))
    assert [line.split()[0] for line in lines if line] == [
        "alpha_exporter-1.10.0-1.el9.x86_64",
        "alpha_exporter-1.2.0-1.el9.x86_64",
        "beta_exporter-0.9.1-1.el9.x86_64",
    ]


def test_scan_and_fresh_packages_next_to_cached_entries(tmp_path: Path, rpms: dict[str, Path]) -> None:
    """`--scan` (a full run without cache) and `--entries` + `--rpm` (incremental) give the same
    bytes; `python -m hub yum-repo` runs the same command."""
    import sys

    site = tmp_path / "site"
    for r in rpms.values():
        e = yum.yum_entry(r)
        (site / e["dist"] / e["arch"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(r, site / e["dist"] / e["arch"] / r.name)
    assert main(["yum-repo", "--scan", "--out", str(site)]) == 0
    scanned = _tree(site)
    old, new = sorted(site.rglob("*.rpm"))[:-2], sorted(site.rglob("*.rpm"))[-2:]
    assert main(["yum-entry", "--out-dir", str(tmp_path / "cache"), *sum((["--rpm", str(p)] for p in old), [])]) == 0
    for d in site.glob("*/*/repodata"):
        shutil.rmtree(d)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "yum-repo",
            "--entries",
            str(tmp_path / "cache"),
            *sum((["--rpm", str(p)] for p in new), []),
            "--save-entries",
            str(tmp_path / "cache"),
            "--out",
            str(site),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    assert _tree(site) == scanned
    assert len(list((tmp_path / "cache").iterdir())) == len(rpms)
    assert main(["yum-repo", "--out", str(site)]) == 2  # nothing to merge
