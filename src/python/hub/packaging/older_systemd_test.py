"""Every unit we ship loads on el8's systemd (239): each directive it uses is one 239 knows, or
one docs/packaging.md lists as ignored there ("Older systemd").

No EL systemd can run on these machines (no EL package can be downloaded), so this is a check
against systemd's own record of when each setting appeared (NEWS, systemd.exec(5) "Added in
version N"), not a run. systemd ignores a directive it does not know with a warning and loads
the rest of the unit; a value it does not know (``ProtectHome=tmpfs`` before 242) is the same
kind of warning but leaves the setting at its default, which is why values are checked too.
"""

from __future__ import annotations

import re
from pathlib import Path

from hub.manifest.exporters_doc import load_exporters
from hub.packaging.plan import service_unit
from hub.packaging.sandbox import DENIED_CALLS

REPO_ROOT = Path(__file__).resolve().parents[4]
EL8_SYSTEMD = 239
# The systemd version that introduced each directive our units use (systemd NEWS).
DIRECTIVE_SINCE = {
    "Description": 1,
    "Documentation": 187,
    "After": 1,
    "Wants": 1,
    "WantedBy": 1,
    "Type": 1,
    "User": 1,
    "Group": 1,
    "EnvironmentFile": 1,
    "ExecStart": 1,
    "Restart": 1,
    "RestartSec": 1,
    "UMask": 1,
    "CapabilityBoundingSet": 1,
    "PrivateTmp": 1,
    "DevicePolicy": 1,
    "DeviceAllow": 1,
    "NoNewPrivileges": 187,
    "SystemCallFilter": 187,
    "SystemCallErrorNumber": 209,
    "SystemCallArchitectures": 209,
    "PrivateDevices": 209,
    "RestrictAddressFamilies": 211,
    "ProtectSystem": 214,
    "ProtectHome": 214,
    "AmbientCapabilities": 229,
    "MemoryDenyWriteExecute": 231,
    "RestrictRealtime": 231,
    "ReadWritePaths": 231,
    "ProtectKernelTunables": 232,
    "ProtectKernelModules": 232,
    "ProtectControlGroups": 232,
    "RemoveIPC": 232,
    "RestrictNamespaces": 233,
    "LockPersonality": 235,
    "KeyringMode": 235,
    "PrivateMounts": 239,
    "ProtectHostname": 242,
    "RestrictSUIDSGID": 242,
    "ProtectKernelLogs": 244,
    "ProtectClock": 245,
    "ProtectProc": 247,
}
# Values newer than their directive.
VALUE_SINCE = {("ProtectSystem", "strict"): 232, ("ProtectHome", "tmpfs"): 242, ("ProtectProc", "invisible"): 247}
# System-call groups 239 knows (systemd 239's systemd.exec(5), "System Call Filtering").
GROUPS_IN_239 = {
    "@aio", "@basic-io", "@chown", "@clock", "@cpu-emulation", "@debug", "@file-system",
    "@io-event", "@ipc", "@keyring", "@module", "@mount", "@network-io", "@obsolete",
    "@privileged", "@process", "@raw-io", "@reboot", "@resources", "@setuid", "@signal",
    "@swap", "@sync", "@system-service", "@timer",
}  # fmt: skip


def units() -> dict[str, str]:
    """Every unit of every package target, by "<exporter> <kind> <dist>"."""
    out = {}
    for m in load_exporters(REPO_ROOT / "exporters"):
        for kind, spec in (("rpm", m.rpm), ("deb", m.deb)):
            if spec is None or not spec.systemd.enabled:
                continue
            for dist in spec.targets:
                unit = service_unit(m, kind, dist)
                if unit is not None and unit.content is not None:
                    out[f"{m.name} {kind} {dist}"] = unit.content.decode()
    return out


def settings(text: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (line.partition("=") for line in text.splitlines()) if re.fullmatch(r"[A-Za-z]+", k)]


def documented_as_ignored() -> set[str]:
    """The directives docs/packaging.md says 239 ignores."""
    text = (REPO_ROOT / "docs" / "packaging.md").read_text()
    paragraph = text[text.index("**Older systemd.**") :].split("\n\n", 1)[0]
    return set(re.findall(r"`(\w+)=`", paragraph))


def test_every_directive_is_dated() -> None:
    unknown = {k for text in units().values() for k, _ in settings(text)} - DIRECTIVE_SINCE.keys()
    assert not unknown, f"add these to DIRECTIVE_SINCE, with the systemd version that added them: {unknown}"


def test_what_el8_ignores_is_what_the_docs_say() -> None:
    all_units = units()
    assert any(" el8" in key for key in all_units), "no el8 package: the check would prove nothing"
    newer = {k for text in all_units.values() for k, _ in settings(text) if DIRECTIVE_SINCE[k] > EL8_SYSTEMD}
    assert newer == documented_as_ignored()


def test_no_value_el8_misreads() -> None:
    """A value 239 does not know would leave its setting at the default: only directives it
    ignores altogether may carry one."""
    ignored = documented_as_ignored()
    for key, text in units().items():
        for k, v in settings(text):
            if k not in ignored:
                assert VALUE_SINCE.get((k, v), 0) <= EL8_SYSTEMD, f"{key}: {k}={v}"


def test_every_filtered_group_is_known_to_el8() -> None:
    assert set(DENIED_CALLS) <= GROUPS_IN_239
    for key, text in units().items():
        for k, v in settings(text):
            if k == "SystemCallFilter":
                groups = {w for w in v.lstrip("~").split() if w.startswith("@")}
                assert groups <= GROUPS_IN_239, f"{key}: {groups - GROUPS_IN_239}"
