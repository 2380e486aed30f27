"""The sandbox of an exporter's service: the strict settings every unit starts from, relaxed
only by the grants its manifest declares (``artifacts.<kind>.systemd.grants``).

An exporter reads metrics and answers HTTP: it needs no capability, no device, no write
outside its own directories, no clock, module, mount or raw-I/O system call and no socket
family beyond IP and Unix. Each relaxation a manifest grants carries its reason, which the
unit repeats above the setting it changes (docs/packaging.md, "Least privilege").

Settings newer than el8's systemd (239) are ignored there with a warning, never fatal; the
system-call filter is a deny-list of groups el8 already knows, so an older systemd filters
less, not everything. Scores: ``systemd-analyze security`` (docs/unit-exposure.md); older_systemd_test.py checks
that el8 ignores only the settings docs/packaging.md lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from hub.manifest.model import Grant

# Every unit, whatever its grants.
FIXED = (
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    # Implied at run time by the settings that give the service a mount namespace; written out
    # so that `systemd-analyze security --offline` of the file (docs/unit-exposure.md) scores
    # what the same command reports for the running unit on a host.
    ("PrivateMounts", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("RemoveIPC", "yes"),
    ("KeyringMode", "private"),
    ("UMask", "0077"),
    ("SystemCallArchitectures", "native"),
)
# System-call groups no exporter needs (systemd.exec(5), "System Call Filtering"); a refused
# call fails with EPERM instead of killing the service, so a collector that tries one logs an
# error and the others keep serving.
DENIED_CALLS = (
    "@clock",
    "@cpu-emulation",
    "@debug",
    "@module",
    "@mount",
    "@obsolete",
    "@privileged",
    "@raw-io",
    "@reboot",
    "@resources",
    "@swap",
)
ADDRESS_FAMILIES = ("AF_INET", "AF_INET6", "AF_UNIX")
# Calls of the @clock group: granting one turns ProtectClock= off, which filters them too.
CLOCK_CALLS = frozenset({"@clock", "adjtimex", "clock_adjtime", "clock_settime", "settimeofday", "stime"})
# What ProtectHome= hides; a read grant below one of them makes it read-only instead.
HOME_PATHS = ("/home", "/root", "/run/user")
# What PrivateTmp= replaces with the service's own; a read grant below one of them shares the
# host's instead (an exporter reading what another daemon leaves there).
TMP_PATHS = ("/tmp", "/var/tmp")


@dataclass(frozen=True)
class Setting:
    key: str
    value: str
    reasons: tuple[str, ...] = ()  # the grants that changed it, shown above it


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def sandbox(grants: Sequence[Grant], *, writable: Sequence[str]) -> list[Setting]:
    """The [Service] settings of the sandbox. ``writable`` are the service's own directories
    (its state and logs), the only places it may write; missing ones are ignored."""

    def of(kind: str) -> list[Grant]:
        return [g for g in grants if g.kind == kind]

    def why(items: Sequence[Grant]) -> tuple[str, ...]:
        return tuple(f"{g.value}: {g.reason}" for g in items)

    caps, devices, calls = of("capability"), of("device"), of("system_call")
    homes = [g for g in of("read_path") if _under(g.value, HOME_PATHS)]
    tmps = [g for g in of("read_path") if _under(g.value, TMP_PATHS)]
    families, proc = of("address_family"), of("proc")
    clock = [g for g in calls if g.value in CLOCK_CALLS]
    cap_names = " ".join(g.value for g in caps)
    out = [Setting(k, v) for k, v in FIXED]
    out.append(Setting("CapabilityBoundingSet", cap_names, why(caps)))
    if caps:
        out.append(Setting("AmbientCapabilities", cap_names))
    out.append(Setting("ProtectHome", "read-only" if homes else "yes", why(homes)))
    out.append(Setting("PrivateTmp", "no" if tmps else "yes", why(tmps)))
    out.append(Setting("PrivateDevices", "no" if devices else "yes", why(devices)))
    if devices:
        out.append(Setting("DevicePolicy", "closed"))
        out += [Setting("DeviceAllow", f"{g.value} {g.access}") for g in devices]
    out.append(Setting("ProtectClock", "no" if clock else "yes", why(clock)))
    out.append(Setting("ProtectProc", "default" if proc else "invisible", why(proc)))
    out.append(
        Setting("RestrictAddressFamilies", " ".join([*ADDRESS_FAMILIES, *(g.value for g in families)]), why(families))
    )
    out.append(Setting("SystemCallFilter", "~" + " ".join(DENIED_CALLS)))
    if calls:
        # A later list without "~" takes its calls out of the deny-list (systemd.exec(5)).
        out.append(Setting("SystemCallFilter", " ".join(g.value for g in calls), why(calls)))
    out.append(Setting("SystemCallErrorNumber", "EPERM"))
    paths = [*writable, *(g.value for g in of("write_path"))]
    if paths:
        out.append(Setting("ReadWritePaths", " ".join(f"-{p}" for p in dict.fromkeys(paths)), why(of("write_path"))))
    return out
