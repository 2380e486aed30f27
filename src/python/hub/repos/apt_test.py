"""hub.repos.apt: Packages stanzas, the dists/ tree, Release checksums, by-hash, retention, and
apt-get reading it.

Real .debs made by nfpm (HUB_NFPM) and dpkg-deb, compared with dpkg-deb and apt-ftparchive;
apt-get runs with a private APT_CONFIG (nothing of the host's apt state is touched).
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from testkit.packages import SOURCE_DATE, make_package

from hub.catalog import artifact as catalog
from hub.cli import main
from hub.common.errors import HubError
from hub.repos import apt
from hub.common.dates import rfc2822_date

SPECS = [
    ("alpha-exporter", "1.2.0", "1+deb12", "amd64"),
    ("alpha-exporter", "1.10.0", "1+deb12", "amd64"),
    ("alpha-exporter", "1.10.0", "1+deb12", "arm64"),
    ("alpha-exporter", "1.10.0", "1+ubuntu24.04", "amd64"),
    ("beta-exporter", "0.9.1", "1+deb13", "arm64"),
]


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("debs")
    out = {}
    for name, version, release, arch in SPECS:
        depends = ["adduser"] if version == "1.2.0" else []  # adduser: not in the test repository
        p = make_package(
            "deb", d, name=name, version=version, release=release, arch=arch, payload=os.urandom(2048), depends=depends
        )
        out[p.name] = p
    return out


def _site(tmp_path: Path, debs: dict[str, Path]) -> tuple[Path, list[dict]]:
    site = tmp_path / "site"
    entries = []
    for deb in debs.values():
        e = apt.apt_entry(deb)
        dest = site / e["filename"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(deb, dest)
        entries.append(e)
    return site, entries


def test_entry_stanza_has_the_control_fields_and_digests(debs: dict[str, Path]) -> None:
    deb = debs["alpha-exporter_1.2.0-1+deb12_amd64.deb"]
    e = apt.apt_entry(deb)
    data = deb.read_bytes()
    assert e["format"] == "hub-apt-entry/1"
    assert (e["package"], e["version"], e["architecture"], e["codename"]) == (
        "alpha-exporter",
        "1.2.0-1+deb12",
        "amd64",
        "bookworm",
    )
    assert e["filename"] == "pool/main/a/alpha-exporter/alpha-exporter_1.2.0-1+deb12_amd64.deb"
    assert e["filename"] == catalog.package_url(
        "deb", dist="debian-12", arch="amd64", package_name="alpha-exporter", filename=deb.name
    )
    assert e["build_time"] == SOURCE_DATE
    stanza = dict(line.split(": ", 1) for line in e["stanza"].splitlines() if not line.startswith(" "))
    assert stanza["Size"] == str(len(data))
    assert stanza["MD5sum"] == hashlib.md5(data).hexdigest()
    assert stanza["SHA1"] == hashlib.sha1(data).hexdigest()
    assert stanza["SHA256"] == hashlib.sha256(data).hexdigest() == e["sha256"]
    for field in ("Package", "Version", "Architecture", "Maintainer", "Depends", "Homepage", "Installed-Size"):
        shown = subprocess.run(
            ["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert stanza[field] == shown, field
    assert e["stanza"].endswith(
        "Description: Synthetic alpha-exporter for repository tests.\n A second line of description.\n"
    )


def test_entry_of_a_dpkg_deb_package_with_an_epoch(tmp_path: Path) -> None:
    """Control fields as hub.repos.deb_control reads them (here a zstd control member)."""
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        "Package: zz-test\nVersion: 2:1.0-3+deb13\nArchitecture: all\nMaintainer: T <t@example.org>\n"
        "Description: test\n multi\n .\n line\n"
    )
    out = tmp_path / "zz.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zzstd", "--build", str(root), str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE)},
    )
    e = apt.apt_entry(out)
    assert (e["package"], e["version"], e["architecture"], e["codename"]) == (
        "zz-test",
        "2:1.0-3+deb13",
        "all",
        "trixie",
    )
    assert e["stanza"].endswith("Description: test\n multi\n .\n line\n")
    assert e["filename"] == "pool/main/z/zz-test/zz.deb" and e["build_time"] == SOURCE_DATE


def test_entry_refuses_what_is_not_a_deb(tmp_path: Path) -> None:
    bad = tmp_path / "x.deb"
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(HubError, match="x.deb: not a .deb"):
        apt.apt_entry(bad)


def _release_files(release: str) -> dict[str, dict[str, tuple[str, int]]]:
    """{hash field: {path: (digest, size)}} of a Release file."""
    out: dict[str, dict[str, tuple[str, int]]] = {}
    current = None
    for line in release.splitlines():
        if not line.startswith(" "):
            current = line.rstrip(":") if line.endswith(":") else None
            if current:
                out[current] = {}
        elif current:
            digest, size, path = line.split()
            out[current][path] = (digest, int(size))
    return out


def test_dists_tree_release_checksums_by_hash_and_codename_split(tmp_path: Path, debs: dict[str, Path]) -> None:
    site, entries = _site(tmp_path, debs)
    counts = apt.build_apt_site(site, entries)
    assert counts == {"bookworm": 3, "trixie": 1, "jammy": 0, "noble": 1}
    for codename in counts:
        base = site / "dists" / codename
        release = (base / "Release").read_text()
        fields = dict(line.split(": ", 1) for line in release.splitlines() if ": " in line and not line.startswith(" "))
        assert fields["Suite"] == fields["Codename"] == codename
        assert fields["Date"] == rfc2822_date(SOURCE_DATE) == "Sun, 01 Jun 2025 12:00:00 UTC"
        assert fields["Architectures"] == "amd64 arm64"
        assert fields["Components"] == "main"
        assert fields["Acquire-By-Hash"] == "yes"
        listed = _release_files(release)
        assert set(listed) == {"MD5Sum", "SHA1", "SHA256"}
        expected_paths = {
            f"main/binary-{a}/{n}"
            for a in ("amd64", "arm64")
            for n in ("Packages", "Packages.gz", "Packages.xz", "Release")
        }
        for field, algo in (("MD5Sum", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256")):
            assert set(listed[field]) == expected_paths
            for path, (digest, size) in listed[field].items():
                data = (base / path).read_bytes()
                assert (hashlib.new(algo, data).hexdigest(), len(data)) == (digest, size), (codename, path)
        for path, (digest, _) in listed["SHA256"].items():
            if not path.endswith("/Release"):
                assert (base / os.path.dirname(path) / "by-hash" / "SHA256" / digest).read_bytes() == (
                    base / path
                ).read_bytes()
        for arch in ("amd64", "arm64"):
            d = base / "main" / f"binary-{arch}"
            text = (d / "Packages").read_bytes()
            assert gzip.decompress((d / "Packages.gz").read_bytes()) == text
            assert lzma.decompress((d / "Packages.xz").read_bytes()) == text
            assert (d / "Packages.gz").read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime 0, no name
            for stanza in filter(None, text.decode().split("\n\n")):
                assert f"\nArchitecture: {arch}\n" in stanza
                version = re.search(r"^Version: (.*)$", stanza, re.M).group(1)
                assert apt.codename_of_version(version) == codename
                filename = re.search(r"^Filename: (.*)$", stanza, re.M).group(1)
                assert (site / filename).is_file()
    assert (site / "dists/jammy/main/binary-amd64/Packages").read_bytes() == b""  # empty, but present


def test_packages_match_apt_ftparchive(tmp_path: Path, debs: dict[str, Path]) -> None:
    site, entries = _site(tmp_path, debs)
    apt.build_apt_site(site, entries, codenames=["bookworm"])
    ours = (site / "dists/bookworm/main/binary-amd64/Packages").read_text()
    ref = subprocess.run(
        ["apt-ftparchive", "packages", "pool"], cwd=site, capture_output=True, text=True, check=True
    ).stdout

    def parse(text: str) -> dict[str, dict[str, str]]:
        out = {}
        for stanza in filter(None, text.split("\n\n")):
            fields, last = {}, None
            for line in stanza.splitlines():
                if line.startswith(" "):
                    fields[last] += "\n" + line
                else:
                    last, _, value = line.partition(":")
                    fields[last] = value.strip()
            out[fields["Filename"]] = fields
        return out

    a, b = parse(ours), parse(ref)
    assert len(a) == 2 and set(a) < set(b)  # apt-ftparchive lists the whole pool
    for filename in a:
        for field in (
            "Package",
            "Version",
            "Architecture",
            "Maintainer",
            "Installed-Size",
            "Depends",
            "Homepage",
            "Priority",
            "Section",
            "Size",
            "MD5sum",
            "SHA1",
            "SHA256",
            "Description",
        ):
            assert a[filename].get(field) == b[filename].get(field), (filename, field)


def test_merge_is_deterministic_and_keeps_the_previous_by_hash(tmp_path: Path, debs: dict[str, Path]) -> None:
    site, entries = _site(tmp_path, debs)
    apt.build_apt_site(site, entries, source_date=SOURCE_DATE)
    tree = {p.relative_to(site): p.read_bytes() for p in sorted((site / "dists").rglob("*")) if p.is_file()}
    apt.build_apt_site(site, list(reversed(entries)), source_date=SOURCE_DATE)
    assert {p.relative_to(site): p.read_bytes() for p in sorted((site / "dists").rglob("*")) if p.is_file()} == tree

    by_hash = site / "dists/bookworm/main/binary-amd64/by-hash/SHA256"
    first = set(os.listdir(by_hash))
    (site / "dists/bookworm/InRelease").write_text("stale")
    fewer = [e for e in entries if e["version"] != "1.2.0-1+deb12"]
    apt.build_apt_site(site, fewer, source_date=SOURCE_DATE + 60)
    second = set(os.listdir(by_hash))
    assert first < second  # the previous Release's indexes stay reachable by hash
    assert not (site / "dists/bookworm/InRelease").exists()  # a stale signature is removed
    assert len(second) == 6
    apt.build_apt_site(site, fewer, source_date=SOURCE_DATE + 120)
    assert set(os.listdir(by_hash)) == second - first  # older than the previous Release: pruned
    apt.build_apt_site(site, entries, source_date=SOURCE_DATE + 180)
    assert set(os.listdir(by_hash)) == second


def test_retention_and_version_order(debs: dict[str, Path]) -> None:
    entries = [apt.apt_entry(d) for d in debs.values()]
    kept = apt.keep_latest_entries(entries, keep=1)
    assert sorted(e["filename"].rsplit("/", 1)[1] for e in kept) == [
        "alpha-exporter_1.10.0-1+deb12_amd64.deb",
        "alpha-exporter_1.10.0-1+deb12_arm64.deb",
        "alpha-exporter_1.10.0-1+ubuntu24.04_amd64.deb",
        "beta-exporter_0.9.1-1+deb13_arm64.deb",
    ]


def test_cli(tmp_path: Path, debs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = sum((["--deb", str(d)] for d in debs.values()), [])
    assert main(["apt-entry", "--out-dir", str(tmp_path / "e"), *args]) == 0
    assert (
        main(
            [
                "apt-repo",
                "--entries",
                str(tmp_path / "e"),
                "--out",
                str(tmp_path / "site"),
                "--codename",
                "noble",
                "--keep",
                "3",
            ]
        )
        == 0
    )
    assert "dists/noble: 1 packages" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "site/dists")) == ["noble"]
    one = str(debs["beta-exporter_0.9.1-1+deb13_arm64.deb"])
    assert main(["apt-entry", "--deb", one, "--codename", "jammy", "--out", str(tmp_path / "one.json")]) == 0
    assert '"codename": "jammy"' in (tmp_path / "one.json").read_text()


def apt_env(tmp_path: Path, sources: str, trusted_key: Path | None = None) -> dict[str, str]:
    """A private apt: its own sources, lists, cache and an empty dpkg status."""
    root = tmp_path / "apt"
    for d in (
        "etc/sources.list.d",
        "etc/trusted.gpg.d",
        "etc/preferences.d",
        "lists/partial",
        "cache/archives/partial",
        "log",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "status").write_text("")
    (root / "etc/sources.list.d/test.sources").write_text(sources)
    (root / "apt.conf").write_text(
        f'Dir::Etc::sourcelist "{root}/etc/sources.list";\n'
        f'Dir::Etc::sourceparts "{root}/etc/sources.list.d";\n'
        f'Dir::Etc::trusted "{root}/etc/trusted.gpg";\n'
        f'Dir::Etc::trustedparts "{root}/etc/trusted.gpg.d";\n'
        f'Dir::Etc::preferences "{root}/etc/preferences";\n'
        f'Dir::Etc::preferencesparts "{root}/etc/preferences.d";\n'
        f'Dir::State::Lists "{root}/lists";\n'
        f'Dir::State::status "{root}/status";\n'
        f'Dir::Cache "{root}/cache";\n'
        f'Dir::Log "{root}/log";\n'
        'APT::Architecture "amd64";\n'
        'APT::Architectures { "amd64"; "arm64"; };\n'
        'APT::Sandbox::User "root";\n'
        'Acquire::Languages "none";\n'
        'Debug::NoLocking "true";\n'
    )
    return {**os.environ, "APT_CONFIG": str(root / "apt.conf"), "LC_ALL": "C"}


def test_apt_get_reads_the_unsigned_tree(tmp_path: Path, debs: dict[str, Path]) -> None:
    """The real client on the unsigned build output (`Trusted: yes`; signing is tested in
    tests/integration/repositories_test.py): apt checks every size and hash of the Release."""
    site, entries = _site(tmp_path, debs)
    apt.build_apt_site(site, entries)
    sources = f"Types: deb\nURIs: {site.as_uri()}/\nSuites: bookworm\nComponents: main\nTrusted: yes\n"
    env = apt_env(tmp_path, sources)
    update = subprocess.run(["apt-get", "update", "--error-on=any"], capture_output=True, text=True, env=env)
    assert update.returncode == 0, update.stdout + update.stderr
    policy = subprocess.run(
        ["apt-cache", "madison", "alpha-exporter", "alpha-exporter:arm64"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "1.10.0-1+deb12" in policy and "1.2.0-1+deb12" in policy and "ubuntu" not in policy
    env["DEBIAN_FRONTEND"] = "noninteractive"
    dl = subprocess.run(
        ["apt-get", "install", "--download-only", "-y", "alpha-exporter"], capture_output=True, text=True, env=env
    )
    assert dl.returncode == 0, dl.stdout + dl.stderr
    assert "Download complete and in download only mode" in dl.stdout
    # file: URIs are used in place; `apt-get download` copies (after checking the SHA256).
    (tmp_path / "dl").mkdir()
    subprocess.run(
        ["apt-get", "download", "alpha-exporter"], cwd=tmp_path / "dl", capture_output=True, env=env, check=True
    )
    (got,) = (tmp_path / "dl").glob("*.deb")
    assert got.name == "alpha-exporter_1.10.0-1+deb12_amd64.deb"
    assert got.read_bytes() == debs[got.name].read_bytes()
    # The older version depends on adduser, which is neither here nor in the empty status.
    old = subprocess.run(
        ["apt-get", "install", "--download-only", "-y", "alpha-exporter=1.2.0-1+deb12"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert old.returncode != 0 and "adduser" in old.stdout + old.stderr


def test_scan_and_fresh_packages_next_to_cached_entries(tmp_path: Path, debs: dict[str, Path]) -> None:
    import sys

    site, entries = _site(tmp_path, debs)
    assert main(["apt-repo", "--scan", "--out", str(site)]) == 0
    scanned = {p.relative_to(site): p.read_bytes() for p in sorted((site / "dists").rglob("*")) if p.is_file()}
    shutil.rmtree(site / "dists")
    pool = sorted((site / "pool").rglob("*.deb"))
    assert (
        main(["apt-entry", "--out-dir", str(tmp_path / "cache"), *sum((["--deb", str(p)] for p in pool[:-2]), [])]) == 0
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "apt-repo",
            "--entries",
            str(tmp_path / "cache"),
            *sum((["--deb", str(p)] for p in pool[-2:]), []),
            "--save-entries",
            str(tmp_path / "cache"),
            "--out",
            str(site),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    assert {p.relative_to(site): p.read_bytes() for p in sorted((site / "dists").rglob("*")) if p.is_file()} == scanned
    assert len(list((tmp_path / "cache").iterdir())) == len(debs)
