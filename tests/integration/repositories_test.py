"""Signed YUM and APT repositories, checked with the real clients operators use.

A small site is built the way `//:site` and `publish` do it (hub.repos.yum, hub.repos.apt), signed
with an ephemeral RSA-3072 key (generated here, gpg batch mode) through `HUB_SIGNING_KEY`
(hub.repos.sign), and the users' files are rendered by hub.repos.user_files for a file:// base URL. Then:

- dnf (private config, --installroot, gpgcheck=1 and repo_gpgcheck=1, from the `.repo` file
  as users get it) installs node_exporter, and refuses a tampered repomd.xml and an unsigned RPM;
- apt-get (private APT_CONFIG, deb822 source with Signed-By:) updates with --error-on=any for
  bookworm and noble, downloads node-exporter for amd64 and arm64, works from the by-hash
  files alone, and refuses a tampered InRelease and a key it was not told to trust.

The packages are synthetic (nfpm, HUB_NFPM) without maintainer scripts, so the empty dnf
installroot needs no /bin/sh; the install tests cover the scripts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.catalog import artifact as catalog
from hub.repos import apt as repo_apt
from hub.repos import user_files
from hub.repos import yum as repo_yum
from hub.repos.sign import sign_site
from hub.repos.signer import signer_from_env
from hub.repos.signing_key import KEY_ENV
from testkit.packages import export_secret_key, generate_key, make_package, stop_agent
from integration.roots import base_env, run

VERSION = "1.11.0"
RPMS = [("el9", "amd64"), ("el9", "arm64"), ("el8", "amd64")]
DEBS = [("debian-12", "amd64"), ("debian-12", "arm64"), ("ubuntu-24.04", "amd64"), ("ubuntu-24.04", "arm64")]
SUFFIX = {"debian-12": "deb12", "ubuntu-24.04": "ubuntu24.04"}


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("gpg")
    fpr = generate_key(home, email="release@monitoring-hub.example")
    yield {"fpr": fpr, "secret": export_secret_key(home, fpr)}
    stop_agent(home)


def build_site(root: Path, secret: str) -> Path:
    """Built (unsigned) like //:site, then signed like publish; user files for a file:// URL."""
    site = root / "site"
    build = root / "build"
    yum_entries, apt_entries = [], []
    for dist, arch in RPMS:
        rpm = make_package(
            "rpm",
            build,
            name="node_exporter",
            version=VERSION,
            release=f"1.{dist}",
            arch=arch,
            payload=os.urandom(4096),
            compression="zstd",  # every EL dist (el8 too, from 8.2), as the engine builds them
        )
        url = catalog.package_url("rpm", dist=dist, arch=arch, package_name="node_exporter", filename=rpm.name)
        (site / url).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(rpm, site / url)
        yum_entries.append(repo_yum.yum_entry(site / url))
    for dist, arch in DEBS + [("debian-12-old", "amd64")]:
        version, suffix = (VERSION, SUFFIX[dist]) if dist in SUFFIX else ("1.10.0", "deb12")
        deb = make_package(
            "deb",
            build,
            name="node-exporter",
            version=version,
            release=f"1+{suffix}",
            arch=arch,
            payload=os.urandom(4096),
        )
        entry = repo_apt.apt_entry(deb)
        (site / entry["filename"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(deb, site / entry["filename"])
        apt_entries.append(entry)
    repo_yum.build_yum_site(site, yum_entries)
    repo_apt.build_apt_site(site, apt_entries)
    with signer_from_env({KEY_ENV: secret}) as signer:
        sign_site(site, signer)
    user_files.write_user_files(site, site.as_uri())
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, key) -> Path:
    return build_site(tmp_path_factory.mktemp("published"), key["secret"])


def copy_site(site: Path, dest: Path) -> Path:
    shutil.copytree(site, dest, symlinks=True)
    return dest


# --------------------------------------------------------------------------------------------
# dnf
# --------------------------------------------------------------------------------------------


def dnf(work: Path, repo_file: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """dnf with only `repo_file` (the users' .repo text) and every path in `work`."""
    reposdir = work / "repos"
    reposdir.mkdir(parents=True, exist_ok=True)
    (reposdir / "monitoring-hub.repo").write_text(repo_file)
    conf = work / "dnf.conf"
    conf.write_text(
        "[main]\n"
        f"reposdir={reposdir}\n"
        f"cachedir={work / 'cache'}\n"
        f"logdir={work / 'log'}\n"
        f"persistdir={work / 'persist'}\n"
        "plugins=0\n"
        "install_weak_deps=0\n"
        "metadata_expire=0\n"
    )
    home = work / "home"
    home.mkdir(exist_ok=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")  # Debian's rpm: the EL database path
    return run(
        [
            "dnf",
            "-c",
            conf,
            f"--installroot={work / 'root'}",
            "--releasever=9",
            f"--setopt=reposdir={reposdir}",
            "-y",
            *args,
        ],
        env=base_env(HOME=str(home)),
        check=check,
        timeout=300,
        what="dnf",
    )


def el9_repo_file(site: Path) -> str:
    text = (site / user_files.yum_repo_file_name("el9")).read_text()
    assert text == user_files.yum_repo_file(site.as_uri(), "el9")  # the shipped file, from the one source
    assert "gpgcheck=1\n" in text and "repo_gpgcheck=1\n" in text
    return text


def test_dnf_installs_from_the_signed_repository(site: Path, tmp_path: Path, key) -> None:
    result = dnf(tmp_path, el9_repo_file(site), "install", "node_exporter")
    root = tmp_path / "root"
    home = tmp_path / "home"
    query = run(
        ["rpm", "--root", root, "-q", "node_exporter", "gpg-pubkey"], env=base_env(HOME=str(home)), what="rpm -q"
    ).stdout
    assert f"node_exporter-{VERSION}-1.el9.x86_64" in query, result.stdout
    assert f"gpg-pubkey-{key['fpr'][-8:].lower()}" in query  # dnf imported our key from gpgkey=
    assert (root / "usr/bin/node_exporter").is_file()
    assert (root / "etc/sysconfig/node_exporter").is_file()


def test_dnf_refuses_a_tampered_repomd(site: Path, tmp_path: Path) -> None:
    bad = copy_site(site, tmp_path / "site")
    repomd = bad / "el9/x86_64/repodata/repomd.xml"
    repomd.write_text(repomd.read_text().replace("<revision>", "<revision>1"))
    result = dnf(tmp_path / "w", user_files.yum_repo_file(bad.as_uri(), "el9"), "install", "node_exporter", check=False)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert re.search(r"(?i)gpg|signature", out), out
    assert not (tmp_path / "w/root/usr/bin/node_exporter").exists()


def test_dnf_refuses_an_unsigned_rpm(site: Path, tmp_path: Path, key) -> None:
    """Correctly signed metadata listing an RPM without a header signature: gpgcheck=1 refuses it."""
    bad = copy_site(site, tmp_path / "site")
    repo = bad / "el9/x86_64"
    (signed,) = repo.glob("*.rpm")
    unsigned = make_package(
        "rpm", tmp_path / "unsigned", name="node_exporter", version=VERSION, release="1.el9", arch="amd64"
    )
    shutil.copy(unsigned, signed)
    repo_yum.write_repodata(repo, [repo_yum.yum_entry(signed)], "2025-06-01T12:00:00Z")
    with signer_from_env({KEY_ENV: key["secret"]}) as signer:
        signer.detach_sign(repo / "repodata/repomd.xml", repo / "repodata/repomd.xml.asc")
    result = dnf(tmp_path / "w", user_files.yum_repo_file(bad.as_uri(), "el9"), "install", "node_exporter", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert re.search(r"(?i)not signed|gpg check failed|signature", out), out
    assert not (tmp_path / "w/root/usr/bin/node_exporter").exists()


def test_el8_rpm_carries_an_rsa_sha256_header_signature(site: Path, tmp_path: Path) -> None:
    """What el8's rpm 4.14 verifies: a V4 RSA/SHA256 header signature (no EdDSA)."""
    (rpm,) = (site / "el8/x86_64").glob("*.rpm")
    env = base_env(HOME=str(tmp_path))
    run(["rpmkeys", "--dbpath", tmp_path / "db", "--import", site / user_files.PUBLIC_KEY_FILE], env=env)
    out = run(["rpmkeys", "--dbpath", tmp_path / "db", "-Kv", rpm], env=env).stdout
    assert "Header V4 RSA/SHA256 Signature" in out and "NOKEY" not in out and "BAD" not in out, out


# --------------------------------------------------------------------------------------------
# apt
# --------------------------------------------------------------------------------------------


def apt(work: Path, sources: str, public_key: bytes | None) -> dict[str, str]:
    """A private apt (APT_CONFIG): only this deb822 source, its own lists, cache and an empty
    dpkg status, no host key. Returns the environment; the key goes where Signed-By points."""
    for d in (
        "etc/sources.list.d",
        "etc/trusted.gpg.d",
        "etc/preferences.d",
        "lists/partial",
        "cache/archives/partial",
        "log",
        "keyrings",
    ):
        (work / d).mkdir(parents=True, exist_ok=True)
    (work / "status").write_text("")
    (work / "etc/sources.list.d/monitoring-hub.sources").write_text(sources)
    if public_key is not None:
        (work / "keyrings/monitoring-hub.asc").write_bytes(public_key)
    (work / "apt.conf").write_text(
        f'Dir::Etc::sourcelist "{work}/etc/sources.list";\n'
        f'Dir::Etc::sourceparts "{work}/etc/sources.list.d";\n'
        f'Dir::Etc::trusted "{work}/etc/trusted.gpg";\n'
        f'Dir::Etc::trustedparts "{work}/etc/trusted.gpg.d";\n'
        f'Dir::Etc::preferences "{work}/etc/preferences";\n'
        f'Dir::Etc::preferencesparts "{work}/etc/preferences.d";\n'
        f'Dir::State::Lists "{work}/lists";\n'
        f'Dir::State::status "{work}/status";\n'
        f'Dir::Cache "{work}/cache";\n'
        f'Dir::Log "{work}/log";\n'
        'APT::Architecture "amd64";\n'
        'APT::Architectures { "amd64"; "arm64"; };\n'
        'APT::Sandbox::User "root";\n'  # pytest's directories are private to root
        'Acquire::Languages "none";\n'
        'Debug::NoLocking "true";\n'
    )
    return base_env(APT_CONFIG=str(work / "apt.conf"), DEBIAN_FRONTEND="noninteractive")


def sources_for(site: Path, codename: str, work: Path) -> str:
    """The shipped .sources file, with Signed-By pointing into the test's own directory."""
    shipped = (site / user_files.apt_sources_file_name(codename)).read_text()
    assert shipped == user_files.apt_sources_file(site.as_uri(), codename)
    assert f"Signed-By: {user_files.APT_KEYRING}\n" in shipped
    ours = user_files.apt_sources_file(site.as_uri(), codename, keyring=str(work / "keyrings/monitoring-hub.asc"))
    assert ours == shipped.replace(user_files.APT_KEYRING, str(work / "keyrings/monitoring-hub.asc"))
    return ours


@pytest.mark.parametrize("codename, suffix", [("bookworm", "deb12"), ("noble", "ubuntu24.04")])
def test_apt_updates_and_downloads_with_signed_by(site: Path, tmp_path: Path, codename: str, suffix: str) -> None:
    env = apt(tmp_path, sources_for(site, codename, tmp_path), (site / user_files.PUBLIC_KEY_FILE).read_bytes())
    update = run(["apt-get", "update", "--error-on=any"], env=env, what="apt-get update")
    assert "NO_PUBKEY" not in update.stdout + update.stderr
    madison = run(["apt-cache", "madison", "node-exporter"], env=env).stdout
    expected = {f"{VERSION}-1+{suffix}"} | ({"1.10.0-1+deb12"} if codename == "bookworm" else set())
    assert {line.split("|")[1].strip() for line in madison.splitlines()} == expected  # only this codename's
    run(
        ["apt-get", "install", "--download-only", "-y", "node-exporter"],
        env=env,
        what="apt-get install --download-only",
    )
    for arch in ("amd64", "arm64"):
        dl = tmp_path / f"dl-{arch}"
        dl.mkdir()
        run(["apt-get", "download", f"node-exporter:{arch}"], env=env, cwd=dl, what="apt-get download")
        (got,) = dl.glob("*.deb")
        assert got.name == f"node-exporter_{VERSION}-1+{suffix}_{arch}.deb"
        assert got.read_bytes() == (site / "pool/main/n/node-exporter" / got.name).read_bytes()


def test_apt_works_from_by_hash_files_alone(site: Path, tmp_path: Path) -> None:
    """Acquire-By-Hash: yes makes apt fetch indexes by their SHA256: remove the named ones."""
    copy = copy_site(site, tmp_path / "site")
    for name in ("Packages", "Packages.gz", "Packages.xz"):
        for f in (copy / "dists").glob(f"*/main/binary-*/{name}"):
            f.unlink()
    env = apt(
        tmp_path / "apt",
        user_files.apt_sources_file(
            copy.as_uri(), "bookworm", keyring=str(tmp_path / "apt/keyrings/monitoring-hub.asc")
        ),
        (copy / user_files.PUBLIC_KEY_FILE).read_bytes(),
    )
    run(["apt-get", "update", "--error-on=any"], env=env, what="apt-get update from by-hash only")
    assert "node-exporter" in run(["apt-cache", "show", "node-exporter:arm64"], env=env).stdout


def test_apt_refuses_a_tampered_inrelease(site: Path, tmp_path: Path) -> None:
    bad = copy_site(site, tmp_path / "site")
    for f in (bad / "dists/bookworm/InRelease", bad / "dists/bookworm/Release"):
        f.write_text(f.read_text().replace("Label: Monitoring Hub", "Label: Monitoring Hub!"))
    env = apt(
        tmp_path / "apt",
        user_files.apt_sources_file(
            bad.as_uri(), "bookworm", keyring=str(tmp_path / "apt/keyrings/monitoring-hub.asc")
        ),
        (bad / user_files.PUBLIC_KEY_FILE).read_bytes(),
    )
    result = run(["apt-get", "update", "--error-on=any"], env=env, check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert re.search(r"BADSIG|not signed|signature", out), out
    assert "node-exporter" not in run(["apt-cache", "pkgnames"], env=env, check=False).stdout


def test_apt_refuses_a_key_it_does_not_trust(site: Path, tmp_path: Path) -> None:
    other_home = tmp_path / "other-gpg"
    other = generate_key(other_home, email="someone-else@example.org")
    try:
        public = subprocess.run(
            ["gpg", "--homedir", str(other_home), "--batch", "--armor", "--export", other],
            capture_output=True,
            check=True,
        ).stdout
    finally:
        stop_agent(other_home)
    work = tmp_path / "apt"
    env = apt(work, sources_for(site, "bookworm", work), public)
    result = run(["apt-get", "update", "--error-on=any"], env=env, check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "NO_PUBKEY" in out, out
