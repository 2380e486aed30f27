"""The private key never leaves the publish step's private temporary keyring.

An ephemeral RSA-3072 key (held in memory by the test, never written to a file outside its
own GNUPGHOME) signs a real publish through HUB_SIGNING_KEY, as `./pants publish //:site`
runs it: `hub publish` in its own process, stdout and stderr logged to files. A first publish
is killed by the crash hook right after the key was imported (what a kill -9 leaves), then
two full publishes follow. Then:

- the temporary keyring (its path is in the publish report) is gone, with its gpg-agent, and
  so is the one the killed publish left, for another DEST (removed by the next publish: its
  lock is no longer held); while it existed it was mode 0700 and its gpg-agent's environment
  held no HUB_SIGNING_KEY; the publishes' private TMPDIR is empty at the end;
- no file holds key material: every file of both DESTs (all snapshots, `current`, the lock
  and records), the publish logs, the publishes' TMPDIR, every file in the test session's temporary directories
  (the unsigned sites, the build trees; except the test's own GNUPGHOME) and any other
  `hub-publish-key-*`/`hub-sign-*` keyring of a concurrent test. The needles: 32-byte slices
  of each secret RSA value (d, p, q, u) from `gpg --export-secret-keys` (binary, parsed
  packet by packet), their hex, every base64 line of the armored export that encodes only
  secret bytes, and the "PRIVATE KEY BLOCK" armor header.

Scope: the engine (what `hub publish` writes and logs). The Pants side passes the key only
in the environment of an InteractiveProcess, never in a sandbox input or a cache entry.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from hub.repos.keyring import KEYRING_PREFIX, PUBLISH_KEYRING_PREFIX, keyring_name
from hub.repos.signing_key import KEY_ENV
from hub.site.crash_points import CRASH_ENV, CRASH_STATUS
from hub.site.snapshots import KEYRING_RECORD
from testkit.unsigned_site import build_unsigned_site
from integration.keyscan import EphemeralKey, ephemeral_key, scan
from integration.publishing import CLI, processes_mentioning, publish_argv, publish_env, short_tmpdir


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EphemeralKey]:
    with ephemeral_key(tmp_path_factory.mktemp("key-safety-gpg"), "key-safety@monitoring-hub.example") as key:
        yield key


def environ_of(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def tmpdir_for_publish():
    with short_tmpdir() as path:
        yield path


def test_no_key_material_outside_the_temporary_keyring(
    tmp_path_factory: pytest.TempPathFactory, key: EphemeralKey, tmpdir_for_publish: Path
) -> None:
    root = tmp_path_factory.mktemp("key-safety")
    sites = {v: build_unsigned_site(root / "build" / v, v).site for v in ("1.0.0", "1.1.0")}
    dest, other, logs = root / "dest", root / "other-dest", root / "logs"
    logs.mkdir()
    env = publish_env(key.secret, root, tmpdir_for_publish)

    def hub_publish(name: str, version: str, to: Path = dest, **extra: str) -> subprocess.CompletedProcess:
        with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
            result = subprocess.run(
                publish_argv(sites[version], to, "https://packages.example.org/hub"),
                env={**env, **extra},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        return result

    # Killed right after the key was imported: the keyring is left, as after a kill -9. It is
    # another DEST's: the next publish anywhere removes it (its lock is no longer held).
    assert hub_publish("killed", "1.0.0", other, **{CRASH_ENV: "keyring-ready"}).returncode == CRASH_STATUS
    left = Path((other / KEYRING_RECORD).read_text().strip())
    assert left.parent == tmpdir_for_publish and left.name.startswith(PUBLISH_KEYRING_PREFIX) and left.is_dir()
    for d in (left, left / "gnupg"):
        assert (d.stat().st_mode & 0o777) == 0o700, d
    agents = processes_mentioning(str(left))
    assert agents, "expected the killed publish's gpg-agent"
    for pid in agents:
        assert KEY_ENV.encode() not in environ_of(pid) and b"PRIVATE KEY" not in environ_of(pid)

    reports = []
    for name, version in (("first", "1.0.0"), ("second", "1.1.0")):
        assert hub_publish(name, version).returncode == 0, (logs / f"{name}.err").read_text()
        reports.append(json.loads((logs / f"{name}.out").read_text()))
    assert str(left) in reports[0]["stale_removed"]
    keyrings = [left] + [Path(r["temporary_keyring"]["path"]) for r in reports]
    for keyring in keyrings:
        assert not keyring.exists(), f"{keyring}: the temporary keyring is still there"
        assert not processes_mentioning(str(keyring)), f"{keyring}: its gpg-agent still runs"
    assert not (dest / KEYRING_RECORD).exists()
    assert os.readlink(dest / "current") == "snapshots/00000002"

    assert not list(tmpdir_for_publish.iterdir()), "the publishes' temporary directory is not empty"
    others = [
        p
        for base in {"/tmp", os.environ.get("TMPDIR") or "/tmp"}
        for p in Path(base).glob("*hub-*")
        if p.name.lstrip(".").startswith((PUBLISH_KEYRING_PREFIX, "hub-sign-"))
    ]
    scanned, found = scan(
        [dest, other, logs, tmpdir_for_publish, tmp_path_factory.getbasetemp(), *others],
        key.needles,
        exclude=[key.home],
    )
    assert not found, "key material outside the temporary keyring:\n" + "\n".join(found)
    snapshot_files = sum(1 for p in (dest / "snapshots").rglob("*") if p.is_file())
    assert scanned >= snapshot_files + 6 > 100, scanned  # the scan really read the published trees
    print(f"key scan: {scanned} files, {len(key.needles)} needles, {len(others)} other keyrings")


# `gpg` for the `hub sign` test: signing blocks (after the key import) while HUB_TEST_BLOCK
# names a file, which it creates first: the moment to kill `hub sign` with the key imported.
BLOCKING_GPG = """#!/bin/sh
case " $* " in
  *" --detach-sign "*) if [ -n "$HUB_TEST_BLOCK" ]; then : > "$HUB_TEST_BLOCK"; exec sleep 600; fi ;;
esac
exec {gpg} "$@"
"""


def test_a_killed_hub_sign_leaves_no_keyring(tmp_path: Path, key: EphemeralKey, tmpdir_for_publish: Path) -> None:
    """`hub sign` killed with SIGKILL once the key is in its temporary keyring: the keyring is
    locked, so the next `hub sign` removes it, with its gpg-agent, and nothing is left."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "gpg").write_text(BLOCKING_GPG.format(gpg=shutil.which("gpg")))
    (bindir / "gpg").chmod(0o755)
    (tmp_path / "Release").write_text("Origin: key-safety\n")
    blocked = tmp_path / "blocked"
    env = publish_env(key.secret, tmp_path, tmpdir_for_publish, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    argv = [sys.executable, "-c", CLI, "sign", "--detach", str(tmp_path / "Release"), str(tmp_path / "Release.gpg")]

    proc = subprocess.Popen(
        argv,
        env={**env, "HUB_TEST_BLOCK": str(blocked)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not blocked.exists():
            assert proc.poll() is None, "hub sign exited before signing"
            assert time.monotonic() < deadline, "hub sign did not reach the signing step"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # hub sign and the blocked gpg: nothing runs its clean-up
        proc.wait()
    left = [p for p in tmpdir_for_publish.iterdir() if p.name.startswith(KEYRING_PREFIX)]
    assert len(left) == 1 and keyring_name(KEYRING_PREFIX).match(left[0].name), left
    assert (left[0].stat().st_mode & 0o777) == 0o700 and (left[0] / "gnupg/private-keys-v1.d").is_dir()
    assert processes_mentioning(str(left[0])), "expected the killed run's gpg-agent"

    again = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "Release.gpg").read_text().startswith("-----BEGIN PGP SIGNATURE-----")
    assert not left[0].exists(), "the killed run's keyring is still there"
    assert not processes_mentioning(str(left[0])), "the killed run's gpg-agent still runs"
    assert not list(tmpdir_for_publish.iterdir()), "the temporary directory is not empty"
    scanned, found = scan([tmp_path], key.needles)
    assert not found and scanned >= 3, found
