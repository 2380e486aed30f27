"""hub.repos.deb_control: the control fields of .debs built by dpkg-deb with every control
member compression (xz, zstd, none, gzip), and clear errors for what is not a .deb."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from testkit.packages import SOURCE_DATE

from hub.common.errors import HubError
from hub.repos.deb_control import parse_control, read_control


def test_reads_xz_zstd_and_uncompressed_control_members(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share/doc/zz").mkdir(parents=True)
    (root / "usr/share/doc/zz/README").write_text("hi\n")
    (root / "DEBIAN/control").write_text(
        "Package: zz-test\nVersion: 2:1.0-3+deb13\nArchitecture: all\nMaintainer: T <t@example.org>\n"
        "Description: test\n multi\n .\n line\n"
    )
    for comp in ("xz", "zstd", "none", "gzip"):
        out = tmp_path / f"zz-{comp}.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", f"-Z{comp}", "--build", str(root), str(out)],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE)},
        )
        fields, mtime = read_control(out)
        assert [name for name, _ in fields] == ["Package", "Version", "Architecture", "Maintainer", "Description"], comp
        control = dict(fields)
        assert (control["Package"], control["Version"], control["Architecture"]) == (
            "zz-test",
            "2:1.0-3+deb13",
            "all",
        ), comp
        assert control["Description"] == "test\n multi\n .\n line", comp
        assert mtime == SOURCE_DATE, comp


def test_refuses_what_is_not_a_deb(tmp_path: Path) -> None:
    bad = tmp_path / "x.deb"
    bad.write_bytes(b"!<arch>\nnothing")
    with pytest.raises(HubError, match="x.deb"):
        read_control(bad)
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(HubError, match="not a .deb"):
        read_control(bad)


def test_parse_control_keeps_continuations_and_refuses_garbage() -> None:
    assert parse_control("\nA: 1\nB:\n two\n\nC: 3\n", "x") == [("A", "1"), ("B", "\n two")]
    with pytest.raises(HubError, match="a continuation line before any field"):
        parse_control(" orphan\n", "x")
    with pytest.raises(HubError, match="not a field"):
        parse_control("no colon here\n", "x")
    with pytest.raises(HubError, match="no fields"):
        parse_control("\n\n", "x")
