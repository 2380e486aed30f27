"""hub.site.snapshots: numbering (never reusing a partial's number), the `current` link and its
switch, pruning through `.trash`, and the clean-up of what a crash leaves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.site import snapshots


def make(dest: Path, *names: str) -> None:
    for name in names:
        (dest / snapshots.SNAPSHOTS / name).mkdir(parents=True)


def test_numbering_counts_partial_and_trash_directories(tmp_path: Path) -> None:
    assert snapshots.next_snapshot_number(tmp_path / snapshots.SNAPSHOTS) == 1
    make(tmp_path, "00000002", "00000005.partial", "00000003.trash", "notes")
    assert snapshots.next_snapshot_number(tmp_path / snapshots.SNAPSHOTS) == 6
    assert snapshots.snapshot_name(6) == "00000006"


def test_switch_current_and_read_it_back(tmp_path: Path) -> None:
    assert snapshots.current_snapshot(tmp_path) is None
    make(tmp_path, "00000001", "00000002")
    seen: list[str] = []
    snapshots.switch_current(tmp_path, tmp_path / "snapshots/00000001", seen.append)
    snapshots.switch_current(tmp_path, tmp_path / "snapshots/00000002", seen.append)
    assert os.readlink(tmp_path / "current") == "snapshots/00000002"
    assert snapshots.current_snapshot(tmp_path) == tmp_path / "snapshots/00000002"
    assert seen == ["link-created", "current-switched", "dest-fsynced"] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "snapshots"]


@pytest.mark.parametrize(
    "target, message",
    [
        ("elsewhere", "expected snapshots/<id>"),
        ("snapshots/00000009", "the snapshot is missing"),
    ],
)
def test_a_foreign_current_is_refused(tmp_path: Path, target: str, message: str) -> None:
    (tmp_path / "current").symlink_to(target)
    with pytest.raises(HubError, match=message):
        snapshots.current_snapshot(tmp_path)


def test_prune_keeps_current_and_the_kept_ones(tmp_path: Path) -> None:
    make(tmp_path, "00000001", "00000002", "00000003", "00000004.partial")
    (tmp_path / "current").symlink_to("snapshots/00000002")
    removed = snapshots.prune_snapshots(tmp_path, [tmp_path / "snapshots/00000003"])
    assert removed == ["00000001", "00000004.partial"]
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == ["00000002", "00000003"]


def test_clean_stale_removes_only_what_a_crash_leaves(tmp_path: Path) -> None:
    make(tmp_path, "00000001", "00000002.partial", "00000003.trash")
    (tmp_path / "current").symlink_to("snapshots/00000001")
    (tmp_path / "current.tmp-00000002").symlink_to("snapshots/00000002")
    (tmp_path / f".{snapshots.KEYRING_RECORD}.x1y2.tmp").write_text("/tmp/hub-publish-key-0\n")
    (tmp_path / snapshots.KEYRING_RECORD).write_text("/tmp/hub-publish-key-0\n")
    removed = snapshots.clean_stale(tmp_path)
    assert sorted(removed) == sorted(
        [
            "snapshots/00000002.partial",
            "snapshots/00000003.trash",
            "current.tmp-00000002",
            f".{snapshots.KEYRING_RECORD}.x1y2.tmp",
        ]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [snapshots.KEYRING_RECORD, "current", "snapshots"]
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == ["00000001"]


def test_one_publish_at_a_time(tmp_path: Path) -> None:
    with snapshots.publish_lock(tmp_path):
        with pytest.raises(HubError, match="another publish is running"):
            with snapshots.publish_lock(tmp_path):
                pass
    with snapshots.publish_lock(tmp_path):
        pass
