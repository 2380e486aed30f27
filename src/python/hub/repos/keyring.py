"""Temporary keyrings: private GNUPGHOMEs that live exactly as long as their process.

A temporary keyring is a directory `<keyring_base()>/<prefix><16 hex>` (mode 0700):
`hub-sign-` for `hub sign` and `hub sign-site`, `hub-publish-key-` for `hub publish`. It holds
the imported key's GNUPGHOME (`gnupg/`), the passphrase file if any, and a `lock` file that
its process flocks for the keyring's whole life (`locked_keyring`). The kernel releases that
lock when the process dies, however it dies (SIGKILL, OOM), so a keyring whose lock nobody
holds is an *orphan*: `sweep_keyrings`, which every signing run calls first, removes orphans
with their gpg-agents. A keyring is made under a temporary name (`.<prefix>new-*`) and renamed
once its lock is held, so a keyring's name never exists without its lock held.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

from hub.repos.signing_key import SigningError, child_env

KEYRING_PREFIX = "hub-sign-"  # `hub sign`, `hub sign-site`: <tmp>/hub-sign-<16 hex>
PUBLISH_KEYRING_PREFIX = "hub-publish-key-"  # `hub publish` (hub.site.publish_keyring)
KEYRING_PREFIXES = (KEYRING_PREFIX, PUBLISH_KEYRING_PREFIX)


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
        subprocess.run(
            [gpgconf, "--homedir", str(home), "--kill", "all"],
            capture_output=True,
            env={**child_env(), "GNUPGHOME": str(home)},
        )
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
def locked_keyring(
    prefix: str = KEYRING_PREFIX, *, record: Callable[[str | None], None] | None = None
) -> Iterator[str]:
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
