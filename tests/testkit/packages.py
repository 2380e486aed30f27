"""Small real packages and throwaway OpenPGP keys for the repository tests and benchmark.

Not used by any build. Packages are made by the same nfpm as production (`HUB_NFPM`, else
`nfpm` on PATH, else install-tools.sh's cache), with a tiny payload, so hundreds take seconds.
Keys are generated in batch mode without protection, in a GNUPGHOME the caller owns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

SOURCE_DATE = 1748779200  # 2025-06-01T12:00:00Z
NFPM_VERSION = "2.48.0"


def nfpm_path() -> str:
    """The nfpm binary; a clear error (never a skip) when it is missing."""
    candidates = [os.environ.get("HUB_NFPM"), shutil.which("nfpm")]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(os.path.join(cache, "monitoring-hub", "tools", f"nfpm-{NFPM_VERSION}", "nfpm"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise RuntimeError("nfpm not found: run build-support/ci/install-tools.sh and set HUB_NFPM to the path it prints")


def make_package(
    kind: str,
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    version: str = "1.0.0",
    release: str = "1",
    arch: str = "amd64",
    payload: bytes = b"",
    files: int = 3,
    depends: Sequence[str] = (),
    source_date: int = SOURCE_DATE,
    compression: str = "zstd",
    filename: str | None = None,
) -> Path:
    """One RPM or DEB made by nfpm: `files` small files (the first also holding `payload`),
    a config file and a doc, like an exporter package without scripts."""
    out_dir = Path(out_dir)
    work = out_dir / f".work-{kind}-{name}-{version}-{release}-{arch}"
    work.mkdir(parents=True, exist_ok=True)
    contents = []
    for i in range(files):
        src = work / f"f{i}"
        src.write_bytes((payload if i == 0 else b"") + f"{name} {version} file {i}\n".encode())
        dst = f"/usr/bin/{name}" if i == 0 else f"/usr/share/doc/{name}/file{i}"
        contents.append({"src": str(src), "dst": dst, "file_info": {"mode": 0o755 if i == 0 else 0o644}})
    conf = work / "env"
    conf.write_text('ARGS=""\n')
    env_dir = "/etc/sysconfig" if kind == "rpm" else "/etc/default"
    contents.append({"src": str(conf), "dst": f"{env_dir}/{name}", "type": "config|noreplace"})
    config = {
        "name": name,
        "arch": arch,
        "platform": "linux",
        "version": version,
        "version_schema": "none",
        "release": release,
        "maintainer": "Monitoring Hub tests <tests@example.org>",
        "vendor": "Monitoring Hub",
        "license": "Apache-2.0",
        "homepage": f"https://example.org/{name}",
        "description": f"Synthetic {name} for repository tests.\nA second line of description.",
        "section": "net",
        "priority": "optional",
        "depends": list(depends),
        "contents": contents,
        "rpm": {"buildhost": "monitoring-hub", "compression": compression, "summary": f"Synthetic {name}"},
        "deb": {"compression": compression},
    }
    (work / "nfpm.json").write_text(json.dumps(config))
    if filename is None:
        if kind == "rpm":
            rpm_arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
            filename = f"{name}-{version}-{release}.{rpm_arch}.rpm"
        else:
            filename = f"{name}_{version}-{release}_{arch}.deb"
    target = out_dir / filename
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOURCE_DATE_EPOCH": str(source_date), "TZ": "UTC"}
    result = subprocess.run(
        [nfpm_path(), "package", "--config", str(work / "nfpm.json"), "--packager", kind, "--target", str(target)],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"nfpm failed: {result.stdout}{result.stderr}")
    shutil.rmtree(work)
    return target


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def gpg(
    home: str | os.PathLike[str], *args: str, input: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    env = {**os.environ, "GNUPGHOME": str(home), "LC_ALL": "C"}
    result = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", *args], input=input, capture_output=True, env=env
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"gpg {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result


def generate_key(
    home: str | os.PathLike[str],
    *,
    key_type: str = "RSA",
    length: int = 3072,
    curve: str | None = None,
    subkey: str | None = None,
    email: str = "repo-test@example.org",
    passphrase: str | None = None,
) -> str:
    """Generates a signing key in `home` (created 0700); returns its fingerprint.
    `key_type` RSA (with `length`) or EDDSA (with `curve` ed25519); `subkey` "EDDSA" adds an
    ed25519 signing subkey (gpg would then sign with it)."""
    home = Path(home)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    lines = ["%no-protection"] if passphrase is None else []
    lines.append(f"Key-Type: {key_type}")
    lines.append(f"Key-Curve: {curve}" if curve else f"Key-Length: {length}")
    lines += ["Key-Usage: sign"] + ([f"Passphrase: {passphrase}"] if passphrase is not None else [])
    if subkey == "EDDSA":
        lines += ["Subkey-Type: EDDSA", "Subkey-Curve: ed25519", "Subkey-Usage: sign"]
    lines += ["Name-Real: Monitoring Hub test", f"Name-Email: {email}", "Expire-Date: 0", "%commit", ""]
    params = "\n".join(lines).encode()
    extra = ["--pinentry-mode", "loopback"] if passphrase is not None else []
    gpg(home, *extra, "--gen-key", input=params)
    out = gpg(home, "--with-colons", "--list-secret-keys", email).stdout.decode()
    fprs = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]
    return fprs[0]


def export_secret_key(home: str | os.PathLike[str], fingerprint: str, passphrase: str | None = None) -> str:
    extra = ["--pinentry-mode", "loopback", "--passphrase", passphrase] if passphrase else []
    return gpg(home, *extra, "--armor", "--export-secret-keys", fingerprint).stdout.decode()


def export_public_key(home: str | os.PathLike[str], fingerprint: str) -> bytes:
    return gpg(home, "--armor", "--export", fingerprint).stdout


def stop_agent(home: str | os.PathLike[str]) -> None:
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "all"],
        capture_output=True,
        env={**os.environ, "GNUPGHOME": str(home)},
    )


def gpgv(keyring_dir: str | os.PathLike[str], public: bytes, *args: str) -> subprocess.CompletedProcess:
    """`gpgv` with a keyring holding only `public` (made in `keyring_dir`); `args` name the
    signature and, for a detached one, the data."""
    keyring_dir = Path(keyring_dir)
    keyring_dir.mkdir(exist_ok=True)
    kbx = keyring_dir / "trusted.gpg"
    subprocess.run(["gpg", "--batch", "--yes", "--dearmor", "-o", str(kbx)], input=public, check=True)
    return subprocess.run(["gpgv", "--keyring", str(kbx), *args], capture_output=True, text=True)
