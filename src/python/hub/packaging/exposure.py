"""How exposed each exporter's service is: ``systemd-analyze security`` over every unit we
package, and the page that lists them (docs/unit-exposure.md, kept current by a test).

Scores come from the systemd that scores them (Debian 12's 252 for the page): other versions
weigh settings differently. ``--offline`` scores a unit file without running it, from a
directory laid out like the root of a host.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hub.common.errors import HubError
from hub.packaging.plan import service_unit

REGENERATE = "hub exposure-doc exporters > docs/unit-exposure.md"
# The goal for an exporter that needs no capability, no device and no write outside its
# own directories (reading /proc and /sys counts as such).
GOAL = 3.0
_OVERALL = re.compile(r"Overall exposure level for \S+: ([0-9]+\.[0-9]+) (\S+)")


@dataclass(frozen=True)
class Exposure:
    exporter: str
    user: str
    score: float
    label: str  # OK, MEDIUM, EXPOSED, UNSAFE
    grants: tuple[str, ...]  # "CAP_NET_RAW: reason"

    @property
    def needs_privilege(self) -> bool:
        """A capability, a device or a write outside its own directories: the 3.0 goal does
        not apply, each relaxation being justified in the manifest."""
        return self.user == "root" or any(g.startswith(("capability ", "device ", "write path ")) for g in self.grants)


def score(unit_name: str, unit_text: bytes, *, systemd_analyze: str = "systemd-analyze") -> tuple[float, str]:
    """(exposure, label) of one unit file."""
    with tempfile.TemporaryDirectory(prefix="hub-exposure-") as root:
        path = Path(root, "usr/lib/systemd/system", unit_name)
        path.parent.mkdir(parents=True)
        path.write_bytes(unit_text)
        try:
            result = subprocess.run(
                [systemd_analyze, "security", "--offline=true", f"--root={root}", "--no-pager", unit_name],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as e:
            raise HubError(f"cannot run {systemd_analyze}: {e.strerror or e}") from None
    found = _OVERALL.search(result.stdout + result.stderr)
    if found is None:
        raise HubError(f"{unit_name}: systemd-analyze security gave no score:\n{result.stdout}{result.stderr}")
    return float(found.group(1)), found.group(2)


def exposures(manifests: Sequence[Any]) -> list[Exposure]:
    """Each exporter's service, as its DEB for Debian 12 installs it (the RPM's unit differs
    only by its environment file)."""
    out = []
    for m in manifests:
        spec = m.deb or m.rpm
        if spec is None or not spec.systemd.enabled:
            continue
        kind = "deb" if m.deb is not None else "rpm"
        unit = service_unit(m, kind, spec.targets[0])
        if unit is None or unit.content is None:
            continue
        value, label = score(f"{m.name}.service", unit.content)
        grants = tuple(f"{g.kind.replace('_', ' ')} {g.value}: {g.reason}" for g in spec.systemd.grants)
        out.append(Exposure(m.name, spec.system_user, value, label, grants))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(rows: Sequence[Exposure], systemd_version: str) -> str:
    lines = [
        "# Exposure of every exporter's service",
        "",
        f"<!-- Generated: `{REGENERATE}`. Do not edit; a test keeps it current. -->",
        "",
        f"`systemd-analyze security` of each packaged unit, scored by {systemd_version} (lower is",
        "safer: 0–2 OK, 2–5 MEDIUM, 5–7 EXPOSED, above UNSAFE). Every unit starts from the same",
        'strict sandbox (docs/packaging.md, "Least privilege"); the grants are what its manifest',
        "opens, each with its reason. An exporter that needs no capability, no device and no write",
        f"outside its own directories must score at most {GOAL}.",
        "",
        "| exporter | runs as | exposure | grants |",
        "|---|---|---|---|",
    ]
    for r in rows:
        grants = "<br>".join(_cell(g) for g in r.grants) or "none"
        lines.append(f"| {r.exporter} | `{r.user}` | {r.score:.1f} {r.label} | {grants} |")
    return "\n".join(lines) + "\n"


def systemd_version(systemd_analyze: str = "systemd-analyze") -> str:
    out = subprocess.run([systemd_analyze, "--version"], capture_output=True, text=True, check=False).stdout
    first = out.splitlines()[0] if out else "systemd (unknown version)"
    return re.sub(r" \(.*\)$", "", first)
