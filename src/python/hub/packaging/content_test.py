"""hub.packaging.content: versions and relations in each family's syntax, and the maintainer
scripts, which are also *run*, with every system command replaced by a stub that logs its
arguments, for each way rpm and dpkg call them (install, upgrade, removal, purge)."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import pytest
from testkit.packaging import MANIFEST, plan, write_exporter

from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.packaging import content
from hub.packaging.plan import PackagePlan


# --- versions and relations ------------------------------------------------------------------


@pytest.mark.parametrize(
    "clean, expected",
    [
        ("1.11.0", "1.11.0"),
        ("0.19.0-rc.1", "0.19.0~rc.1"),
        ("1.0.0-rc-1", "1.0.0~rc.1"),
        ("2.0.0+build.5", "2.0.0+build.5"),
        ("2.0.0-beta.2+exp.sha.5114f85", "2.0.0~beta.2+exp.sha.5114f85"),
    ],
)
def test_package_version(clean: str, expected: str) -> None:
    assert content.package_version(clean) == expected


@pytest.mark.parametrize(
    "text, rpm, deb",
    [
        ("libcap2", "libcap2", "libcap2"),
        ("libcap2 (>= 1:2.25)", "libcap2 >= 1:2.25", "libcap2 (>= 1:2.25)"),
        ("libcap >= 2.25", "libcap >= 2.25", "libcap (>= 2.25)"),
        ("foo (<< 2)", "foo < 2", "foo (<< 2)"),
        ("foo > 2", "foo > 2", "foo (>> 2)"),
    ],
)
def test_relations(text: str, rpm: str, deb: str) -> None:
    assert content.relation(text, "rpm") == rpm
    assert content.relation(text, "deb") == deb


def test_deb_relation_names_follow_policy() -> None:
    with pytest.raises(HubError, match="Policy 5.6.1"):
        content.relation("Foo_Bar", "deb")
    assert content.relation("Foo_Bar", "rpm") == "Foo_Bar"


# --- maintainer scripts ----------------------------------------------------------------------


def scripts_of(p: PackagePlan) -> dict[str, str]:
    return dict(p.scripts)


@pytest.mark.parametrize("kind, dist", [("rpm", "el8"), ("rpm", "el9"), ("deb", "debian-12"), ("deb", "ubuntu-22.04")])
def test_scripts_parse(manifest: Any, tmp_path: Path, kind: str, dist: str) -> None:
    for key, text in scripts_of(plan(manifest, kind, dist)).items():
        assert text.startswith("#!/bin/sh\n")
        assert "\nset -e\n" in text
        assert text.rstrip().endswith("exit 0")
        path = tmp_path / key
        path.write_text(text)
        for shell in ("sh", "dash", "bash"):
            if subprocess.run(["which", shell], capture_output=True).returncode == 0:
                result = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
                assert result.returncode == 0, (shell, key, result.stderr)


HOSTILE = {
    "package": "pkg",
    "arch": "amd64",
    "user": "svc user$(id)",
    "home": "/var/lib/svc user",
    "comment": 'it\'s a "service" `id`',
    "nologin": "/sbin/nologin",
    "unit": "my unit;reboot.service",
    "sysusers_path": "/usr/lib/sysusers.d/p$(x).conf",
    "sysusers_line": 'u svc - "a `b`" /var/lib/svc /sbin/nologin',
    "tmpfiles_path": "/usr/lib/tmpfiles.d/p;x.conf",
    "tmpfiles_override": "/etc/tmpfiles.d/p;x.conf",
    "owned": [
        ("/var/lib/a b;c", "d", "d /var/lib/a b;c 0750 svc svc -", ""),
        ("/var/lib/a b;c/.conf", "C", "C /var/lib/a b;c/.conf 0600 svc svc - /usr/share/$(x)", " /usr/share/$(x)"),
    ],
    "seeded": ["/var/lib/a b;c/.conf"],
    "service_dirs": ["/var/lib/a b;c"],
    "unit_path": "/usr/lib/systemd/system/my unit;reboot.service",
    "env_file": "/etc/default/p$(x)",
    "binary": "/usr/bin/b`id`",
    "port": 9100,
    "carried_defaults": ["/etc/default/d;x"],
    "packaged_flags": [("config.file", "/etc/a b/$(x).yml")],
    "old_unit": "old unit$(x).service",
}


@pytest.mark.parametrize("family", ["rpm", "deb"])
def test_every_interpolated_value_is_shell_quoted(family: str, tmp_path: Path) -> None:
    rendered = content.maintainer_scripts(family, HOSTILE)
    joined = "\n".join(rendered.values())
    values = ["svc user$(id)", "my unit;reboot.service", "/usr/lib/sysusers.d/p$(x).conf", "/etc/default/p$(x)"]
    values += ["/usr/bin/b`id`"]
    if family == "deb":
        values += ["/var/lib/a b;c", "/var/lib/a b;c/.conf", "p;x.conf", "/etc/tmpfiles.d/p;x.conf"]
        values += ["d /var/lib/a b;c 0750 svc svc -", " /usr/share/$(x)", "pkg:amd64: /var/lib/a b;c"]
        values += ["/etc/default/d;x", "/etc/a b/$(x).yml", "old unit$(x).service"]
    else:
        values.append(HOSTILE["sysusers_line"])
    for value in values:
        assert shlex.quote(value) in joined, value
    for key, text in rendered.items():
        path = tmp_path / f"{family}-{key}"
        path.write_text(text)
        assert subprocess.run(["sh", "-n", str(path)]).returncode == 0


STUBS = (
    "getent",
    "groupadd",
    "useradd",
    "chown",
    "chmod",
    "install",
    "systemctl",
    "deb-systemd-helper",
    "deb-systemd-invoke",
    "systemd-sysusers",
    "systemd-tmpfiles",
    "dpkg-query",
    "dpkg-statoverride",
    "rm",
    "sleep",
    "journalctl",
    "ss",
    "timeout",
    "date",
    "stat",
)
# Commands the scripts need to really run for the test to see their effect.
REAL_TOOLS = ("mv", "readlink", "sed", "head", "tail", "cut", "grep", "awk", "mkdir", "rmdir", "md5sum")
# What no maintainer script may run on a path: the service user could have redirected it.
OWNERSHIP_CHANGES = ("chown", "chmod", "install", "cp", "mv", "ln")


def run_script(
    text: str,
    tmp_path: Path,
    *args: str,
    systemd_running: bool,
    helpers: bool = True,
    systemd_tools: bool = True,
    owners: Sequence[str] = (),
    statoverrides: dict[str, str] | None = None,
    active_state: str = "active",
    service_active_status: int = 3,
    outputs: dict[str, str] | None = None,
    paths: dict[str, Path] | None = None,
) -> list[list[str]]:
    """Runs a maintainer script with every command it may call replaced by a logging stub,
    and nothing else on PATH.

    `getent` finds nothing (a fresh system), `deb-systemd-helper was-enabled` says yes (as on
    a first installation), `dpkg-query --search PATH` prints `<owner>: PATH` for each of
    `owners` (dpkg's "pkg1, pkg2: /path" lines) and fails without any, and
    the "is systemd running" probe points at a directory that exists or not. Without
    `systemd_tools`, systemd-sysusers and systemd-tmpfiles are absent (a chroot).
    `dpkg-statoverride --list PATH` prints `statoverrides[PATH]` ("owner group mode"), and
    /etc/tmpfiles.d is `tmp_path/etc-tmpfiles.d`."""
    bin_dir = tmp_path / "stubs"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.jsonl"
    log.write_text("")
    logger = f"{shlex.quote(sys.executable)} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'"
    for name in REAL_TOOLS:
        real = bin_dir / name
        if not real.exists():
            real.symlink_to(shutil.which(name) or f"/usr/bin/{name}")
    overrides = tmp_path / "statoverrides"
    overrides.write_text("".join(f"{v} {k}\n" for k, v in (statoverrides or {}).items()))
    for name in STUBS:
        stub = bin_dir / name
        if (name.startswith("deb-systemd") and not helpers) or (name.startswith("systemd-") and not systemd_tools):
            stub.unlink(missing_ok=True)
            continue
        status = {"getent": 2, "dpkg-query": 0 if owners else 1}.get(name, 0)
        body = f'{logger} {name} "$@" >> {shlex.quote(str(log))}\n'
        if name in (outputs or {}):
            body += f"printf '%s\\n' {shlex.quote((outputs or {})[name])}\n"
        if name == "systemctl":  # nothing ran before; once started, a service stays active
            body += (
                f'case "$*" in *is-active*) exit {service_active_status};; '
                f'*"show -p ActiveState"*) echo {shlex.quote(active_state)};; esac\n'
            )
        if name == "dpkg-query":
            body += "".join(f'printf "%s: %s\\n" {shlex.quote(o)} "$2"\n' for o in owners)
        if name == "dpkg-statoverride":  # the shell's own builtins only: PATH has the stubs
            body += f'while read -r o g m p; do [ "$p" = "$2" ] && echo "$o $g $m $p" && exit 0; done < {overrides}\n'
            status = 1
        stub.write_text(f"#!/bin/sh\n{body}exit {status}\n")
        stub.chmod(0o755)
    probe = tmp_path / "run-systemd-system"
    if systemd_running:
        probe.mkdir(exist_ok=True)
    elif probe.exists():
        probe.rmdir()
    etc_tmpfiles = tmp_path / "etc-tmpfiles.d"
    etc_tmpfiles.mkdir(exist_ok=True)
    path = tmp_path / "script"
    text = text.replace("/run/systemd/system", str(probe)).replace("/etc/tmpfiles.d", str(etc_tmpfiles))
    for real, fake in (paths or {}).items():
        text = text.replace(real, str(fake))
    path.write_text(text)
    subprocess.run(["/bin/sh", str(path), *args], check=True, env={"PATH": str(bin_dir)})
    return [json.loads(line) for line in log.read_text().splitlines()]


def commands(calls: list[list[str]]) -> list[str]:
    """The calls that change something: queries of state are left out."""
    return [
        " ".join(c)
        for c in calls
        if c[0] not in ("getent", "python3", "dpkg-statoverride", "sleep")
        and c[:2] not in (["systemctl", "show"], ["systemctl", "--quiet"])
    ]


@pytest.fixture
def rpm_scripts(manifest: Any) -> dict[str, str]:
    return scripts_of(plan(manifest, "rpm", "el9"))


@pytest.fixture
def deb_scripts(manifest: Any) -> dict[str, str]:
    return scripts_of(plan(manifest, "deb", "debian-12"))


U = "mysqld_exporter.service"


def test_rpm_pre_creates_the_account_from_its_sysusers_declaration(rpm_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = run_script(rpm_scripts["preinstall"], tmp_path, "1", systemd_running=True)
    # The payload is not on disk yet: the declaration goes on the standard input.
    assert calls == [["systemd-sysusers", "--replace=/usr/lib/sysusers.d/mysqld_exporter.conf", "-"]]


def test_rpm_pre_without_systemd_uses_the_shadow_tools(rpm_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = run_script(rpm_scripts["preinstall"], tmp_path, "1", systemd_running=False, systemd_tools=False)
    assert calls == [
        ["getent", "group", "mysqld_exporter"],
        ["groupadd", "-r", "mysqld_exporter"],
        ["getent", "passwd", "mysqld_exporter"],
        [
            "useradd",
            "-r",
            "-g",
            "mysqld_exporter",
            "-d",
            "/var/lib/mysqld_exporter",
            "-s",
            "/sbin/nologin",
            "-c",
            "mysqld_exporter service account (Monitoring Hub)",
            "mysqld_exporter",
        ],
    ]


@pytest.mark.parametrize(
    "script, arg, running, expected",
    [
        # %post: ownership, then daemon-reload when systemd runs, preset on first install only.
        ("postinstall", "1", True, ["daemon-reload", f"--no-reload preset {U}"]),
        ("postinstall", "2", True, ["daemon-reload"]),
        ("postinstall", "1", False, [f"--no-reload preset {U}"]),
        # %preun: only on removal; stop only when systemd runs.
        ("preremove", "0", True, [f"--no-reload disable --now {U}"]),
        ("preremove", "0", False, [f"--no-reload disable {U}"]),
        ("preremove", "1", True, []),
        # %postun: reload on removal; try-restart on upgrade; nothing in a chroot.
        ("postremove", "0", True, ["daemon-reload"]),
        ("postremove", "1", True, ["daemon-reload", f"try-restart {U}"]),
        ("postremove", "1", False, []),
    ],
)
def test_rpm_systemd_semantics(
    rpm_scripts: dict[str, str], tmp_path: Path, script: str, arg: str, running: bool, expected: list[str]
) -> None:
    calls = run_script(rpm_scripts[script], tmp_path, arg, systemd_running=running)
    assert [" ".join(c[1:]) for c in calls if c[0] == "systemctl"] == expected
    # rpm gives the service its paths from the payload's attributes: no script does.
    assert not [c for c in commands(calls) if c.startswith(OWNERSHIP_CHANGES)]


def test_deb_postinst_first_install(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=True))
    assert calls == [
        "systemd-sysusers /usr/lib/sysusers.d/mysqld-exporter.conf",
        "systemd-tmpfiles --create mysqld-exporter.conf",
        f"deb-systemd-helper unmask {U}",
        f"deb-systemd-helper --quiet was-enabled {U}",
        f"deb-systemd-helper enable {U}",
        "systemctl --system daemon-reload",
        f"deb-systemd-invoke start {U}",
    ]


def test_deb_postinst_without_systemd_tools(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    """In a root without systemd, the account comes from the shadow tools, and nothing else
    touches the service's paths: no owner or mode changes by path, ever."""
    calls = commands(
        run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=False, systemd_tools=False)
    )
    assert calls[:2] == [
        "groupadd -r mysqld_exporter",
        "useradd -r -g mysqld_exporter -d /var/lib/mysqld_exporter -s /usr/sbin/nologin "
        "-c mysqld_exporter service account (Monitoring Hub) mysqld_exporter",
    ]
    assert not [c for c in calls if c.startswith(OWNERSHIP_CHANGES)]


def test_deb_postinst_upgrade_restarts(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(
        run_script(deb_scripts["postinstall"], tmp_path, "configure", "0.18.0-1+deb12", systemd_running=True)
    )
    assert calls[-2:] == ["systemctl --system daemon-reload", f"deb-systemd-invoke restart {U}"]


def test_deb_postinst_in_a_chroot_enables_but_starts_nothing(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=False))
    assert f"deb-systemd-helper enable {U}" in calls
    assert not [c for c in calls if c.startswith(("systemctl", "deb-systemd-invoke"))]


def test_deb_postinst_without_init_system_helpers(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(
        run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=True, helpers=False)
    )
    assert calls[-3:] == [
        f"systemctl --no-reload enable {U}",
        "systemctl --system daemon-reload",
        f"systemctl start {U}",
    ]


@pytest.mark.parametrize(
    "script, args, expected",
    [
        ("preremove", ["remove"], [f"deb-systemd-invoke stop {U}"]),
        ("preremove", ["upgrade", "0.20.0-1+deb12"], []),
        ("postremove", ["remove"], ["systemctl --system daemon-reload", f"deb-systemd-helper mask {U}"]),
        ("postremove", ["upgrade", "0.20.0-1+deb12"], []),
        (
            "postremove",
            ["purge"],
            [
                f"deb-systemd-helper purge {U}",
                f"deb-systemd-helper unmask {U}",
                "rm -f /var/lib/mysqld_exporter/.my.cnf",
                "dpkg-query --search /var/lib/mysqld_exporter",
                "rm -rf /var/lib/mysqld_exporter",
            ],
        ),
    ],
)
def test_deb_removal(
    deb_scripts: dict[str, str], tmp_path: Path, script: str, args: list[str], expected: list[str]
) -> None:
    assert commands(run_script(deb_scripts[script], tmp_path, *args, systemd_running=True)) == expected


@pytest.mark.parametrize(
    "owners, removed",
    [
        # Nine exporters share the prometheus user's directory: only the last purge removes it.
        (["mysqld-exporter, snmp-exporter"], False),
        (["snmp-exporter:amd64"], False),
        # While a package is purged, dpkg still lists it as the owner of the directories it
        # could not remove because they held data: that is no other owner (this once kept
        # every service's data after a purge; lifecycle_test.py shows it under a real dpkg).
        (["mysqld-exporter"], True),
        (["mysqld-exporter:amd64"], True),
        # A diversion is not this package: kept, to be safe.
        (["diversion by local from", "mysqld-exporter"], False),
    ],
)
def test_deb_purge_keeps_a_directory_another_package_ships(
    deb_scripts: dict[str, str], tmp_path: Path, owners: list[str], removed: bool
) -> None:
    calls = commands(run_script(deb_scripts["postremove"], tmp_path, "purge", systemd_running=True, owners=owners))
    assert "dpkg-query --search /var/lib/mysqld_exporter" in calls
    assert ("rm -rf /var/lib/mysqld_exporter" in calls) is removed, calls


def test_no_script_removes_the_user(rpm_scripts: dict[str, str], deb_scripts: dict[str, str]) -> None:
    for text in (*rpm_scripts.values(), *deb_scripts.values()):
        assert "userdel" not in text and "groupdel" not in text


def test_deb_postinst_carries_statoverride_entries_into_etc_tmpfiles(
    deb_scripts: dict[str, str], tmp_path: Path
) -> None:
    """Packages built before ownership was declared left an administrator's dpkg-statoverride
    entry alone; tmpfiles.d would undo it, so postinst writes it, once, into the
    administrator's /etc/tmpfiles.d file (which wins over the package's), and says so."""
    overrides = {"/var/lib/mysqld_exporter": "mysqld_exporter adm 2750"}
    run_script(
        deb_scripts["postinstall"], tmp_path, "configure", "0.15.0-1", systemd_running=True, statoverrides=overrides
    )
    written = (tmp_path / "etc-tmpfiles.d" / "mysqld-exporter.conf").read_text().splitlines()
    assert written[0].startswith("# /usr/lib/tmpfiles.d/mysqld-exporter.conf with the dpkg-statoverride entries")
    assert written[2:] == [
        "d /var/lib/mysqld_exporter 2750 mysqld_exporter adm -",
        "C /var/lib/mysqld_exporter/.my.cnf 0600 mysqld_exporter mysqld_exporter - "
        "/usr/share/mysqld-exporter/default-config/var/lib/mysqld_exporter/.my.cnf",
    ]
    assert not list((tmp_path / "etc-tmpfiles.d").glob("*.dpkg-new"))
    # The administrator's file, once there, is theirs: never rewritten.
    (tmp_path / "etc-tmpfiles.d" / "mysqld-exporter.conf").write_text("# mine\n")
    run_script(
        deb_scripts["postinstall"], tmp_path, "configure", "0.16.0-1", systemd_running=True, statoverrides=overrides
    )
    assert (tmp_path / "etc-tmpfiles.d" / "mysqld-exporter.conf").read_text() == "# mine\n"


def test_deb_postinst_without_statoverride_entries_writes_nothing(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=True)
    assert not list((tmp_path / "etc-tmpfiles.d").iterdir())


@pytest.mark.parametrize("first_line, removed", [("written by postinst", True), ("# mine", False)])
def test_deb_purge_removes_only_the_tmpfiles_override_it_wrote(
    deb_scripts: dict[str, str], tmp_path: Path, first_line: str, removed: bool
) -> None:
    override = tmp_path / "etc-tmpfiles.d" / "mysqld-exporter.conf"
    override.parent.mkdir()
    ours = "# /usr/lib/tmpfiles.d/mysqld-exporter.conf with the dpkg-statoverride entries of this host, written by"
    override.write_text((ours if first_line == "written by postinst" else first_line) + "\nd /x 0750 a b -\n")
    calls = commands(run_script(deb_scripts["postremove"], tmp_path, "purge", systemd_running=True))
    assert (f"rm -f {override}" in calls) is removed, calls


# --- switching hosts: a service that does not come up is never silent ---------------------------

TAKEN = {
    "journalctl": 'ts=2025 caller=tls_config.go msg="listen tcp :9104: bind: address already in use"',
    "ss": 'LISTEN 0      4096               *:9104            *:*    users:(("prometheus-mysq",pid=4242,fd=3))',
    "timeout": "      --web.listen-address=:9104  Address to listen on for web interface and telemetry.",
}


@pytest.mark.parametrize("family, script, args", [("deb", "postinstall", ["configure", ""]), ("rpm", "posttrans", [])])
def test_a_taken_port_is_named_with_its_holder_and_the_way_out(
    manifest: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str], family: str, script: str, args: list[str]
) -> None:
    text = scripts_of(plan(manifest, family, "debian-12" if family == "deb" else "el9"))[script]
    run_script(text, tmp_path, *args, systemd_running=True, active_state="activating", outputs=TAKEN)
    err = capfd.readouterr().err
    env_file = "/etc/default/mysqld_exporter" if family == "deb" else "/etc/sysconfig/mysqld_exporter"
    assert (
        f"warning: {U} is not running (activating): port 9104 is taken by prometheus-mysq (pid 4242)."
        f' Stop that, or move this exporter to another port: ARGS="--web.listen-address=:<port>" in {env_file},'
        f" then: systemctl restart {U}"
    ) in err
    assert err.count("warning:") == 1, err


@pytest.mark.parametrize("started, restarted", [("100", True), ("200", False), ("300", False)])
def test_rpm_posttrans_restarts_a_service_started_before_its_binary_was_replaced(
    manifest: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str], started: str, restarted: bool
) -> None:
    """An old package without a restarting %postun leaves the old process running: a service
    that started (`date -d` of its ExecMainStartTimestamp) before the binary's inode changed
    (`stat -c %Z`, here 200) is restarted once, and %posttrans says so; one started with or
    after it (its old package's %postun restarted it) is left alone."""
    text = scripts_of(plan(manifest, "rpm", "el9"))["posttrans"]
    outputs = {"date": started, "stat": "200"}
    calls = run_script(text, tmp_path, systemd_running=True, service_active_status=0, outputs=outputs)
    assert (["systemctl", "try-restart", U] in calls) == restarted
    assert ["stat", "-c", "%Z", "/usr/bin/mysqld_exporter"] in calls
    message = f"restarting {U}: it was started before /usr/bin/mysqld_exporter was replaced"
    assert (message in capfd.readouterr().err) == restarted


def test_a_service_that_failed_otherwise_points_at_its_journal(
    deb_scripts: dict[str, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    outputs = {"journalctl": 'level=error msg="Error parsing config file" err="yaml: line 3"'}
    run_script(
        deb_scripts["postinstall"],
        tmp_path,
        "configure",
        "",
        systemd_running=True,
        active_state="failed",
        outputs=outputs,
    )
    err = capfd.readouterr().err
    assert f"warning: {U} is not running (failed); see: systemctl status {U}; journalctl -u {U}" in err
    assert "    level=error msg=" in err  # its last messages, indented


def test_an_active_service_says_nothing(
    deb_scripts: dict[str, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    calls = run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=True)
    assert capfd.readouterr().err == ""
    assert ["systemctl", "show", "-p", "ActiveState", "--value", U] in calls  # it was checked
    assert ["sleep", "0.5"] in calls


def test_a_unit_in_etc_overriding_the_packaged_one_is_named_in_any_case(
    deb_scripts: dict[str, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    etc_units = tmp_path / "etc-systemd-system"
    etc_units.mkdir()
    (etc_units / U).write_text("[Service]\nExecStart=/opt/mysqld_exporter\n")
    run_script(
        deb_scripts["postinstall"],
        tmp_path,
        "configure",
        "",
        systemd_running=False,
        paths={"/etc/systemd/system": etc_units},
    )
    err = capfd.readouterr().err
    assert (
        f"warning: {etc_units}/{U} overrides the packaged /usr/lib/systemd/system/{U}: the packaged unit is not the one"
        " that runs." in err
    )
    # masked by the administrator: as asked, no warning
    (etc_units / U).unlink()
    (etc_units / U).symlink_to("/dev/null")
    run_script(
        deb_scripts["postinstall"],
        tmp_path,
        "configure",
        "",
        systemd_running=False,
        paths={"/etc/systemd/system": etc_units},
    )
    assert "warning" not in capfd.readouterr().err


OLD = "mysqld-exporter.service"  # the original monitoring-hub's DEB unit


def _old_host(tmp_path: Path, state: str) -> dict[str, Path]:
    """/etc/systemd/system and deb-systemd-helper's state as the original DEB left them."""
    etc_units, dsh = tmp_path / "etc-systemd-system", tmp_path / "dsh-enabled"
    (etc_units / "multi-user.target.wants").mkdir(parents=True)
    (dsh / "multi-user.target.wants").mkdir(parents=True)
    (dsh / f"{OLD}.dsh-also").write_text(f"/etc/systemd/system/multi-user.target.wants/{OLD}\n")
    if state == "enabled":
        (etc_units / "multi-user.target.wants" / OLD).symlink_to(f"/lib/systemd/system/{OLD}")
    if state == "masked":
        (etc_units / OLD).symlink_to("/dev/null")
    (etc_units / f"{OLD}.d").mkdir()
    (etc_units / f"{OLD}.d" / "flags.conf").write_text("[Service]\nEnvironment=X=1\n")
    return {"/etc/systemd/system": etc_units, "/var/lib/systemd/deb-systemd-helper-enabled": dsh}


@pytest.mark.parametrize(
    "state, expected, unexpected",
    [
        ("enabled", [f"deb-systemd-helper enable {U}", f"deb-systemd-invoke restart {U}"], []),
        ("disabled", [f"deb-systemd-helper update-state {U}"], [f"deb-systemd-helper enable {U}"]),
        ("masked", [f"systemctl --no-reload mask {U}"], [f"deb-systemd-helper enable {U}"]),
    ],
)
def test_the_original_unit_state_carries_over(
    deb_scripts: dict[str, str],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    state: str,
    expected: list[str],
    unexpected: list[str],
) -> None:
    paths = _old_host(tmp_path, state)
    calls = commands(
        run_script(
            deb_scripts["postinstall"],
            tmp_path,
            "configure",
            "0.14.0-1",
            systemd_running=True,
            service_active_status=0,
            paths=paths,
        )
    )
    # the old process is stopped, its helper state purged, its links and state files removed
    assert f"systemctl stop {OLD}" in calls and f"deb-systemd-helper purge {OLD}" in calls
    removed = next(c for c in calls if c.startswith("rm -f ") and OLD in c)
    assert f"{paths['/etc/systemd/system']}/multi-user.target.wants/{OLD}" in removed or state != "enabled"
    assert calls.index(f"systemctl stop {OLD}") < calls.index(f"deb-systemd-helper unmask {U}")
    for c in expected:
        assert c in calls, calls
    for c in unexpected:
        assert c not in calls, calls
    # its drop-in now applies to the new unit (mv is real here)
    assert (paths["/etc/systemd/system"] / f"{U}.d" / "flags.conf").is_file()
    err = capfd.readouterr().err
    assert err.count(f"the service is now {U} (it was {OLD}") == 1, err
    assert f"{state} and running, as before" in err


def test_without_the_original_unit_nothing_is_migrated(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=True))
    assert not [c for c in calls if OLD in c]


def test_the_distribution_flags_carry_over_on_first_installation(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data: Any = json.loads(json.dumps(MANIFEST))
    checked = {"packages": ["prometheus-mysqld-exporter"], "checked": "Debian's archive"}
    data["distribution_packages"] = {d: checked for d in ("debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04")}
    data["distribution_packages"].update(fedora={"not_checked": "x"}, epel={"not_checked": "x"})
    deb_scripts = scripts_of(plan(load_manifest(write_exporter(tmp_path / "m", data)), "deb", "debian-12"))
    env_file = tmp_path / "env"
    env_file.write_text('# shipped\nARGS=""\n')
    md5 = hashlib.md5(env_file.read_bytes()).hexdigest()
    defaults = tmp_path / "prometheus-mysqld-exporter"
    debian_cnf = tmp_path / "debian.cnf"
    debian_cnf.write_text("[client]\n")
    defaults.write_text(
        f'# Debian\nARGS="--collector.info_schema.tables --config.my-cnf {debian_cnf} --web.telemetry-path /m $HOME"\n'
    )
    paths = {"/etc/default/mysqld_exporter": env_file, "/etc/default/prometheus-mysqld-exporter": defaults}
    outputs = {"dpkg-query": f" {env_file} {md5}"}
    args = ("configure", "")
    run_script(deb_scripts["postinstall"], tmp_path, *args, systemd_running=False, paths=paths, outputs=outputs)
    carried = "--collector.info_schema.tables --web.telemetry-path=/m \\$HOME"
    assert env_file.read_text() == f'# shipped\nARGS="{carried}"\n'
    err = capfd.readouterr().err
    assert f"carried over from {defaults} (the distribution's package): ARGS=\"" in err
    # the unit already passes --config.my-cnf: never repeated, reported with the way to change it
    assert f"not carried over from {defaults}: --config.my-cnf {debian_cnf}: the unit already passes" in err
    # an edited file of this package, or an upgrade, is left alone
    env_file.write_text('ARGS="--mine"\n')
    run_script(deb_scripts["postinstall"], tmp_path, *args, systemd_running=False, paths=paths, outputs=outputs)
    run_script(
        deb_scripts["postinstall"], tmp_path, "configure", "1.0-1", systemd_running=False, paths=paths, outputs=outputs
    )
    assert env_file.read_text() == 'ARGS="--mine"\n'
