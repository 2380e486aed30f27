"""The publish key: where it comes from, which keys are accepted, and gpg's listing of them.

The key comes from the environment, never from a file of the repository or a build input:

- `HUB_SIGNING_KEY`: an ASCII-armored private key, imported through gpg's standard input
  (never a command line or a file) into a private temporary keyring (hub.repos.keyring);
- or `HUB_GNUPGHOME` + `HUB_SIGNING_KEY_ID`: an existing keyring, used in place;
- `HUB_SIGNING_KEY_PASSPHRASE` (optional): for a protected key.

Policy: only RSA keys of 3072 bits or more, and every signature uses SHA-256 (el8's rpm 4.14
cannot verify EdDSA signatures). Every usable signing (sub)key of the chosen key is checked,
since gpg signs with the newest signing subkey.

The *child environment* (`child_env`) is this process's environment without the key
variables: every gpg, rpmsign and rpm child gets it, so none of them sees the key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Sequence

from hub.common.errors import HubError

KEY_ENV = "HUB_SIGNING_KEY"
GNUPGHOME_ENV = "HUB_GNUPGHOME"
KEY_ID_ENV = "HUB_SIGNING_KEY_ID"
PASSPHRASE_ENV = "HUB_SIGNING_KEY_PASSPHRASE"
MIN_RSA_BITS = 3072
RSA_ALGOS = {"1", "3"}  # RSA (sign and encrypt), RSA sign-only
DIGEST = "SHA256"


class SigningError(HubError):
    pass


def gpg_binary() -> str:
    found = shutil.which("gpg") or ("/usr/bin/gpg" if os.path.exists("/usr/bin/gpg") else None)
    if not found:
        raise SigningError("gpg (GnuPG 2) is not installed")
    return found


def child_env() -> dict[str, str]:
    """This process's environment without the key variables, for child processes."""
    return {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSPHRASE_ENV)}


@dataclass(frozen=True)
class SigningKey:
    """One key of `gpg --with-colons --list-secret-keys` (a primary key or a subkey)."""

    kind: str  # sec or ssb
    validity: str
    bits: int
    algo: str
    keyid: str
    capabilities: str
    secret: bool  # False for a stub (secret part elsewhere or missing)
    fingerprint: str = ""

    @property
    def usable_for_signing(self) -> bool:
        return "s" in self.capabilities and self.validity not in ("e", "r", "d", "i", "n") and self.secret

    def describe(self) -> str:
        algo = {"1": "RSA", "3": "RSA", "17": "DSA", "16": "ElGamal", "18": "ECDH", "19": "ECDSA", "22": "EdDSA"}.get(
            self.algo, f"algorithm {self.algo}"
        )
        return f"{self.kind} {self.keyid}: {algo} {self.bits} bits"


def parse_secret_keys(colons: str) -> list[list[SigningKey]]:
    """Secret keys (each a list: the primary, then its subkeys) from gpg's colon listing."""
    keys: list[list[SigningKey]] = []
    for line in colons.splitlines():
        f = line.split(":")
        if f[0] in ("sec", "ssb") and len(f) > 11:
            key = SigningKey(
                kind=f[0],
                validity=f[1],
                bits=int(f[2] or 0),
                algo=f[3],
                keyid=f[4],
                capabilities=f[11],
                secret=not (len(f) > 14 and f[14].startswith("#")),
            )
            if f[0] == "sec":
                keys.append([key])
            elif keys:
                keys[-1].append(key)
        elif f[0] == "fpr" and keys and len(f) > 9 and not keys[-1][-1].fingerprint:
            last = keys[-1][-1]
            keys[-1][-1] = SigningKey(**{**last.__dict__, "fingerprint": f[9]})
    return keys


def check_key(key: Sequence[SigningKey]) -> str:
    """The primary fingerprint if every usable signing key is RSA >= 3072, else SigningError."""
    signing = [k for k in key if k.usable_for_signing]
    primary = key[0]
    if not signing:
        raise SigningError(
            f"key {primary.fingerprint or primary.keyid} has no usable secret signing key (expired, revoked or missing)"
        )
    weak = [k for k in signing if k.algo not in RSA_ALGOS or k.bits < MIN_RSA_BITS]
    if weak:
        raise SigningError(
            f"refusing signing key {primary.fingerprint or primary.keyid}: "
            + "; ".join(k.describe() for k in weak)
            + f". Use RSA of {MIN_RSA_BITS} bits or more (el8's rpm cannot verify EdDSA, and RSA-2048 is below policy)."
        )
    return primary.fingerprint


def import_private_key(home: str, armored: str) -> str:
    """Imports one armored secret key into `home` (through stdin); returns its fingerprint."""
    if "PRIVATE KEY BLOCK" not in armored:
        raise SigningError(f"{KEY_ENV} is not an ASCII-armored private key (no 'BEGIN PGP PRIVATE KEY BLOCK')")
    env = {**child_env(), "GNUPGHOME": home, "LC_ALL": "C"}
    result = subprocess.run(
        [gpg_binary(), "--homedir", home, "--batch", "--no-tty", "--import-options", "import-minimal", "--import"],
        input=armored.encode("utf-8"),
        capture_output=True,
        env=env,
    )
    if result.returncode != 0:
        # gpg's messages name key ids, never key material.
        raise SigningError(f"cannot import {KEY_ENV}: {result.stderr.decode('utf-8', 'replace').strip()}")
    listing = subprocess.run(
        [gpg_binary(), "--homedir", home, "--batch", "--with-colons", "--fixed-list-mode", "--list-secret-keys"],
        capture_output=True,
        text=True,
        env=env,
    )
    keys = parse_secret_keys(listing.stdout)
    if len(keys) != 1:
        raise SigningError(f"{KEY_ENV} must hold exactly one secret key, found {len(keys)}")
    return keys[0][0].fingerprint
