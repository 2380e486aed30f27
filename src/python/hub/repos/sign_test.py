"""hub.repos.sign: key policy (RSA >= 3072), key handling, RPM header signatures checked by rpmkeys,
detached and clear signatures checked by gpgv, and the publish order on a small site.

Keys are generated here (gpg batch, throwaway GNUPGHOMEs); RPMs and DEBs are made by nfpm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from testkit.packages import (
    SOURCE_DATE,
    export_public_key,
    export_secret_key,
    generate_key,
    make_package,
    stop_agent,
)

from hub.catalog import artifact as catalog
from hub.repos import apt as repo_apt
from hub.repos import sign
from hub.repos import yum as repo_yum
from hub.common import files
from hub.common import schemas


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """One good key (RSA-3072) and the bad ones, each in its own GNUPGHOME."""
    base = Path(tmp_path_factory.mktemp("keys"))
    keys: dict[str, object] = {}
    homes = []
    for name, kwargs in {
        "good": {},
        "rsa2048": {"length": 2048},
        "ed25519": {"key_type": "EDDSA", "curve": "ed25519"},
        "rsa_with_ed25519_subkey": {"subkey": "EDDSA"},
        "protected": {"passphrase": "correct horse"},
    }.items():
        home = base / name
        fpr = generate_key(home, email=f"{name}@example.org", **kwargs)  # type: ignore[arg-type]
        homes.append(home)
        keys[name] = {
            "home": home,
            "fpr": fpr,
            "secret": export_secret_key(home, fpr, kwargs.get("passphrase")),  # type: ignore[arg-type]
            "public": export_public_key(home, fpr),
        }
    yield keys
    for home in homes:
        stop_agent(home)


def test_colon_listing_is_parsed_and_checked() -> None:
    listing = (
        "sec:u:3072:1:AAAAAAAAAAAAAAAA:1700000000:::u:::scESC:::+:::23::0:\n"
        "fpr:::::::::0123456789ABCDEF0123456789ABCDEFAAAAAAAA:\n"
        "uid:u::::1700000000::X::T <t@example.org>::::::::::0:\n"
        "ssb:u:255:22:BBBBBBBBBBBBBBBB:1700000000::::::s:::+:::ed25519::\n"
        "fpr:::::::::FFFFFFFFFFFFFFFFFFFFFFFFBBBBBBBBBBBBBBBB:\n"
    )
    (key,) = sign.parse_secret_keys(listing)
    assert [k.kind for k in key] == ["sec", "ssb"]
    assert key[0].fingerprint.endswith("AAAAAAAA") and key[1].algo == "22"
    with pytest.raises(sign.SigningError, match=r"ssb BBBBBBBBBBBBBBBB: EdDSA 255 bits"):
        sign.check_key(key)
    assert sign.check_key(key[:1]) == "0123456789ABCDEF0123456789ABCDEFAAAAAAAA"
    expired = sign.parse_secret_keys(listing.replace("sec:u:", "sec:e:"))[0][:1]
    with pytest.raises(sign.SigningError, match="no usable secret signing key"):
        sign.check_key(expired)


@pytest.mark.parametrize("name, why", [
    ("rsa2048", "RSA 2048 bits"),
    ("ed25519", "EdDSA"),
    ("rsa_with_ed25519_subkey", "EdDSA"),  # gpg would sign with the newest signing subkey
])
def test_weak_keys_are_refused_with_a_clear_error(keyring: dict, name: str, why: str) -> None:
    with pytest.raises(sign.SigningError) as e:
        with sign.signer_from_env({sign.KEY_ENV: keyring[name]["secret"]}):
            pass
    assert "refusing signing key" in str(e.value) and why in str(e.value) and "RSA of 3072 bits or more" in str(e.value)
    assert "PRIVATE KEY" not in str(e.value)


def test_missing_or_malformed_key_is_a_clear_error() -> None:
    with pytest.raises(sign.SigningError, match="no signing key: set HUB_SIGNING_KEY"):
        with sign.signer_from_env({}):
            pass
    with pytest.raises(sign.SigningError, match="not an ASCII-armored private key"):
        with sign.signer_from_env({sign.KEY_ENV: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"}):
            pass


def test_imported_key_lives_in_a_private_home_that_is_deleted(keyring: dict, tmp_path: Path) -> None:
    good = keyring["good"]
    with sign.signer_from_env({sign.KEY_ENV: good["secret"]}) as signer:
        home = Path(signer.gnupghome)
        assert signer.fingerprint == good["fpr"]
        assert home.stat().st_mode & 0o777 == 0o700 and home.parent.stat().st_mode & 0o777 == 0o700
        assert sign.KEY_ENV not in signer.env()  # never handed to gpg, rpmsign or rpm
        signer.detach_sign(__file__, tmp_path / "x.asc")
    assert not home.exists() and not home.parent.exists()


def test_existing_keyring_by_id_is_used_in_place(keyring: dict, tmp_path: Path) -> None:
    good = keyring["good"]
    env = {sign.GNUPGHOME_ENV: str(good["home"]), sign.KEY_ID_ENV: "good@example.org"}
    with sign.signer_from_env(env) as signer:
        assert signer.fingerprint == good["fpr"]
        signer.clearsign(__file__, tmp_path / "x.txt.asc")
    assert Path(good["home"]).is_dir()
    with pytest.raises(sign.SigningError, match="no secret key 'nobody@example.org'"):
        with sign.signer_from_env({**env, sign.KEY_ID_ENV: "nobody@example.org"}):
            pass


def _gpgv(keyring_dir: Path, public: bytes, *args: str) -> subprocess.CompletedProcess:
    keyring_dir.mkdir(exist_ok=True)
    kbx = keyring_dir / "trusted.gpg"
    subprocess.run(["gpg", "--batch", "--yes", "--dearmor", "-o", str(kbx)], input=public, check=True)
    return subprocess.run(["gpgv", "--keyring", str(kbx), *args], capture_output=True, text=True)


def _packets(path: Path) -> str:
    return subprocess.run(["gpg", "--batch", "--list-packets", str(path)], capture_output=True, text=True).stdout


def test_detached_and_clear_signatures_are_rsa_sha256(keyring: dict, tmp_path: Path) -> None:
    data = tmp_path / "Release"
    data.write_text("Origin: test\n")
    with sign.signer_from_env({sign.KEY_ENV: keyring["good"]["secret"]}) as signer:
        signer.detach_sign(data, tmp_path / "Release.gpg")
        signer.clearsign(data, tmp_path / "InRelease")
        signer.export_public_key(tmp_path / "key.asc")
    public = (tmp_path / "key.asc").read_bytes()
    assert public.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----") and b"PRIVATE" not in public
    assert (tmp_path / "Release.gpg").read_bytes().startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert (tmp_path / "InRelease").read_text().startswith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")
    assert _gpgv(tmp_path / "k", public, str(tmp_path / "Release.gpg"), str(data)).returncode == 0
    assert _gpgv(tmp_path / "k", public, str(tmp_path / "InRelease")).returncode == 0
    packets = _packets(tmp_path / "Release.gpg")
    assert ":signature packet: algo 1," in packets and "digest algo 8," in packets  # RSA, SHA-256
    data.write_text("Origin: tampered\n")
    assert _gpgv(tmp_path / "k", public, str(tmp_path / "Release.gpg"), str(data)).returncode != 0
    other = keyring["rsa2048"]["public"]
    assert _gpgv(tmp_path / "o", other, str(tmp_path / "InRelease")).returncode != 0


def _rpmkeys(tmp_path: Path, public: bytes, rpm: Path) -> str:
    db = tmp_path / "rpmdb"
    db.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pub.asc").write_bytes(public)
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run(["rpmkeys", "--dbpath", str(db), "--import", str(tmp_path / "pub.asc")], check=True, env=env)
    result = subprocess.run(["rpmkeys", "--dbpath", str(db), "-Kv", str(rpm)], capture_output=True, text=True, env=env)
    return f"{result.returncode}\n{result.stdout}{result.stderr}"


def test_rpm_header_signature_checked_by_rpmkeys(keyring: dict, tmp_path: Path) -> None:
    rpm = make_package("rpm", tmp_path, name="node_exporter", release="1.el8", payload=os.urandom(4096), compression="xz")
    unsigned = rpm.read_bytes()
    assert "Signature" not in _rpmkeys(tmp_path / "a", keyring["good"]["public"], rpm)  # none yet
    with sign.signer_from_env({sign.KEY_ENV: keyring["good"]["secret"]}) as signer:
        assert signer.rpm_signer_key(rpm) is None
        assert signer.sign_rpms([rpm]) == [rpm]
        signed = rpm.read_bytes()
        assert signer.rpm_signer_key(rpm) == keyring["good"]["fpr"][-16:]
        assert signer.sign_rpms([rpm]) == [] and rpm.read_bytes() == signed  # already ours: untouched
    assert signed != unsigned
    out = _rpmkeys(tmp_path / "b", keyring["good"]["public"], rpm)
    assert out.startswith("0\n") and "Header V4 RSA/SHA256 Signature" in out and ": OK" in out, out
    wrong = _rpmkeys(tmp_path / "c", keyring["rsa2048"]["public"], rpm)
    assert "NOKEY" in wrong and not wrong.startswith("0\n")


def test_protected_key_with_passphrase(keyring: dict, tmp_path: Path) -> None:
    protected = keyring["protected"]
    rpm = make_package("rpm", tmp_path, name="x_exporter", release="1.el9")
    env = {sign.KEY_ENV: protected["secret"], sign.PASSPHRASE_ENV: "correct horse"}
    with sign.signer_from_env(env) as signer:
        signer.sign_rpms([rpm])
        signer.detach_sign(rpm, tmp_path / "x.asc")
        assert signer.rpm_signer_key(rpm) == protected["fpr"][-16:]
    assert _gpgv(tmp_path / "k", protected["public"], str(tmp_path / "x.asc"), str(rpm)).returncode == 0
    with pytest.raises(sign.SigningError):
        with sign.signer_from_env({**env, sign.PASSPHRASE_ENV: "wrong"}) as signer:
            signer.detach_sign(rpm, tmp_path / "y.asc")


def small_site(root: Path) -> Path:
    """A built (unsigned) site: two RPMs and a DEB, their artifact JSONs, YUM and APT metadata."""
    site = root / "site"
    yum_entries, apt_entries = [], []
    for dist, arch in (("el9", "amd64"), ("el8", "arm64")):
        rpm = make_package("rpm", root / "build", name="node_exporter", version="1.11.0", release=f"1.{dist}", arch=arch,
                           payload=os.urandom(1024))
        url = catalog.package_url("rpm", dist=dist, arch=arch, package_name="node_exporter", filename=rpm.name)
        (site / url).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(rpm, site / url)
        yum_entries.append(repo_yum.yum_entry(site / url))
        artifact = catalog.package_artifact(
            kind="rpm", exporter="node_exporter", version="1.11.0", arch=arch, dist=dist, build_date="2025-06-01T12:00:00Z",
            path=site / url, package_name="node_exporter",
            metadata={"name": "node_exporter", "version": "1.11.0", "release": f"1.{dist}", "arch": rpm.name.split(".")[-2],
                      "summary": "Synthetic node_exporter", "license": "Apache-2.0"},
            source={"url": "https://example.org/x", "sha256": "0" * 64},
        )
        files.write_json(site / "catalog" / "node_exporter" / f"rpm_{arch}_{dist}.json", artifact)
    deb = make_package("deb", root / "build", name="node-exporter", version="1.11.0", release="1+deb12")
    e = repo_apt.apt_entry(deb)
    (site / e["filename"]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(deb, site / e["filename"])
    apt_entries.append(e)
    repo_yum.build_yum_site(site, yum_entries)
    repo_apt.build_apt_site(site, apt_entries)
    return site


def test_sign_site_runs_the_publish_order(keyring: dict, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    rpm_json = site / "catalog/node_exporter/rpm_amd64_el9.json"
    before = json.loads(rpm_json.read_text())
    with sign.signer_from_env({sign.KEY_ENV: keyring["good"]["secret"]}) as signer:
        report = sign.sign_site(site, signer)
    assert report["rpms_signed"] == 2 and report["catalog_rewritten"] == 2
    assert report["apt_suites"] == ["bookworm", "jammy", "noble", "trixie"]
    assert len(report["repos"]) == 6
    # 3. the catalog follows the signed bytes and keeps the digest as built
    after = json.loads(rpm_json.read_text())
    rpm = site / after["package"]["url"]
    assert (after["package"]["sha256"], after["package"]["size_bytes"]) == catalog.file_digest(rpm)
    assert after["package"]["unsigned_sha256"] == before["package"]["sha256"] != after["package"]["sha256"]
    schemas.validate(after, "artifact")
    # 2. the YUM metadata lists the signed file (its sha256 and size), same revision as built
    repo = rpm.parent
    entry = repo_yum.yum_entry(rpm)
    assert entry["sha256"] == after["package"]["sha256"]
    import createrepo_c

    md = createrepo_c.Metadata()
    md.locate_and_load_xml(str(repo))
    (pkg,) = [md.get(k) for k in md.keys()]
    assert (pkg.pkgId, pkg.size_package) == (after["package"]["sha256"], after["package"]["size_bytes"])
    assert f"<revision>{SOURCE_DATE}</revision>" in (repo / "repodata/repomd.xml").read_text()
    # 4. signatures over the final metadata, with the shipped public key
    public = (site / "monitoring-hub.asc").read_bytes()
    assert _gpgv(tmp_path / "k", public, str(repo / "repodata/repomd.xml.asc"), str(repo / "repodata/repomd.xml")).returncode == 0
    for codename in ("bookworm", "noble"):
        d = site / "dists" / codename
        assert _gpgv(tmp_path / "k", public, str(d / "InRelease")).returncode == 0
        assert _gpgv(tmp_path / "k", public, str(d / "Release.gpg"), str(d / "Release")).returncode == 0
    # publishing again signs nothing twice, and no private key material is anywhere in the site
    with sign.signer_from_env({sign.KEY_ENV: keyring["good"]["secret"]}) as signer:
        assert sign.sign_site(site, signer)["rpms_signed"] == 0
    for path in site.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path
