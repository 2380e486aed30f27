"""docs/unit-exposure.md is what this machine's systemd-analyze says of every unit we ship,
and every exporter that needs no privilege meets the goal.

The scores are systemd 252's (Debian 12's, which build-support/ci/install-tools.sh installs):
another version weighs the settings differently, so the page names the one that scored it and
the comparison insists on it rather than skipping.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.manifest.exporters_doc import load_exporters
from hub.packaging import exposure
from hub.packaging.exposure import Exposure

REPO_ROOT = Path(__file__).resolve().parents[4]
PAGE = REPO_ROOT / "docs" / "unit-exposure.md"
SCORING_SYSTEMD = "systemd 252"


def test_render_lists_grants_and_escapes_cells() -> None:
    rows = [
        Exposure("a_exporter", "a_exporter", 1.4, "OK", ()),
        Exposure("b_exporter", "prometheus", 1.6, "OK", ("capability CAP_NET_RAW: pings|probes", "proc all: reads")),
    ]
    page = exposure.render(rows, "systemd 252")
    assert "scored by systemd 252" in page
    assert "| a_exporter | `a_exporter` | 1.4 OK | none |" in page
    assert "| b_exporter | `prometheus` | 1.6 OK | capability CAP_NET_RAW: pings\\|probes<br>proc all: reads |" in page


@pytest.mark.parametrize(
    "user, grants, needs",
    [
        ("x", (), False),
        ("x", ("read path /home: df", "address family AF_NETLINK: netdev", "proc all: ps"), False),
        ("x", ("capability CAP_NET_RAW: icmp",), True),
        ("x", ("device /dev/ipmi0: ipmi",), True),
        ("x", ("write path /run/foo: socket",), True),
        ("root", (), True),
    ],
)
def test_needs_privilege(user: str, grants: tuple[str, ...], needs: bool) -> None:
    assert Exposure("e", user, 1.0, "OK", grants).needs_privilege is needs


def test_score_of_a_unit_and_a_missing_tool(tmp_path: Path) -> None:
    value, label = exposure.score("bare.service", b"[Service]\nExecStart=/bin/true\n")
    assert value > 9 and label == "UNSAFE"  # no sandbox at all, as root
    with pytest.raises(HubError, match="cannot run .*nope"):
        exposure.score("bare.service", b"", systemd_analyze=str(tmp_path / "nope"))


def test_docs_unit_exposure_md_is_current() -> None:
    version = exposure.systemd_version()
    assert version == SCORING_SYSTEMD, (
        f"the page is scored by {SCORING_SYSTEMD} (Debian 12), this machine has {version}: "
        "run the tests on Debian 12 with build-support/ci/install-tools.sh"
    )
    expected = exposure.render(exposure.exposures(load_exporters(str(REPO_ROOT / "exporters"))), version)
    assert PAGE.read_text(encoding="utf-8") == expected, f"docs/unit-exposure.md is stale: {exposure.REGENERATE}"


def test_every_unprivileged_exporter_meets_the_goal() -> None:
    rows = re.findall(r"^\| (\S+) \| `(\S+)` \| ([0-9.]+) \w+ \| (.*) \|$", PAGE.read_text(encoding="utf-8"), re.M)
    assert len(rows) == 34
    for name, user, score, grants in rows:
        row = Exposure(name, user, float(score), "", tuple(g for g in grants.split("<br>") if g != "none"))
        if not row.needs_privilege:
            assert row.score <= exposure.GOAL, f"{name}: {row.score} > {exposure.GOAL} without any privilege"
