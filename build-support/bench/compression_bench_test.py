"""The compression benchmark's report, from made-up numbers: the sweep's byte-identical levels
are grouped into encoder speeds, and the whole-exporter choices sum each package's size and CPU
(no nfpm run, no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import compression_bench as cb


def package(arch: str, kind: str, dist: str, sizes: dict[str, int]) -> cb.Package:
    p = cb.Package(arch, kind, dist, Path("/nonexistent"), {}, 0)
    for setting in cb.SETTINGS:
        p.size[setting] = sizes.get(setting, 1000)
        p.cpu[setting] = [1.0, 2.0, 3.0]
    return p


def test_what_each_setting_really_does() -> None:
    assert cb.what_it_does("deb", "zstd:19") == cb.what_it_does("deb", "zstd:10") == "klauspost zstd 'best'"
    assert cb.what_it_does("rpm", "zstd:6") == "klauspost zstd 'better'"
    assert cb.what_it_does("rpm", "zstd:5") == "klauspost zstd 'default'"
    assert cb.what_it_does("rpm", "zstd:2") == "klauspost zstd 'fastest'"
    assert cb.what_it_does("deb", "gzip") == "Go compress/gzip level 9"


def test_report_groups_identical_levels_and_sums_choices() -> None:
    packages = [
        package("amd64", "rpm", "el8", {"xz": 100, "zstd:6": 106, "zstd:19": 99}),
        package("amd64", "rpm", "el9", {"zstd:6": 106, "zstd:19": 100}),
        package("amd64", "deb", "debian-12", {"zstd:6": 106, "zstd:19": 100}),
    ]
    sweep = {("rpm", "el9"): {level: ("a" if level < 10 else "b", 100) for level in range(1, 23)}}
    text = cb.report(packages, sweep, [("dpkg-deb", [5.0], 90)], 3, ["1.0", "2.0"], "/bin/true")
    assert "| rpm el9 (amd64) | zstd:1–9 |" in text and "| rpm el9 (amd64) | zstd:10–22 |" in text
    # today = 100 + 100 + 100; RPMs at zstd:6 and DEBs at zstd:19 = 106 + 106 + 100
    assert "| RPMs zstd:6, DEBs zstd:19 | 312 | +4.00 % | 6.0 s |" in text
