"""Prints the closing lines of a CI test run: `N passed, N failed` over the JUnit reports Pants
wrote, then the line and branch coverage of the engine (per layer) and of the plugin, from
coverage.py's JSON report.

    python3 build-support/ci/summarize_reports.py <junit reports dir> [<coverage.json>]
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def test_counts(reports: Path) -> str:
    passed = failed = skipped = 0
    for report in reports.rglob("*.xml"):
        for case in ET.parse(report).getroot().iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")


def group_of(path: str) -> str:
    """src/python/hub/<layer>/x.py -> hub/<layer>; build-support/hub_plugin/x.py -> hub_plugin."""
    parts = Path(path).parts
    if "hub_plugin" in parts:
        return "hub_plugin (the Pants plugin)"
    if "hub" in parts:
        rest = parts[parts.index("hub") + 1 :]
        return f"hub/{rest[0]}" if len(rest) > 1 else "hub"
    return "other"


def coverage_lines(report: Path) -> list[str]:
    files = json.loads(report.read_text())["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # lines, covered, branches, covered
    for path, data in files.items():
        s = data["summary"]
        for key in (group_of(path), "total"):
            t = totals[key]
            t[0] += s["num_statements"]
            t[1] += s["covered_lines"]
            t[2] += s["num_branches"]
            t[3] += s["covered_branches"]

    def line(name: str, t: list[int]) -> str:
        lines = 100 * t[1] / t[0] if t[0] else 100.0
        branches = 100 * t[3] / t[2] if t[2] else 100.0
        both = 100 * (t[1] + t[3]) / (t[0] + t[2]) if t[0] + t[2] else 100.0
        return f"  {name:<32} lines {lines:5.1f} %  branches {branches:5.1f} %  together {both:5.1f} %"

    out = ["coverage (the engine's and the plugin's own tests, run in process):"]
    out += [line(name, totals[name]) for name in sorted(totals) if name != "total"]
    out.append(line("all", totals["total"]))
    return out


if __name__ == "__main__":
    print(test_counts(Path(sys.argv[1])))
    if len(sys.argv) > 2 and Path(sys.argv[2]).is_file():
        print("\n".join(coverage_lines(Path(sys.argv[2]))))
