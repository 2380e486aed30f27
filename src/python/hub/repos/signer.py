"""The Signer: RPM header signatures, detached and clear signatures with one checked key.

`signer_from_env` makes one from the environment (hub.repos.signing_key): an armored
`HUB_SIGNING_KEY` is imported into a temporary keyring (hub.repos.keyring) removed on exit,
with its gpg-agent; `HUB_GNUPGHOME` + `HUB_SIGNING_KEY_ID` is used in place. A passphrase goes
to gpg through a 0600 file inside the private keyring directory, never a command line.

Signatures are RSA with SHA-256, armored: an RPM's OpenPGP header signature (rpmsign
--addsign, checked by `rpmkeys -K`), detached (repomd.xml.asc, Release.gpg) and clearsigned
(InRelease). gpg writes each signature to its standard output and the engine writes the file
atomically, so a signature file is never torn or shared between two runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from hub.common import files
from hub.repos.keyring import KEYRING_PREFIX, locked_keyring
from hub.repos.signing_key import (
    DIGEST,
    GNUPGHOME_ENV,
    KEY_ENV,
    KEY_ID_ENV,
    PASSPHRASE_ENV,
    SigningError,
    check_key,
    child_env,
    gpg_binary,
    import_private_key,
    parse_secret_keys,
)


class Signer:
    """Signs with one checked key of one GNUPGHOME (see `signer_from_env`)."""

    def __init__(self, gnupghome: str, key_id: str, *, passphrase_file: str | None = None):
        self.gnupghome = gnupghome
        self.passphrase_file = passphrase_file
        result = self._run(["--with-colons", "--fixed-list-mode", "--list-secret-keys", key_id], check=False)
        keys = parse_secret_keys(result.stdout) if result.returncode == 0 else []
        if not keys:
            raise SigningError(f"no secret key {key_id!r} in the signing keyring")
        if len(keys) > 1:
            raise SigningError(f"{key_id!r} names {len(keys)} secret keys: give the full fingerprint")
        self.key = keys[0]
        self.fingerprint = check_key(self.key)
        self.keyids = {k.keyid.upper() for k in self.key if k.usable_for_signing}

    # -- gpg ------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**child_env(), "GNUPGHOME": self.gnupghome, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}

    def _sign_options(self) -> list[str]:
        opts = ["--pinentry-mode", "loopback"]
        if self.passphrase_file:
            opts += ["--passphrase-file", self.passphrase_file]
        return opts

    def _run(
        self, args: Sequence[str], *, input: bytes | None = None, check: bool = True, text: bool = True
    ) -> subprocess.CompletedProcess:
        """gpg on this keyring; its output decoded unless `text=False` (signatures are bytes)."""
        cmd = [gpg_binary(), "--homedir", self.gnupghome, "--batch", "--no-tty", *args]
        env = {**child_env(), "GNUPGHOME": self.gnupghome, "LC_ALL": "C"}
        result = subprocess.run(cmd, input=input, capture_output=True, env=env)
        stderr = result.stderr.decode("utf-8", "replace")
        stdout = result.stdout.decode("utf-8", "replace") if text else result.stdout
        out = subprocess.CompletedProcess(cmd, result.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise SigningError(f"gpg {' '.join(args[:1])} failed (exit {result.returncode}): {stderr.strip()}")
        return out

    def _sign(self, mode: str, path: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
        # gpg writes to its standard output; the signature replaces `out` atomically.
        signature = self._run(
            [
                *self._sign_options(),
                "--local-user",
                self.fingerprint,
                "--digest-algo",
                DIGEST,
                "--armor",
                "--output",
                "-",
                mode,
                os.fspath(path),
            ],
            text=False,
        ).stdout
        return files.write_atomic(out, signature)

    def detach_sign(self, path: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
        """An armored detached signature (repomd.xml.asc, Release.gpg)."""
        return self._sign("--detach-sign", path, out)

    def clearsign(self, path: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
        """A cleartext-signed copy (InRelease)."""
        return self._sign("--clearsign", path, out)

    def verify(self, signature: str | os.PathLike[str], data: str | os.PathLike[str] | None = None) -> None:
        args = ["--verify", os.fspath(signature)] + ([os.fspath(data)] if data is not None else [])
        self._run(args)

    def public_key(self) -> bytes:
        result = subprocess.run(
            [
                gpg_binary(),
                "--homedir",
                self.gnupghome,
                "--batch",
                "--armor",
                "--export-options",
                "export-minimal",
                "--export",
                self.fingerprint,
            ],
            capture_output=True,
            env=self.env(),
        )
        if result.returncode != 0 or b"BEGIN PGP PUBLIC KEY BLOCK" not in result.stdout:
            raise SigningError(f"gpg --export failed: {result.stderr.decode('utf-8', 'replace').strip()}")
        return result.stdout

    def export_public_key(self, out: str | os.PathLike[str], *, extra: Sequence[bytes] = ()) -> Path:
        """The armored public key (plus `extra` armored keys, e.g. the previous key during a
        rotation) in one file, as `Signed-By:` and dnf's `gpgkey=` read it."""
        data = self.public_key() + b"".join(extra)
        files.write_atomic(out, data)
        return Path(out)

    # -- RPMs -------------------------------------------------------------------------------------

    def rpm_signer_key(self, rpm: str | os.PathLike[str]) -> str | None:
        """The long key id of an RPM's header signature, or None when it is unsigned."""
        result = subprocess.run(
            ["rpm", "-qp", "--nosignature", "--nodigest", "--qf", "%{RSAHEADER:pgpsig}\n", os.fspath(rpm)],
            capture_output=True,
            text=True,
            env=self.env(),
        )
        if result.returncode != 0:
            raise SigningError(f"{rpm}: rpm cannot read it: {result.stderr.strip()}")
        m = re.search(r"Key ID ([0-9a-fA-F]{16})", result.stdout)
        return m.group(1).upper() if m else None

    def sign_rpms(self, paths: Sequence[str | os.PathLike[str]], *, resign: bool = False) -> list[Path]:
        """Adds an RSA/SHA-256 header signature to each RPM, in place; RPMs already signed by
        this key are left untouched (their bytes, and the caches holding them, stay valid),
        unless `resign`. Returns the RPMs it signed."""
        todo = [Path(p) for p in paths if resign or self.rpm_signer_key(p) not in self.keyids]
        if not todo:
            return []
        if not shutil.which("rpmsign"):
            raise SigningError("rpmsign is not installed (Debian: apt-get install rpm)")
        extra = "--batch --no-tty " + " ".join(self._sign_options())
        cmd = [
            "rpmsign",
            "--addsign",
            "--define",
            f"_gpg_name {self.fingerprint}",
            "--define",
            f"__gpg {gpg_binary()}",  # Debian's default names a missing gpg2
            "--define",
            f"_gpg_path {self.gnupghome}",
            "--define",
            "_gpg_digest_algo sha256",
            "--define",
            f"_gpg_sign_cmd_extra_args {extra}",
        ]
        for start in range(0, len(todo), 200):
            batch = todo[start : start + 200]
            result = subprocess.run([*cmd, *map(str, batch)], capture_output=True, text=True, env=self.env())
            if result.returncode != 0:
                raise SigningError(
                    f"rpmsign failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()}"
                )
        unsigned = [str(p) for p in todo if self.rpm_signer_key(p) not in self.keyids]
        if unsigned:
            raise SigningError(f"rpmsign left these RPMs without our header signature: {', '.join(unsigned)}")
        return todo


@contextlib.contextmanager
def signer_from_env(
    env: Mapping[str, str] | None = None,
    *,
    prefix: str = KEYRING_PREFIX,
    record: Callable[[str | None], None] | None = None,
) -> Iterator[Signer]:
    """The publish key, from HUB_SIGNING_KEY or HUB_GNUPGHOME + HUB_SIGNING_KEY_ID (see the
    module doc). The temporary GNUPGHOME and passphrase file live in a `locked_keyring`
    (`prefix`, `record`), removed on exit; a killed run's is removed by the next sweep."""
    env = os.environ if env is None else env
    armored = env.get(KEY_ENV, "")
    passphrase = env.get(PASSPHRASE_ENV)
    if not armored.strip() and not (env.get(GNUPGHOME_ENV) and env.get(KEY_ID_ENV)):
        raise SigningError(
            f"no signing key: set {KEY_ENV} (an ASCII-armored private key) or {GNUPGHOME_ENV} and {KEY_ID_ENV}"
        )
    with locked_keyring(prefix, record=record) as private:
        passphrase_file = None
        if passphrase:
            passphrase_file = os.path.join(private, "passphrase")
            fd = os.open(passphrase_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(passphrase)
        if armored.strip():
            home = os.path.join(private, "gnupg")
            os.mkdir(home, 0o700)
            fingerprint = import_private_key(home, armored)
            yield Signer(home, fingerprint, passphrase_file=passphrase_file)
        else:
            yield Signer(env[GNUPGHOME_ENV], env[KEY_ID_ENV], passphrase_file=passphrase_file)
