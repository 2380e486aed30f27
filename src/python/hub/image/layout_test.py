"""The blob store: blobs named by their digest, written whole, verified when read or copied."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.image.layout import OCI_CONFIG, Layout, canonical_json


def new_layout(root: Path) -> Layout:
    layout = Layout(root)
    layout.init()
    return layout


def blob_files(layout: Layout) -> list[str]:
    """Every file of the blob directory, temporary ones included."""
    return sorted(p.name for p in (layout.root / "blobs" / "sha256").iterdir())


def test_put_names_a_blob_by_its_digest(tmp_path: Path) -> None:
    layout = new_layout(tmp_path / "layout")
    digest, size = layout.put(b"hello")
    assert (digest, size) == ("sha256:" + hashlib.sha256(b"hello").hexdigest(), 5)
    path = layout.blob_path(digest)
    assert path.read_bytes() == b"hello" and path.stat().st_mode & 0o777 == 0o644
    assert layout.put(b"hello") == (digest, size)  # already there: kept
    assert blob_files(layout) == [digest.split(":")[1]]
    desc = layout.put_json(OCI_CONFIG, {"b": 1, "a": "é"})
    assert layout.read(desc["digest"]) == canonical_json({"a": "é", "b": 1}) == '{"a":"é","b":1}'.encode()
    assert desc == {"mediaType": OCI_CONFIG, "digest": desc["digest"], "size": len('{"a":"é","b":1}'.encode())}


def test_read_checks_the_digest(tmp_path: Path) -> None:
    layout = new_layout(tmp_path / "layout")
    digest, _ = layout.put(b"data")
    layout.blob_path(digest).write_bytes(b"tampered")
    with pytest.raises(HubError, match="does not match its digest"):
        layout.read(digest)
    with pytest.raises(HubError, match="is missing"):
        layout.read("sha256:" + "0" * 64)
    with pytest.raises(HubError, match="unsupported digest"):
        layout.read("md5:abc")


def test_copy_blob_from_verifies_and_leaves_nothing_behind(tmp_path: Path) -> None:
    src = new_layout(tmp_path / "src")
    dest = new_layout(tmp_path / "dest")
    digest, size = src.put(b"x" * 3000000)  # several chunks
    assert dest.copy_blob_from(src, digest) == size
    assert dest.read(digest, limit=size) == b"x" * 3000000
    assert blob_files(dest) == [digest.split(":")[1]]

    corrupt, _ = src.put(b"good")
    src.blob_path(corrupt).write_bytes(b"evil")
    with pytest.raises(HubError, match="does not match its digest"):
        dest.copy_blob_from(src, corrupt)
    with pytest.raises(HubError, match="cannot copy blob"):
        dest.copy_blob_from(src, "sha256:" + "1" * 64)
    assert blob_files(dest) == [digest.split(":")[1]]  # no blob, no temporary file


def test_index(tmp_path: Path) -> None:
    layout = new_layout(tmp_path / "layout")
    with pytest.raises(HubError, match="not an OCI image layout"):
        layout.index()
    layout.write_index([{"digest": "sha256:" + "2" * 64}])
    assert layout.index()["manifests"] == [{"digest": "sha256:" + "2" * 64}]
