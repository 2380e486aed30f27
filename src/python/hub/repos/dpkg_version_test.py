"""hub.repos.dpkg_version: the same order as `dpkg --compare-versions`."""

from __future__ import annotations

import subprocess

from hub.repos.dpkg_version import dpkg_vercmp

VERSIONS = [
    ("1.0", "1.0"),
    ("1.0", "1.1"),
    ("1.10", "1.9"),
    ("1.0~rc1", "1.0"),
    ("1.0~~", "1.0~"),
    ("1.0-1", "1.0-1+deb12"),
    ("1:0.1", "2.0"),
    ("1.0a", "1.0+"),
    ("1.0.0", "1.0"),
    ("1.0-1+deb12", "1.0-1+deb13"),
    ("2.0-1+ubuntu22.04", "2.0-1+ubuntu24.04"),
    ("1.0-1", "1.0-10"),
    ("0001", "1"),
    ("1.0+b1", "1.0"),
    ("a", "B"),
    ("1.0.", "1.0"),
]


def test_dpkg_vercmp_agrees_with_dpkg() -> None:
    for a, b in VERSIONS:
        expected = 0
        for op, value in (("lt", -1), ("gt", 1)):
            if subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0:
                expected = value
        assert dpkg_vercmp(a, b) == expected, (a, b)
        assert dpkg_vercmp(b, a) == -expected, (b, a)
