"""hub.site.publish_keyring: a publish removes the temporary keyrings of killed publishes (the
one its DEST recorded, and any orphan), never a live one. The record itself, written before the
keyring exists, is checked with real kills in publish_test.py."""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
from pathlib import Path

import pytest

from hub.repos import keyring
from hub.site.publish_keyring import record_keyring, sweep_keyrings
from hub.site.snapshots import KEYRING_RECORD


def test_orphaned_keyrings_are_swept_and_live_ones_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A temporary keyring's `lock` is flocked for its whole life: a publish (to any DEST)
    removes the keyrings whose lock nobody holds (their publish was killed), never a live one."""
    dest = tmp_path / "dest"
    dest.mkdir()
    private_tmp = Path(tempfile.mkdtemp(prefix="hubk-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    base = Path(keyring.keyring_base())
    assert base == private_tmp
    live, orphan = (base / (keyring.PUBLISH_KEYRING_PREFIX + secrets.token_hex(8)) for _ in range(2))
    for d in (live, orphan):
        (d / "gnupg").mkdir(mode=0o700, parents=True)
        (d / "gnupg/private-keys-v1.d").write_text("stands for a key")
        (d / "lock").write_text("")
    fd = os.open(live / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        removed = sweep_keyrings(dest)
        assert str(orphan) in removed and not orphan.exists()
        assert str(live) not in removed and (live / "gnupg").is_dir()
    finally:
        os.close(fd)
    assert str(live) in sweep_keyrings(dest) and not live.exists()
    private_tmp.rmdir()


def test_the_recorded_keyring_is_swept_and_the_record_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    private_tmp = Path(tempfile.mkdtemp(prefix="hubk-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    killed = private_tmp / (keyring.PUBLISH_KEYRING_PREFIX + secrets.token_hex(8))
    record_keyring(dest, str(killed))
    assert (dest / KEYRING_RECORD).read_text() == f"{killed}\n"
    assert sorted(p.name for p in dest.iterdir()) == [KEYRING_RECORD]  # no temporary left
    (killed / "gnupg").mkdir(mode=0o700, parents=True)
    assert sweep_keyrings(dest) == [str(killed)] and not killed.exists()
    assert not (dest / KEYRING_RECORD).exists()
    record_keyring(dest, "not/absolute")  # a torn or foreign record names nothing to remove
    assert sweep_keyrings(dest) == [] and not (dest / KEYRING_RECORD).exists()
    private_tmp.rmdir()
