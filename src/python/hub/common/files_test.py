"""hub.common.files: the one atomic write (modes, checks, streams, failures leave nothing)."""

import json
import os
import stat
from pathlib import Path

import pytest

from hub.common import files


def test_write_json_atomic(tmp_path: Path) -> None:
    path = tmp_path / "catalog" / "x" / "rpm_amd64_el9.json"
    files.write_json(path, {"b": 1, "a": [1, 2]})
    assert path.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    files.write_json(path, {"a": "é"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "é"}
    assert [p.name for p in path.parent.iterdir()] == ["rpm_amd64_el9.json"]  # no temporary left


def test_write_json_atomic_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    files.write_json(path, {"old": True})
    with pytest.raises(TypeError):
        files.write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_keep_mode_keeps_the_replaced_file_s_bits(tmp_path: Path) -> None:
    path = tmp_path / "secret.cnf"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    files.write_atomic(path, b"new", mode=files.KEEP_MODE)
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = files.write_atomic(tmp_path / "fresh", b"x", mode=files.KEEP_MODE)
    assert stat.S_IMODE(fresh.stat().st_mode) == files.DEFAULT_MODE


def test_a_failed_check_leaves_the_target_untouched(tmp_path: Path) -> None:
    path = tmp_path / "Release"
    path.write_bytes(b"old")
    seen: list[bytes] = []

    def refuse(tmp: Path) -> None:
        seen.append(tmp.read_bytes())
        raise ValueError("bad signature")

    with pytest.raises(ValueError, match="bad signature"):
        files.write_atomic(path, b"new", check=refuse)
    assert seen == [b"new"] and path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Release"]


def test_atomic_output_streams_and_cleans_up_on_error(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "big.tar"
    with files.atomic_output(path, durable=True) as f:
        f.write(b"a" * 10)
        assert not path.exists()  # nothing visible before the rename
    assert path.read_bytes() == b"a" * 10
    with pytest.raises(RuntimeError):
        with files.atomic_output(path) as f:
            f.write(b"partial")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"a" * 10
    assert sorted(p.name for p in path.parent.iterdir()) == ["big.tar"]


def test_concurrent_writers_get_distinct_temporary_names(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    with files.atomic_output(path) as one, files.atomic_output(path) as two:
        assert one.name != two.name
        one.write(b"1")
        two.write(b"2")
    assert path.read_bytes() in (b"1", b"2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]


def test_fsync_tree_counts_files_and_directories_but_not_links(tmp_path: Path) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/b/one").write_bytes(b"1")
    (tmp_path / "two").write_bytes(b"2")
    (tmp_path / "link").symlink_to("two")
    assert files.fsync_tree(tmp_path) == 5  # two files; tmp_path, a, a/b


def test_link_or_copy_links_on_one_file_system(tmp_path: Path) -> None:
    src = tmp_path / "pool.deb"
    src.write_bytes(b"deb")
    files.link_or_copy(src, tmp_path / "site/pool/main/x/x.deb")
    assert (tmp_path / "site/pool/main/x/x.deb").read_bytes() == b"deb" and src.stat().st_nlink == 2
