"""Publish-time signing: RPM header signatures, repomd.xml.asc, InRelease and Release.gpg.

This runs only when publishing, never in a cached build action: the private key must never
reach a sandbox input, a cache entry, `dist/` or a log. The key comes from the environment:

- `HUB_SIGNING_KEY`: an ASCII-armored private key. It is imported (through gpg's standard
  input, never a command line or a file) into a private temporary GNUPGHOME (mode 0700),
  which is deleted afterwards, with its gpg-agent stopped. Its directory
  (`$TMPDIR/hub-sign-<16 hex>`, `hub-publish-key-<16 hex>` for `hub publish`) holds a `lock`
  file flocked for its whole life (`locked_keyring`): a run killed meanwhile (SIGKILL, OOM)
  leaves a keyring whose lock nobody holds, and the next `hub sign`, `hub sign-site` or
  `hub publish` on the machine removes it, with its gpg-agent, before doing anything else.
- or `HUB_GNUPGHOME` + `HUB_SIGNING_KEY_ID`: an existing keyring, used in place.
- `HUB_SIGNING_KEY_PASSPHRASE` (optional): for a protected key; it goes to gpg through a
  0600 file inside a private directory, never a command line.

Only RSA keys of 3072 bits or more are accepted, and every signature uses SHA-256: el8's
rpm (4.14) cannot verify EdDSA signatures. Every usable signing (sub)key of the chosen key
is checked, since gpg signs with the newest signing subkey.

`sign_site` runs the publish order of docs/repositories.md on a built site:
1. sign each RPM (rpmsign --addsign: an OpenPGP header signature that `rpmkeys -K` checks);
2. regenerate the YUM metadata from the signed files;
3. rewrite `package.sha256`/`size_bytes` of the RPM artifact JSONs under `catalog/`
   (`package.unsigned_sha256` keeps the digest of the package as built);
4. sign each repomd.xml (repomd.xml.asc, detached, armored) and each APT Release
   (InRelease, clearsigned; Release.gpg, detached, armored), and export the public key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from hub.common.errors import HubError
from hub.common import files

KEY_ENV = "HUB_SIGNING_KEY"
GNUPGHOME_ENV = "HUB_GNUPGHOME"
KEY_ID_ENV = "HUB_SIGNING_KEY_ID"
PASSPHRASE_ENV = "HUB_SIGNING_KEY_PASSPHRASE"
MIN_RSA_BITS = 3072
RSA_ALGOS = {"1", "3"}  # RSA (sign and encrypt), RSA sign-only
DIGEST = "SHA256"
PUBLIC_KEY_FILE = "monitoring-hub.asc"
KEYRING_PREFIX = "hub-sign-"  # `hub sign`, `hub sign-site`: <tmp>/hub-sign-<16 hex>
PUBLISH_KEYRING_PREFIX = "hub-publish-key-"  # `hub publish` (hub.site.publish.KEYRING_PREFIX)
KEYRING_PREFIXES = (KEYRING_PREFIX, PUBLISH_KEYRING_PREFIX)


class SigningError(HubError):
    pass


def gpg_binary() -> str:
    found = shutil.which("gpg") or ("/usr/bin/gpg" if os.path.exists("/usr/bin/gpg") else None)
    if not found:
        raise SigningError("gpg (GnuPG 2) is not installed")
    return found


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
        algo = {"1": "RSA", "3": "RSA", "17": "DSA", "16": "ElGamal", "18": "ECDH", "19": "ECDSA", "22": "EdDSA"}.get(self.algo, f"algorithm {self.algo}")
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
        raise SigningError(f"key {primary.fingerprint or primary.keyid} has no usable secret signing key (expired, revoked or missing)")
    weak = [k for k in signing if k.algo not in RSA_ALGOS or k.bits < MIN_RSA_BITS]
    if weak:
        raise SigningError(
            f"refusing signing key {primary.fingerprint or primary.keyid}: "
            + "; ".join(k.describe() for k in weak)
            + f". Use RSA of {MIN_RSA_BITS} bits or more (el8's rpm cannot verify EdDSA, and RSA-2048 is below policy)."
        )
    return primary.fingerprint


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
        env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSPHRASE_ENV)}
        env.update(GNUPGHOME=self.gnupghome, LC_ALL="C", LANG="C", TZ="UTC")
        return env

    def _sign_options(self) -> list[str]:
        opts = ["--pinentry-mode", "loopback"]
        if self.passphrase_file:
            opts += ["--passphrase-file", self.passphrase_file]
        return opts

    def _run(self, args: Sequence[str], *, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [gpg_binary(), "--homedir", self.gnupghome, "--batch", "--no-tty", *args]
        env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSPHRASE_ENV)}
        env.update(GNUPGHOME=self.gnupghome, LC_ALL="C")
        result = subprocess.run(cmd, input=input, capture_output=True, env=env)
        out = subprocess.CompletedProcess(cmd, result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace"))
        if check and result.returncode != 0:
            raise SigningError(f"gpg {' '.join(args[:1])} failed (exit {result.returncode}): {out.stderr.strip()}")
        return out

    def _sign(self, mode: str, path: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
        out = Path(out)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            self._run([*self._sign_options(), "--local-user", self.fingerprint, "--digest-algo", DIGEST,
                       "--armor", "--output", str(tmp), mode, os.fspath(path)])
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return out

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
            [gpg_binary(), "--homedir", self.gnupghome, "--batch", "--armor",
             "--export-options", "export-minimal", "--export", self.fingerprint],
            capture_output=True, env=self.env(),
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
            capture_output=True, text=True, env=self.env(),
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
            "rpmsign", "--addsign",
            "--define", f"_gpg_name {self.fingerprint}",
            "--define", f"__gpg {gpg_binary()}",  # Debian's default names a missing gpg2
            "--define", f"_gpg_path {self.gnupghome}",
            "--define", "_gpg_digest_algo sha256",
            "--define", f"_gpg_sign_cmd_extra_args {extra}",
        ]
        for start in range(0, len(todo), 200):
            batch = todo[start : start + 200]
            result = subprocess.run([*cmd, *map(str, batch)], capture_output=True, text=True, env=self.env())
            if result.returncode != 0:
                raise SigningError(f"rpmsign failed (exit {result.returncode}): {(result.stderr or result.stdout).strip()}")
        unsigned = [str(p) for p in todo if self.rpm_signer_key(p) not in self.keyids]
        if unsigned:
            raise SigningError(f"rpmsign left these RPMs without our header signature: {', '.join(unsigned)}")
        return todo


@contextlib.contextmanager
def signer_from_env(env: Mapping[str, str] | None = None, *, prefix: str = KEYRING_PREFIX,
                    record: Callable[[str | None], None] | None = None) -> Iterator[Signer]:
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


# --------------------------------------------------------------------------------------------
# Temporary keyrings: locked for their whole life, swept once their process is gone
# --------------------------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSPHRASE_ENV)}


def keyring_base() -> str:
    """Where temporary keyrings go: TMPDIR when it is short (gpg-agent's socket path, inside
    the keyring, must fit in 108 bytes), else /tmp."""
    base = tempfile.gettempdir()
    return base if len(base) <= 40 else "/tmp"


def keyring_name(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}[0-9a-f]{{16}}$")


def remove_keyring(path: str | os.PathLike[str]) -> None:
    """Stops the gpg-agent of a temporary keyring and deletes the directory."""
    path = Path(path)
    home = path / "gnupg"
    gpgconf = shutil.which("gpgconf")
    if gpgconf and home.is_dir():
        subprocess.run([gpgconf, "--homedir", str(home), "--kill", "all"], capture_output=True,
                       env={**_clean_env(), "GNUPGHOME": str(home)})
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        raise SigningError(f"{path}: could not remove the temporary signing keyring")


def remove_if_orphaned(path: Path) -> bool:
    """Removes a temporary keyring whose process is gone: its `lock` file is flocked for the
    keyring's whole life by the process that made it, and the kernel releases that lock when
    the process dies, however it dies (a PID check would misjudge PID namespaces and reuse)."""
    try:
        fd = os.open(path / "lock", os.O_RDWR)
    except FileNotFoundError:
        if not path.is_dir():
            return False
        if path.name.startswith(".") and time.time() - path.stat().st_mtime < 60:
            return False  # just made by a live process that has not created its lock yet
        fd = None  # being removed by its owner, or a torn removal: no key without a lock
    except OSError:
        return False
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # alive
        remove_keyring(path)
        return True
    finally:
        if fd is not None:
            os.close(fd)


def orphan_candidates(prefixes: Sequence[str] = KEYRING_PREFIXES) -> list[Path]:
    """Every temporary keyring of any of `prefixes` in `keyring_base()`, made or being made."""
    base = Path(keyring_base())
    out: list[Path] = []
    for prefix in prefixes:
        out += [p for p in sorted(base.glob(prefix + "*")) if keyring_name(prefix).match(p.name)]
        out += sorted(base.glob(f".{prefix}new-*"))
    return out


def sweep_keyrings(extra: Sequence[Path] = ()) -> list[str]:
    """Removes the temporary keyrings (of `hub publish` and `hub sign`) whose process is gone,
    with their gpg-agents: `extra` (e.g. the one a DEST recorded) and every orphan in
    `keyring_base()`. A live one's lock is held: it is left alone. Returns the removed paths."""
    return [str(p) for p in dict.fromkeys([*extra, *orphan_candidates()]) if remove_if_orphaned(p)]


@contextlib.contextmanager
def locked_keyring(prefix: str = KEYRING_PREFIX, *, record: Callable[[str | None], None] | None = None) -> Iterator[str]:
    """A new directory `<keyring_base()>/<prefix><16 hex>` (0700) holding a `lock` file flocked
    for its whole life; removed (gpg-agent stopped) on exit. `record(path)` runs BEFORE it
    exists and `record(None)` after its removal. It is made under a temporary name and renamed
    once the lock is held, so a keyring name never exists without its lock held. Orphans of
    killed processes are removed by `sweep_keyrings`, which runs first."""
    sweep_keyrings()
    base = keyring_base()
    path = os.path.join(base, prefix + secrets.token_hex(8))
    if record is not None:
        record(path)
    new = tempfile.mkdtemp(prefix=f".{prefix}new-", dir=base)  # mode 0700
    lock = os.open(os.path.join(new, "lock"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.rename(new, path)
        try:
            yield path
        finally:
            remove_keyring(path)
            if record is not None:
                record(None)
    finally:
        os.close(lock)
        shutil.rmtree(new, ignore_errors=True)  # only if the rename did not happen


def import_private_key(home: str, armored: str) -> str:
    """Imports one armored secret key into `home` (through stdin); returns its fingerprint."""
    if "PRIVATE KEY BLOCK" not in armored:
        raise SigningError(f"{KEY_ENV} is not an ASCII-armored private key (no 'BEGIN PGP PRIVATE KEY BLOCK')")
    env = {**_clean_env(), "GNUPGHOME": home, "LC_ALL": "C"}
    result = subprocess.run(
        [gpg_binary(), "--homedir", home, "--batch", "--no-tty", "--import-options", "import-minimal", "--import"],
        input=armored.encode("utf-8"), capture_output=True, env=env,
    )
    if result.returncode != 0:
        # gpg's messages name key ids, never key material.
        raise SigningError(f"cannot import {KEY_ENV}: {result.stderr.decode('utf-8', 'replace').strip()}")
    listing = subprocess.run(
        [gpg_binary(), "--homedir", home, "--batch", "--with-colons", "--fixed-list-mode", "--list-secret-keys"],
        capture_output=True, text=True, env=env,
    )
    keys = parse_secret_keys(listing.stdout)
    if len(keys) != 1:
        raise SigningError(f"{KEY_ENV} must hold exactly one secret key, found {len(keys)}")
    return keys[0][0].fingerprint


# --------------------------------------------------------------------------------------------
# The publish order, on a built site
# --------------------------------------------------------------------------------------------


def yum_repo_dirs(site: Path) -> list[Path]:
    return sorted(p.parent.parent for p in site.glob("*/*/repodata/repomd.xml"))


def _repomd_revision(repomd: Path) -> int | None:
    m = re.search(r"<revision>(\d+)</revision>", repomd.read_text("utf-8"))
    return int(m.group(1)) if m else None


def rewrite_catalog(site: Path, catalog_dir: Path | None = None) -> list[Path]:
    """Step 3: every RPM artifact JSON whose file changed gets the new sha256/size_bytes;
    `package.unsigned_sha256` keeps the digest of the package as built."""
    from hub.catalog import artifact as catalog

    changed = []
    root = catalog_dir or site / "catalog"
    if not root.is_dir():
        return changed
    for path in sorted(root.glob("*/*.json")):
        data = json.loads(path.read_text("utf-8"))
        package = data.get("package") if isinstance(data, dict) else None
        if data.get("artifact_type") != "rpm" or not isinstance(package, dict) or "url" not in package:
            continue
        file = site / package["url"]
        if not file.is_file():
            continue
        sha256, size = catalog.file_digest(file)
        if package.get("sha256") == sha256 and package.get("size_bytes") == size:
            continue
        package.setdefault("unsigned_sha256", package.get("sha256"))
        package["sha256"], package["size_bytes"] = sha256, size
        files.write_json(path, data)
        changed.append(path)
    return changed


def sign_site(site: str | os.PathLike[str], signer: Signer, *, extra_public_keys: Sequence[bytes] = ()) -> dict[str, Any]:
    """Runs publish steps 1-4 (module doc) on `site` in place; returns what it did."""
    from hub.repos import yum as repo_yum

    site = Path(site)
    report: dict[str, Any] = {"rpms_signed": 0, "repos": [], "catalog_rewritten": 0, "apt_suites": []}
    repos = yum_repo_dirs(site)
    # 1. RPM header signatures.
    rpms = [rpm for repo in repos for rpm in sorted(repo.glob("*.rpm"))]
    report["rpms_signed"] = len(signer.sign_rpms(rpms))
    # 2. YUM metadata from the signed files (same revision: it comes from the inputs).
    for repo in repos:
        dist = repo.parent.name
        entries = repo_yum.entries_of([(str(rpm), dist) for rpm in sorted(repo.glob("*.rpm"))])
        revision = _repomd_revision(repo / "repodata" / "repomd.xml")
        if revision is None:
            revision = max((e["build_time"] for e in entries), default=0)
        repo_yum.write_repodata(repo, entries, revision)
        report["repos"].append(str(repo.relative_to(site)))
    # 3. The catalog follows the signed bytes.
    report["catalog_rewritten"] = len(rewrite_catalog(site))
    # 4. Repository metadata signatures, checked right away.
    for repo in repos:
        repomd = repo / "repodata" / "repomd.xml"
        signer.verify(signer.detach_sign(repomd, repomd.with_name("repomd.xml.asc")), repomd)
    for release in sorted(site.glob("dists/*/Release")):
        signer.verify(signer.clearsign(release, release.with_name("InRelease")))
        signer.verify(signer.detach_sign(release, release.with_name("Release.gpg")), release)
        report["apt_suites"].append(release.parent.name)
    signer.export_public_key(site / PUBLIC_KEY_FILE, extra=extra_public_keys)
    report["fingerprint"] = signer.fingerprint
    return report
