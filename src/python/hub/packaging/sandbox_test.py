"""hub.packaging.sandbox: the strict default, and what each kind of grant opens, with its reason."""

from __future__ import annotations

from hub.manifest.model import Grant
from hub.packaging.sandbox import DENIED_CALLS, FIXED, sandbox


def settings(grants: list[Grant], writable: tuple[str, ...] = ()) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in sandbox(grants, writable=writable):
        out.setdefault(s.key, []).append(s.value)
    return out


def test_the_default_is_strict() -> None:
    s = settings([])
    assert all(s[k] == [v] for k, v in FIXED)
    assert s["CapabilityBoundingSet"] == [""] and "AmbientCapabilities" not in s
    assert s["ProtectHome"] == ["yes"] and s["PrivateTmp"] == ["yes"] and s["PrivateDevices"] == ["yes"]
    assert s["ProtectClock"] == ["yes"] and s["ProtectProc"] == ["invisible"]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert s["SystemCallFilter"] == ["~" + " ".join(DENIED_CALLS)] and s["SystemCallErrorNumber"] == ["EPERM"]
    assert "ReadWritePaths" not in s and "DeviceAllow" not in s
    # Explicit, though implied at run time: the offline score of the page is the running one.
    assert s["PrivateMounts"] == ["yes"]


def test_each_grant_opens_only_its_setting() -> None:
    grants = [
        Grant("capability", "CAP_NET_RAW", "icmp"),
        Grant("device", "/dev/ipmi0", "bmc", "rw"),
        Grant("read_path", "/home", "filesystem"),
        Grant("read_path", "/tmp/x", "stats"),
        Grant("address_family", "AF_NETLINK", "netdev"),
        Grant("system_call", "adjtimex", "timex"),
        Grant("proc", "all", "processes"),
        Grant("write_path", "/var/lib/x/spool", "spool"),
    ]
    s = settings(grants, writable=("/var/lib/x",))
    assert s["CapabilityBoundingSet"] == ["CAP_NET_RAW"] and s["AmbientCapabilities"] == ["CAP_NET_RAW"]
    assert s["PrivateDevices"] == ["no"] and s["DevicePolicy"] == ["closed"] and s["DeviceAllow"] == ["/dev/ipmi0 rw"]
    assert s["ProtectHome"] == ["read-only"] and s["PrivateTmp"] == ["no"]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX AF_NETLINK"]
    assert s["ProtectClock"] == ["no"], "ProtectClock filters the clock calls itself"
    assert s["SystemCallFilter"] == ["~" + " ".join(DENIED_CALLS), "adjtimex"]
    assert s["ProtectProc"] == ["default"]
    assert s["ReadWritePaths"] == ["-/var/lib/x -/var/lib/x/spool"]
    reasons = {r for x in sandbox(grants, writable=()) for r in x.reasons}
    assert "CAP_NET_RAW: icmp" in reasons and "adjtimex: timex" in reasons and "all: processes" in reasons


def test_a_call_outside_the_clock_group_keeps_protect_clock() -> None:
    s = settings([Grant("system_call", "bpf", "programs")])
    assert s["ProtectClock"] == ["yes"] and s["SystemCallFilter"][-1] == "bpf"


def test_alertmanager_may_read_the_interfaces_its_gossip_advertises() -> None:
    """Alertmanager's clustering is on by default and looks up the private address it
    advertises from the host's interfaces over rtnetlink; without AF_NETLINK it exits with
    "unable to initialize gossip mesh" (seen under systemd by tests/e2e/site_test.py)."""
    from pathlib import Path

    from hub.manifest.load import load_manifest
    from hub.packaging.plan import service_unit

    repo = Path(__file__).resolve().parents[4]
    manifest = load_manifest(repo / "exporters" / "alertmanager" / "manifest.yaml")
    for kind, spec in (("rpm", manifest.rpm), ("deb", manifest.deb)):
        unit = service_unit(manifest, kind, spec.targets[0]).content.decode()
        grant = next(g for g in spec.systemd.grants if g.kind == "address_family")
        assert f"# AF_NETLINK: {grant.reason}\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n" in unit
