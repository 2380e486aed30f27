"""Deterministic layers: the fixed gzip header, digests and diff_ids of every layer of a
built image; members sorted with their parents; entries that cannot be a layer refused.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.image.layers import Entry, build_layer, tree_entries
from hub.image.layout import Layout
from testkit.images import EPOCH, Workspace, blob, image


def test_gzip_is_fixed_and_digests_are_right(ws: Workspace) -> None:
    built, _ = ws.build()
    layout = built.layout_dir
    manifest, config = image(layout, "amd64")
    assert len(manifest["layers"]) == len(config["rootfs"]["diff_ids"])
    for desc, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"]):
        data = blob(layout, desc["digest"])
        assert desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        assert desc["size"] == len(data)
        # magic, deflate, no flags, MTIME 0, XFL 0, OS 255: no name, no clock, no build OS
        assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        assert "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest() == diff_id


def test_members_sorted_with_their_parents(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "layout")
    layout.init()
    entries = [
        Entry("/usr/bin/b", data=b"b", mode=0o755),
        Entry("/etc/x/../a.conf", data=b"a"),  # normalised
        Entry("/usr/lib/link", "symlink", 0o777, target="../bin/b"),
    ]
    layer = build_layer(layout, entries, mtime=EPOCH, comment="test")
    again = build_layer(layout, list(reversed(entries)), mtime=EPOCH, comment="test")
    assert again.descriptor == layer.descriptor and again.diff_id == layer.diff_id
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layout.read(layer.digest)))) as tar:
        got = [(m.name, m.mode, m.uid, m.mtime, m.uname) for m in tar]
    assert got == [
        ("etc", 0o755, 0, EPOCH, ""),
        ("etc/a.conf", 0o644, 0, EPOCH, ""),
        ("usr", 0o755, 0, EPOCH, ""),
        ("usr/bin", 0o755, 0, EPOCH, ""),
        ("usr/bin/b", 0o755, 0, EPOCH, ""),
        ("usr/lib", 0o755, 0, EPOCH, ""),
        ("usr/lib/link", 0o777, 0, EPOCH, ""),
    ]
    assert sorted(p.name for p in (layout.root / "blobs/sha256").iterdir()) == [layer.digest.split(":")[1]]


def test_entries_that_cannot_be_a_layer(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "layout")
    layout.init()
    with pytest.raises(HubError, match="given twice"):
        build_layer(layout, [Entry("/a", data=b"1"), Entry("/a", data=b"2")], mtime=0, comment="x")
    with pytest.raises(HubError, match="not a path inside the image"):
        build_layer(layout, [Entry("/", "dir")], mtime=0, comment="x")
    with pytest.raises(HubError, match="cannot read"):
        build_layer(layout, [Entry("/a", src=str(tmp_path / "missing"))], mtime=0, comment="x")
    assert list((layout.root / "blobs/sha256").iterdir()) == []  # no temporary file left


def test_tree_entries(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "lib").mkdir(parents=True)
    (root / "lib/libc.so.6").write_bytes(b"libc")
    os.chmod(root / "lib", 0o755)
    os.chmod(root / "lib/libc.so.6", 0o755)
    os.symlink("lib/libc.so.6", root / "libc")
    assert tree_entries(root) == [
        Entry("/lib", "dir", 0o755),
        Entry("/libc", "symlink", 0o777, target="lib/libc.so.6"),
        Entry("/lib/libc.so.6", "file", 0o755, src=str(root / "lib/libc.so.6")),
    ]  # in walk order: build_layer sorts
    os.mkfifo(root / "fifo")
    with pytest.raises(HubError, match="not a regular file, directory or symbolic link"):
        tree_entries(root)
