"""hub.site.publish: snapshots, the publish order, cumulative pool, retention, the atomic switch and
crash clean-up, on small real sites (nfpm packages through hub.site.assemble, the //:site merge),
signed with an ephemeral RSA-3072 key. Checked with rpmkeys -K and gpg --verify."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from testkit.packages import (
    export_public_key,
    export_secret_key,
    generate_key,
    stop_agent,
)
from testkit.unsigned_site import build_unsigned_site, version_date

from hub.catalog import artifact as catalog
from hub.cli import main
from hub.common.dates import rfc2822_date
from hub.common.errors import HubError
from hub.repos import user_files
from hub.repos.signing_key import KEY_ENV, SigningError
from hub.site import publish
from hub.site.carry import repomd_locations
from hub.site.check import check_site
from hub.site.crash_points import CRASH_ENV, CRASH_STATUS
from hub.site.snapshots import KEYRING_RECORD, publish_lock

SRC = Path(__file__).resolve().parents[2]  # src/python: the engine for `python -m hub`


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("gpg")
    fpr = generate_key(home, length=3072, email="publish-test@monitoring-hub.example")
    try:
        yield {"fpr": fpr, "secret": export_secret_key(home, fpr), "public": export_public_key(home, fpr).decode()}
    finally:
        stop_agent(home)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory):
    """Unsigned sites of node_exporter 1.0.0 ... 1.3.0 (one RPM, two DEBs each)."""
    root = tmp_path_factory.mktemp("sites")
    return {v: build_unsigned_site(root / v, v) for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}


def env_of(key: dict[str, str]) -> dict[str, str]:
    return {KEY_ENV: key["secret"]}


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): catalog.file_digest(p)[0] for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def tmp_path(tmp_path: Path):
    """The test's directory; the gpg-agent of its verifying keyring is stopped afterwards."""
    yield tmp_path
    stop_agent(tmp_path / "verify-gnupg")


def gpg_verify(tmp: Path, public_key: bytes, signature: Path, data: Path | None = None) -> list[str]:
    """`gpg --verify` in a fresh keyring holding only `public_key`; the VALIDSIG fields."""
    home = tmp / "verify-gnupg"
    if not home.exists():
        home.mkdir(mode=0o700)
        subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--import"], input=public_key, check=True, capture_output=True
        )
    cmd = ["gpg", "--homedir", str(home), "--batch", "--status-fd", "1", "--verify", str(signature)] + (
        [str(data)] if data else []
    )
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    (valid,) = [line.split()[2:] for line in result.stdout.splitlines() if line.startswith("[GNUPG:] VALIDSIG")]
    return valid


def rpmkeys_check(tmp: Path, public_key: Path, rpm: Path) -> str:
    db = tmp / "rpmdb"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "LC_ALL": "C"}
    if not db.exists():
        db.mkdir()
        subprocess.run(
            ["rpmkeys", "--dbpath", str(db), "--import", str(public_key)], check=True, capture_output=True, env=env
        )
    result = subprocess.run(["rpmkeys", "--dbpath", str(db), "-Kv", str(rpm)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def current(dest: Path) -> str:
    return os.readlink(dest / "current")


def test_publish_twice_signs_merges_and_switches(tmp_path: Path, key, sites) -> None:
    dest = tmp_path / "dest"
    base = "https://packages.example.org/hub"
    v1, v2 = sites["1.0.0"], sites["1.1.0"]
    unsigned_v1 = tree_digest(v1.site)

    report = publish.publish(v1.site, dest, base, env=env_of(key))
    assert current(dest) == "snapshots/00000001" and report["previous"] is None
    assert tree_digest(v1.site) == unsigned_v1, "publish must never modify its input"
    snap1 = dest / "snapshots/00000001"
    first = tree_digest(snap1)
    public = snap1 / "monitoring-hub.asc"
    assert "BEGIN PGP PUBLIC KEY BLOCK" in public.read_text()
    assert "PRIVATE KEY" not in public.read_text()

    # 1. RPM header signatures, checked by rpm's own verifier with the published key.
    (rpm1,) = (snap1 / "el9/x86_64").glob("*.rpm")
    out = rpmkeys_check(tmp_path, public, rpm1)
    assert "Header V4 RSA/SHA256 Signature" in out and "NOKEY" not in out and "BAD" not in out, out
    # 4. Metadata signatures: RSA (1) with SHA-256 (8), by our key.
    pk = public.read_bytes()
    for sig, data in [
        (snap1 / "el9/x86_64/repodata/repomd.xml.asc", snap1 / "el9/x86_64/repodata/repomd.xml"),
        (snap1 / "dists/bookworm/Release.gpg", snap1 / "dists/bookworm/Release"),
        (snap1 / "dists/noble/InRelease", None),
    ]:
        valid = gpg_verify(tmp_path, pk, sig, data)
        assert valid[0] == key["fpr"] and valid[6] == "1" and valid[7] == "8", valid
    # 2. YUM metadata from the signed file.
    primary = next((snap1 / "el9/x86_64/repodata").glob("*-primary.xml.gz"))
    assert catalog.file_digest(rpm1)[0] in gzip.decompress(primary.read_bytes()).decode()
    # 3. The catalog follows the published bytes; the unsigned digest stays.
    doc = json.loads((snap1 / "catalog/node_exporter/rpm_amd64_el9.json").read_text())
    assert (doc["package"]["sha256"], doc["package"]["size_bytes"]) == catalog.file_digest(rpm1)
    assert (
        doc["package"]["unsigned_sha256"]
        == catalog.file_digest(v1.rpms["rpm_amd64_el9"])[0]
        != doc["package"]["sha256"]
    )
    deb_doc = json.loads((snap1 / "catalog/node_exporter/deb_amd64_debian-12.json").read_text())
    assert (
        deb_doc["package"]["sha256"]
        == deb_doc["package"]["unsigned_sha256"]
        == catalog.file_digest(snap1 / deb_doc["package"]["url"])[0]
    )
    # ... and so does the portal, which keeps the README rendered at build time.
    page = (snap1 / "exporters/node_exporter.html").read_text()
    assert doc["package"]["sha256"] in page and doc["package"]["unsigned_sha256"] not in page
    assert "<strong>publish</strong>" in page
    # The users' files for the base URL; timestamps from the inputs.
    assert (snap1 / "monitoring-hub-el9.repo").read_text() == user_files.yum_repo_file(base, "el9")
    assert (snap1 / "monitoring-hub-noble.sources").read_text() == user_files.apt_sources_file(base, "noble")
    assert f"<revision>{version_date('1.0.0')}</revision>" in (snap1 / "el9/x86_64/repodata/repomd.xml").read_text()
    assert f"Date: {rfc2822_date(version_date('1.0.0'))}\n" in (snap1 / "dists/bookworm/Release").read_text()
    assert check_site(snap1) == []

    report = publish.publish(v2.site, dest, base, env=env_of(key))
    assert current(dest) == "snapshots/00000002" and report["previous"] == "snapshots/00000001"
    assert tree_digest(snap1) == first, "the previous snapshot must never change"
    snap2 = dest / "snapshots/00000002"
    rpms = sorted(p.name for p in (snap2 / "el9/x86_64").glob("*.rpm"))
    assert rpms == ["node_exporter-1.0.0-1.el9.x86_64.rpm", "node_exporter-1.1.0-1.el9.x86_64.rpm"]
    assert (snap2 / "el9/x86_64" / rpm1.name).read_bytes() == rpm1.read_bytes()  # signed once, kept
    assert report["rpms_signed"] == 1 and report["merge"]["copied"] == 3
    for rpm in (snap2 / "el9/x86_64").glob("*.rpm"):
        assert "NOKEY" not in rpmkeys_check(tmp_path, public, rpm)
    # A client that read the old repomd.xml / InRelease just before the switch finds every
    # file they name in the new snapshot.
    assert primary.name in {p.name for p in (snap2 / "el9/x86_64/repodata").iterdir()}
    old_hashes = {p.name for p in (snap1 / "dists/bookworm/main/binary-amd64/by-hash/SHA256").iterdir()}
    assert old_hashes <= {p.name for p in (snap2 / "dists/bookworm/main/binary-amd64/by-hash/SHA256").iterdir()}
    packages = (snap2 / "dists/bookworm/main/binary-amd64/Packages").read_text()
    assert "Version: 1.0.0-1+deb12" in packages and "Version: 1.1.0-1+deb12" in packages
    doc2 = json.loads((snap2 / "catalog/node_exporter/rpm_amd64_el9.json").read_text())
    assert (
        doc2["version"] == "1.1.0"
        and doc2["package"]["sha256"] == catalog.file_digest(snap2 / doc2["package"]["url"])[0]
    )
    assert check_site(snap2) == []
    assert not (dest / KEYRING_RECORD).exists()
    assert report["temporary_keyring"]["removed"] and not os.path.exists(report["temporary_keyring"]["path"])


def test_same_input_gives_the_same_metadata(tmp_path: Path, key, sites) -> None:
    """Timestamps come from the inputs: publishing the same site again changes no metadata."""
    dest = tmp_path / "dest"
    site = sites["1.0.0"].site
    publish.publish(site, dest, "https://example.org/hub", env=env_of(key))
    publish.publish(site, dest, "https://example.org/hub", env=env_of(key))
    a, b = dest / "snapshots/00000001", dest / "snapshots/00000002"
    for rel in (
        "el9/x86_64/repodata/repomd.xml",
        "dists/bookworm/Release",
        "dists/noble/main/binary-amd64/Packages",
        "el9/x86_64/node_exporter-1.0.0-1.el9.x86_64.rpm",
        "catalog/node_exporter/rpm_amd64_el9.json",
        "exporters/node_exporter.html",
    ):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_retention_keeps_three_versions_and_two_snapshots(tmp_path: Path, key, sites) -> None:
    dest = tmp_path / "dest"
    for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0"):
        publish.publish(sites[v].site, dest, "https://example.org/hub", env=env_of(key))
    assert current(dest) == "snapshots/00000004"
    assert sorted(p.name for p in (dest / "snapshots").iterdir()) == ["00000003", "00000004"]
    snap = dest / "current"
    assert sorted(p.name for p in (snap / "el9/x86_64").glob("*.rpm")) == [
        f"node_exporter-{v}-1.el9.x86_64.rpm" for v in ("1.1.0", "1.2.0", "1.3.0")
    ]
    assert sorted(p.name for p in (snap / "pool").rglob("*.deb")) == sorted(
        f"node-exporter_{v}-1+{s}_amd64.deb" for v in ("1.1.0", "1.2.0", "1.3.0") for s in ("deb12", "ubuntu24.04")
    )
    (href,) = [
        loc["href"] for loc in repomd_locations(snap / "el9/x86_64/repodata/repomd.xml") if loc["type"] == "primary"
    ]
    primary = gzip.decompress((snap / "el9/x86_64" / href).read_bytes()).decode()
    assert 'packages="3"' in primary and 'ver="1.0.0"' not in primary
    assert "1.0.0-1+deb12" not in (snap / "dists/bookworm/main/binary-amd64/Packages").read_text()
    assert check_site(snap.resolve()) == []

    publish.publish(sites["1.3.0"].site, dest, "https://example.org/hub", keep=1, env=env_of(key))
    assert [p.name for p in (dest / "current/el9/x86_64").glob("*.rpm")] == ["node_exporter-1.3.0-1.el9.x86_64.rpm"]


def test_a_crash_leaves_current_and_the_next_publish_cleans_up(tmp_path: Path, key, sites, request) -> None:
    """The test-only hook exits like kill -9 (no clean-up): after the key is imported, and
    after the snapshot is complete but before the switch."""
    dest = tmp_path / "dest"
    publish.publish(sites["1.0.0"].site, dest, "https://example.org/hub", env=env_of(key))
    before = tree_digest(dest / "snapshots/00000001")
    # A private TMPDIR: the killed run's keyring stays there for this test to see (a publish
    # of a concurrent test would sweep an orphan in the shared one).
    private_tmp = Path(tempfile.mkdtemp(prefix="hubk-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(private_tmp, ignore_errors=True))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(SRC), *sys.path]),
        "TMPDIR": str(private_tmp),
        KEY_ENV: key["secret"],
    }
    argv = [
        sys.executable,
        "-c",
        "import sys; from hub.cli import main; sys.exit(main())",
        "publish",
        "--site",
        str(sites["1.1.0"].site),
        "--dest",
        str(dest),
        "--base-url",
        "https://example.org/hub",
    ]

    crashed = subprocess.run(argv, env={**env, CRASH_ENV: "keyring-ready"}, capture_output=True, text=True)
    assert crashed.returncode == CRASH_STATUS, crashed.stderr
    assert crashed.stderr.rstrip().endswith("keyring-ready")
    assert current(dest) == "snapshots/00000001" and tree_digest(dest / "snapshots/00000001") == before
    assert (dest / "snapshots/00000002.partial").is_dir()
    keyring = Path((dest / KEYRING_RECORD).read_text().strip())
    assert (
        keyring.parent == private_tmp and keyring.is_dir() and (keyring.stat().st_mode & 0o777) == 0o700
    )  # left by the "kill"

    crashed = subprocess.run(argv, env={**env, CRASH_ENV: "snapshot-renamed"}, capture_output=True, text=True)
    assert crashed.returncode == CRASH_STATUS, crashed.stderr
    assert not keyring.exists(), "the next publish removes the keyring a killed one left"
    assert not (dest / "snapshots/00000002.partial").exists()
    assert (dest / "snapshots/00000003").is_dir() and current(dest) == "snapshots/00000001"

    crashed = subprocess.run(argv, env={**env, CRASH_ENV: "link-created"}, capture_output=True, text=True)
    assert crashed.returncode == CRASH_STATUS
    assert current(dest) == "snapshots/00000001" and (dest / "current.tmp-00000004").is_symlink()

    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["snapshot"] == "snapshots/00000005"
    assert current(dest) == "snapshots/00000005"
    assert sorted(p.name for p in dest.iterdir()) == [".publish.lock", "current", "snapshots"]
    assert sorted(p.name for p in (dest / "snapshots").iterdir()) == ["00000001", "00000005"]
    assert "PRIVATE KEY" not in done.stdout + done.stderr + crashed.stdout + crashed.stderr
    assert not list(private_tmp.iterdir())


def test_errors_change_nothing(tmp_path: Path, key, sites) -> None:
    dest = tmp_path / "dest"
    publish.publish(sites["1.0.0"].site, dest, "https://example.org/hub", env=env_of(key))
    before = sorted(p.name for p in (dest / "snapshots").iterdir())
    with pytest.raises(SigningError, match="no signing key"):
        publish.publish(sites["1.1.0"].site, dest, "https://example.org/hub", env={})
    weak_home = tmp_path / "weak"
    weak = generate_key(weak_home, length=2048, email="weak@example.org")
    try:
        weak_secret = export_secret_key(weak_home, weak)
    finally:
        stop_agent(weak_home)
    with pytest.raises(SigningError, match="3072"):
        publish.publish(sites["1.1.0"].site, dest, "https://example.org/hub", env={KEY_ENV: weak_secret})
    assert current(dest) == "snapshots/00000001"
    assert sorted(p.name for p in (dest / "snapshots").iterdir()) == before  # the partial is removed
    assert not (dest / KEYRING_RECORD).exists()
    with pytest.raises(HubError, match="base URL"):
        publish.publish(sites["1.1.0"].site, dest, "https://exa mple.org", env=env_of(key))
    with pytest.raises(HubError, match="not a built site"):
        publish.publish(tmp_path / "nothing", dest, "https://example.org/hub", env=env_of(key))


def test_current_must_be_our_link_and_publishes_do_not_overlap(tmp_path: Path, key, sites) -> None:
    dest = tmp_path / "dest"
    (dest / "current").mkdir(parents=True)
    with pytest.raises(HubError, match="symbolic link"):
        publish.publish(sites["1.0.0"].site, dest, "https://example.org/hub", env=env_of(key))
    shutil.rmtree(dest / "current")
    with publish_lock(dest):
        with pytest.raises(HubError, match="another publish is running"):
            publish.publish(sites["1.0.0"].site, dest, "https://example.org/hub", env=env_of(key))


def test_cli(tmp_path: Path, key, sites, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv(KEY_ENV, key["secret"])
    dest = tmp_path / "dest"
    assert (
        main(
            [
                "publish",
                "--site",
                str(sites["1.0.0"].site),
                "--dest",
                str(dest),
                "--base-url",
                "https://example.org/hub",
                "--keep",
                "2",
            ]
        )
        == 0
    )
    assert KEY_ENV not in os.environ  # dropped as soon as it is read: no child inherits it
    out = capsys.readouterr()
    assert json.loads(out.out)["snapshot"] == "snapshots/00000001"
    assert "PRIVATE KEY" not in out.out + out.err
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert (
        main(
            [
                "publish",
                "--site",
                str(sites["1.0.0"].site),
                "--dest",
                str(dest),
                "--base-url",
                "https://example.org/hub",
            ]
        )
        == 2
    )
    assert "no signing key" in capsys.readouterr().err
