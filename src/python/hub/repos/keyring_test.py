"""hub.repos.keyring: a temporary keyring exists only with its lock held, is recorded before it
exists, is removed on exit, and is swept once its process is gone (never while it lives)."""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
from pathlib import Path

import pytest

from hub.repos import keyring


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """A short private temporary directory: a sweep never sees another test's keyrings."""
    base = Path(tempfile.mkdtemp(prefix="hubk-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    request.addfinalizer(lambda: base.rmdir())
    return base


def test_locked_keyring_is_recorded_locked_and_removed(private_tmp: Path) -> None:
    seen: list[tuple[str | None, bool]] = []

    def record(path: str | None) -> None:
        seen.append((path, path is not None and os.path.exists(path)))

    with keyring.locked_keyring(keyring.KEYRING_PREFIX, record=record) as path:
        assert Path(keyring.keyring_base()) == private_tmp and Path(path).parent == private_tmp
        assert keyring.keyring_name(keyring.KEYRING_PREFIX).match(os.path.basename(path))
        assert os.stat(path).st_mode & 0o777 == 0o700
        assert seen == [(path, False)]  # recorded before it exists
        fd = os.open(os.path.join(path, "lock"), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by its maker
        finally:
            os.close(fd)
        assert keyring.sweep_keyrings() == [] and os.path.isdir(path)  # alive: kept
    assert not os.path.exists(path) and seen[-1] == (None, False)
    assert list(private_tmp.iterdir()) == []


def test_orphans_are_swept(private_tmp: Path) -> None:
    orphan = private_tmp / (keyring.PUBLISH_KEYRING_PREFIX + secrets.token_hex(8))
    (orphan / "gnupg").mkdir(mode=0o700, parents=True)
    (orphan / "lock").write_text("")
    not_ours = private_tmp / "hub-sign-not-a-keyring"
    not_ours.mkdir()
    assert keyring.orphan_candidates() == [orphan]
    assert keyring.sweep_keyrings() == [str(orphan)] and not orphan.exists()
    not_ours.rmdir()
