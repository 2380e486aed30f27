"""hub.repos.signer: keys from the environment (refused when weak, imported into a private
keyring that is deleted), RPM header signatures checked by rpmkeys, detached and clear
signatures checked by gpgv.

Keys are generated here (gpg batch, throwaway GNUPGHOMEs); RPMs are made by nfpm.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from testkit.packages import (
    export_public_key,
    export_secret_key,
    generate_key,
    gpgv,
    make_package,
    stop_agent,
)

from hub.repos.signer import signer_from_env
from hub.repos.signing_key import GNUPGHOME_ENV, KEY_ENV, KEY_ID_ENV, PASSPHRASE_ENV, SigningError


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


@pytest.mark.parametrize(
    "name, why",
    [
        ("rsa2048", "RSA 2048 bits"),
        ("ed25519", "EdDSA"),
        ("rsa_with_ed25519_subkey", "EdDSA"),  # gpg would sign with the newest signing subkey
    ],
)
def test_weak_keys_are_refused_with_a_clear_error(keyring: dict, name: str, why: str) -> None:
    with pytest.raises(SigningError) as e:
        with signer_from_env({KEY_ENV: keyring[name]["secret"]}):
            pass
    assert "refusing signing key" in str(e.value) and why in str(e.value) and "RSA of 3072 bits or more" in str(e.value)
    assert "PRIVATE KEY" not in str(e.value)


def test_missing_or_malformed_key_is_a_clear_error() -> None:
    with pytest.raises(SigningError, match="no signing key: set HUB_SIGNING_KEY"):
        with signer_from_env({}):
            pass
    with pytest.raises(SigningError, match="not an ASCII-armored private key"):
        with signer_from_env({KEY_ENV: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"}):
            pass


def test_imported_key_lives_in_a_private_home_that_is_deleted(keyring: dict, tmp_path: Path) -> None:
    good = keyring["good"]
    with signer_from_env({KEY_ENV: good["secret"]}) as signer:
        home = Path(signer.gnupghome)
        assert signer.fingerprint == good["fpr"]
        assert home.stat().st_mode & 0o777 == 0o700 and home.parent.stat().st_mode & 0o777 == 0o700
        assert KEY_ENV not in signer.env()  # never handed to gpg, rpmsign or rpm
        signer.detach_sign(__file__, tmp_path / "x.asc")
    assert not home.exists() and not home.parent.exists()


def test_existing_keyring_by_id_is_used_in_place(keyring: dict, tmp_path: Path) -> None:
    good = keyring["good"]
    env = {GNUPGHOME_ENV: str(good["home"]), KEY_ID_ENV: "good@example.org"}
    with signer_from_env(env) as signer:
        assert signer.fingerprint == good["fpr"]
        signer.clearsign(__file__, tmp_path / "x.txt.asc")
    assert Path(good["home"]).is_dir()
    with pytest.raises(SigningError, match="no secret key 'nobody@example.org'"):
        with signer_from_env({**env, KEY_ID_ENV: "nobody@example.org"}):
            pass


def _packets(path: Path) -> str:
    return subprocess.run(["gpg", "--batch", "--list-packets", str(path)], capture_output=True, text=True).stdout


def test_detached_and_clear_signatures_are_rsa_sha256(keyring: dict, tmp_path: Path) -> None:
    data = tmp_path / "Release"
    data.write_text("Origin: test\n")
    with signer_from_env({KEY_ENV: keyring["good"]["secret"]}) as signer:
        signer.detach_sign(data, tmp_path / "Release.gpg")
        signer.clearsign(data, tmp_path / "InRelease")
        signer.export_public_key(tmp_path / "key.asc")
    public = (tmp_path / "key.asc").read_bytes()
    assert public.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----") and b"PRIVATE" not in public
    assert (tmp_path / "Release.gpg").read_bytes().startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert (tmp_path / "InRelease").read_text().startswith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")
    assert gpgv(tmp_path / "k", public, str(tmp_path / "Release.gpg"), str(data)).returncode == 0
    assert gpgv(tmp_path / "k", public, str(tmp_path / "InRelease")).returncode == 0
    packets = _packets(tmp_path / "Release.gpg")
    assert ":signature packet: algo 1," in packets and "digest algo 8," in packets  # RSA, SHA-256
    data.write_text("Origin: tampered\n")
    assert gpgv(tmp_path / "k", public, str(tmp_path / "Release.gpg"), str(data)).returncode != 0
    other = keyring["rsa2048"]["public"]
    assert gpgv(tmp_path / "o", other, str(tmp_path / "InRelease")).returncode != 0


def _rpmkeys(tmp_path: Path, public: bytes, rpm: Path) -> str:
    db = tmp_path / "rpmdb"
    db.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pub.asc").write_bytes(public)
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run(["rpmkeys", "--dbpath", str(db), "--import", str(tmp_path / "pub.asc")], check=True, env=env)
    result = subprocess.run(["rpmkeys", "--dbpath", str(db), "-Kv", str(rpm)], capture_output=True, text=True, env=env)
    return f"{result.returncode}\n{result.stdout}{result.stderr}"


def test_rpm_header_signature_checked_by_rpmkeys(keyring: dict, tmp_path: Path) -> None:
    rpm = make_package(
        "rpm", tmp_path, name="node_exporter", release="1.el8", payload=os.urandom(4096), compression="xz"
    )
    unsigned = rpm.read_bytes()
    assert "Signature" not in _rpmkeys(tmp_path / "a", keyring["good"]["public"], rpm)  # none yet
    with signer_from_env({KEY_ENV: keyring["good"]["secret"]}) as signer:
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
    env = {KEY_ENV: protected["secret"], PASSPHRASE_ENV: "correct horse"}
    with signer_from_env(env) as signer:
        signer.sign_rpms([rpm])
        signer.detach_sign(rpm, tmp_path / "x.asc")
        assert signer.rpm_signer_key(rpm) == protected["fpr"][-16:]
    assert gpgv(tmp_path / "k", protected["public"], str(tmp_path / "x.asc"), str(rpm)).returncode == 0
    with pytest.raises(SigningError):
        with signer_from_env({**env, PASSPHRASE_ENV: "wrong"}) as signer:
            signer.detach_sign(rpm, tmp_path / "y.asc")
