"""hub.repos.rpm_version: the same order as rpm's own rpm.vercmp."""

from __future__ import annotations

import subprocess

from hub.repos.rpm_version import evr, evr_cmp, rpmvercmp

VERSIONS = [
    ("1.0", "1.0"),
    ("1.0", "2.0"),
    ("2.0.1", "2.0"),
    ("1.10", "1.9"),
    ("1.0a", "1.0"),
    ("1.0", "1.0.a"),
    ("1.0~rc1", "1.0"),
    ("1.0~rc1", "1.0~rc2"),
    ("1.0^git1", "1.0"),
    ("1.0^git1", "1.0.1"),
    ("001", "1"),
    ("a", "1"),
    ("1.el9", "1.el10"),
    ("2.el8", "10.el8"),
    ("1_0", "1.0"),
    ("alpha", "beta"),
    ("1.0.0", "1.0"),
]


def test_rpmvercmp_agrees_with_rpm_itself() -> None:
    script = " ".join(f'print(rpm.vercmp("{a}", "{b}")) print(" ")' for a, b in VERSIONS)
    out = subprocess.run(
        ["rpm", "--eval", f"%{{lua: {script}}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    expected = [int(x) for x in out]
    assert [rpmvercmp(a, b) for a, b in VERSIONS] == expected
    assert [rpmvercmp(b, a) for a, b in VERSIONS] == [-x for x in expected]


def test_evr_strings_compare_epoch_first() -> None:
    assert evr({"version": "1.0", "release": "1.el9"}) == "0:1.0-1.el9"
    assert evr({"epoch": "2", "version": "0.1", "release": "1"}) == "2:0.1-1"
    assert evr_cmp("1:0.1-1", "0:9.0-1") == 1
    assert evr_cmp("0:1.10-1", "0:1.9-1") == 1
    assert evr_cmp("0:1.0-2.el9", "0:1.0-10.el9") == -1
    assert evr_cmp("0:1.0-1", "0:1.0-1") == 0
