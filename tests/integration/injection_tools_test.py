"""Manifest injection, with the real tools: generated manifests full of hostile text that
validation accepts (quotes, `$(...)`, backquotes, `%` macros and specifiers, `$VAR`,
backslashes, `;`, `&`, `|`, `<script>`, look-alikes, leading dashes...) and values on the edges
of every pattern, built into real RPMs and DEBs by the engine (`hub.packaging.build.build`, nfpm).

For every case and package:
- rpm: `rpm -qp --qf` reads the header; Summary, Description, URL, License, Requires,
  Conflicts, Obsoletes and the file list hold exactly the planned values (no macro expansion);
- dpkg: `dpkg-deb -f` and `dpkg-deb --show` (dpkg's own strict parser) read the control
  file, which has exactly our fields with the planned values;
- systemd: the unit, extracted from the DEB, passes `systemd-analyze verify` (with a stub at
  the ExecStart path, which verify requires), and its ExecStart argv and User= are the
  manifest's (testkit.injection's strict reader);
- sh: every maintainer script, read back from the package, passes `sh -n`, then runs with
  every command it may call replaced by a logging stub (nothing else on PATH): it calls
  useradd, chown... with exactly the manifest's values as arguments.

A missing tool fails the test (run build-support/ci/install-tools.sh), it never skips.
The in-process campaign, with many more cases, is src/python/hub/packaging/injection_property_test.py
(and hub/manifest/injection_fields_property_test.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hub.packaging import content as package_content
from testkit.injection import (
    ASSETS,
    CaseCount,
    EDGE_ALPHABET,
    HOSTILE_ATOMS,
    LOCK,
    UnitExpectation,
    expected_sandbox,
    base_manifest,
    check_environment_file,
    check_script_values,
    packaged_flags,
    check_unit,
    deb_description_paragraphs,
    exec_words,
    parse_control,
    unit_settings,
    words_of,
)
from hub.manifest.load import load_manifest
from hub.manifest.policy import is_system_account
from hub.packaging.build import build
from hub.packaging.plan import NOLOGIN, old_unit_name, plan_package
from hub.upstream.lock import Lock, LockedArchive, write_lock
from testkit.packages import nfpm_path

CASES = int(os.environ.get("HUB_INJECTION_TOOL_CASES", "200"))  # fewer to iterate; 200 in CI
TOOLS = ("systemd-analyze", "rpm", "dpkg-deb", "sh")
INSTALL = "run build-support/ci/install-tools.sh (and source the env.sh it prints)"
# Every command the maintainer scripts may run, as logging stubs. chown and chmod are there to
# prove they are never called: ownership is declared (sysusers.d, tmpfiles.d, rpm's %attr).
STUBS = (
    "getent",
    "groupadd",
    "useradd",
    "chown",
    "chmod",
    "install",
    "systemctl",
    "systemd-sysusers",
    "systemd-tmpfiles",
    "deb-systemd-helper",
    "deb-systemd-invoke",
    "dpkg-query",
    "dpkg-statoverride",
    "rm",
)
# What a host without systemd lacks: the scripts fall back to groupadd/useradd.
SYSTEMD_TOOLS = ("systemctl", "systemd-sysusers", "systemd-tmpfiles")


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    found = {tool: shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") for tool in TOOLS}
    missing = [t for t, p in found.items() if not p]
    assert not missing, f"missing {', '.join(missing)}: {INSTALL}"
    try:
        found["nfpm"] = nfpm_path()
    except RuntimeError as e:
        pytest.fail(f"{e}: {INSTALL}")
    return found  # type: ignore[return-value]


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=kwargs.pop("env", env), **kwargs)
    assert result.returncode == 0, f"$ {shlex.join(cmd)}\n(exit {result.returncode})\n{result.stdout}\n{result.stderr}"
    return result


# --- the cases -----------------------------------------------------------------------------

printable = (
    st.lists(
        st.sampled_from(
            [
                a
                for a in HOSTILE_ATOMS
                if a.isprintable() and a.strip() and len(a) < 100 and not any(0xD800 <= ord(c) < 0xE000 for c in a)
            ]
        )
        | st.text(alphabet=EDGE_ALPHABET, min_size=1, max_size=6),
        min_size=1,
        max_size=8,
    )
    .map("".join)
    .filter(lambda s: any(c not in " ." for c in s))
)
LOWER, DIGITS = "abcdefghijklmnopqrstuvwxyz", "0123456789"


def word(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(first), st.text(alphabet=rest, max_size=max_size)).map("".join)


segment = word(LOWER + DIGITS + "_+@-", LOWER + DIGITS + "_+@-.", 8)


@st.composite
def manifests(draw: Any) -> dict[str, Any]:
    data = base_manifest()
    data["description"] = draw(printable)
    data["build"]["binary_name"] = draw(word(LOWER + DIGITS, LOWER + DIGITS + "._+-", 12))
    data["build"]["extra_binaries"] = [
        draw(word(LOWER + DIGITS, LOWER + DIGITS + "._+-", 12).filter(lambda b: b != data["build"]["binary_name"]))
    ]
    data["version"] = draw(st.sampled_from(["1.0.0", "v2.3.4-rc.1", "0.0.1+build.5", "v10.0.0-alpha-1.x"]))
    for kind in ("rpm", "deb"):
        spec = data["artifacts"][kind]
        # Any user the privilege policy accepts (no system account), and paths anywhere below
        # the exporter's own roots (/var/lib/<user>, /etc/<name>): hub.manifest.policy.
        user = draw(word(LOWER + "_", LOWER + DIGITS + "_-", 10).filter(lambda u: not is_system_account(u)))
        spec["system_user"] = user
        spec["summary"] = draw(printable)
        spec["systemd"]["arguments"] = draw(st.lists(printable, max_size=4))
        below = draw(st.lists(segment.filter(lambda s: s not in (".", "..")), max_size=2))
        home = "/".join([f"/var/lib/{user}", *below])
        spec["directories"] = [{"path": home, "mode": "0750", "owner": user, "group": user}]
        spec["extra_files"] = [
            {
                "source": "assets/config.yml",
                "dest": f"/etc/{data['name']}/" + draw(segment.filter(lambda s: s not in (".", ".."))),
                "mode": "0644",
            },
            {
                "source": "assets/secret.cnf",
                "dest": home + "/" + draw(segment.filter(lambda s: s not in (".", ".."))),
                "mode": "0600",
            },
        ]
    return data


# --- building ----------------------------------------------------------------------------------

ELF_MACHINE = {"amd64": 62}


def stub_elf() -> bytes:
    """The smallest file hub.packaging.build.check_elf takes as a static x86_64 executable."""
    header = bytearray(64)
    header[:7] = b"\x7fELF\x02\x01\x01"
    header[18:20] = ELF_MACHINE["amd64"].to_bytes(2, "little")
    return bytes(header)


def lock_for(manifest: Any) -> Lock:
    """testkit.injection.LOCK, pinning this manifest's version and archive URL as update-lock would."""
    return dataclasses.replace(
        LOCK,
        exporter=manifest.name,
        version=manifest.version,
        archives={
            arch: LockedArchive(manifest.archive_url(arch), a.sha256, a.size)
            for arch, a in LOCK.archives.items()
            if arch in manifest.build.archs
        },
    )


def build_case(root: Path, data: dict[str, Any], nfpm: str) -> tuple[Any, dict[str, Path]]:
    exporter = root / "exporters" / data["name"]
    for rel, text in ASSETS.items():
        (exporter / rel).parent.mkdir(parents=True, exist_ok=True)
        (exporter / rel).write_text(text)
    (exporter / "manifest.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    manifest = load_manifest(exporter / "manifest.yaml")
    write_lock(exporter / "upstream.lock.json", lock_for(manifest))
    binaries = root / "bin"
    binaries.mkdir()
    for b in manifest.build.binaries:
        (binaries / b).write_bytes(stub_elf())
        (binaries / b).chmod(0o755)
    packages = {}
    for kind, dist in (("rpm", "el9"), ("deb", "debian-12")):
        package, _ = build(
            {
                "manifest": str(exporter / "manifest.yaml"),
                "lock": str(exporter / "upstream.lock.json"),
                "kind": kind,
                "arch": "amd64",
                "dist": dist,
                "binaries_dir": str(binaries),
                "nfpm": nfpm,
                "output_dir": str(root / "out" / kind),
            }
        )
        packages[kind] = package
    return manifest, packages


# --- the checks ---------------------------------------------------------------------------------


def check_rpm(path: Path, plan: Any) -> dict[str, str]:
    tags = ["NAME", "VERSION", "RELEASE", "SUMMARY", "DESCRIPTION", "URL", "LICENSE"]
    sep = "\x1f"
    fmt = sep.join(f"%{{{t}}}" for t in tags)
    out = run(["rpm", "-qp", "--qf", fmt, str(path)]).stdout.split(sep)
    got = dict(zip(tags, out))
    want = {
        "NAME": plan.name,
        "VERSION": plan.version,
        "RELEASE": plan.release,
        "SUMMARY": plan.summary,
        "DESCRIPTION": plan.description,
        "URL": plan.homepage,
        "LICENSE": plan.license,
    }
    assert got == want, f"{path.name}: header {got}, planned {want}"
    requires = run(["rpm", "-qp", "--requires", str(path)]).stdout.splitlines()
    for dep in plan.depends:
        assert dep in requires, f"Requires: {dep!r} not in {requires}"
    assert run(["rpm", "-qp", "--conflicts", str(path)]).stdout.splitlines() == list(plan.conflicts)
    files = set(run(["rpm", "-qp", "--qf", "[%{FILENAMES}\n]", str(path)]).stdout.splitlines())
    assert files == {e.dst for e in plan.entries}, files ^ {e.dst for e in plan.entries}
    scripts = {}
    for key, tag in (
        ("preinstall", "PREIN"),
        ("postinstall", "POSTIN"),
        ("preremove", "PREUN"),
        ("postremove", "POSTUN"),
        ("posttrans", "POSTTRANS"),
    ):
        scripts[key] = run(["rpm", "-qp", "--qf", f"%{{{tag}}}", str(path)]).stdout
    return scripts


def check_deb(path: Path, plan: Any, manifest: Any, tmp: Path) -> dict[str, str]:
    control = run(["dpkg-deb", "-f", str(path)]).stdout
    fields = parse_control(control)
    expected = {
        "Package",
        "Version",
        "Section",
        "Priority",
        "Architecture",
        "Maintainer",
        "Installed-Size",
        "Depends",
        "Conflicts",
        "Replaces",
        "Homepage",
        "Description",
    }
    assert set(fields) == expected, f"control fields {sorted(fields)}"
    assert fields["Package"] == plan.name and fields["Version"] == plan.full_version
    assert fields["Homepage"] == plan.homepage
    for key, values in (("Depends", plan.depends), ("Conflicts", plan.conflicts), ("Replaces", plan.replaces)):
        assert fields[key].split(", ") == list(values), (key, fields[key])
    synopsis, paragraphs = deb_description_paragraphs(fields["Description"])
    assert synopsis == plan.summary
    want = []
    if package_content.synopsis(manifest.description).lower() != plan.summary.lower():
        want.append("".join(words_of(manifest.description.rstrip(".") + ".")))
    want.append("".join(words_of(plan.description.split("\n", 1)[1].split("\n.\n")[-1])))
    assert ["".join(p) for p in paragraphs] == want, fields["Description"]
    # dpkg's own parser (it checks field syntax, relations and versions)
    shown = run(["dpkg-deb", "--show", "--showformat=${Package}\\n${Version}\\n${Depends}\\n${Description}", str(path)])
    assert shown.stderr == "", shown.stderr
    assert shown.stdout.split("\n", 3)[:3] == [plan.name, plan.full_version, ", ".join(plan.depends)]
    control_dir = tmp / "control"
    run(["dpkg-deb", "-e", str(path), str(control_dir)])
    return {
        key: (control_dir / name).read_text()
        for key, name in (("postinstall", "postinst"), ("preremove", "prerm"), ("postremove", "postrm"))
    }


def check_unit_with_systemd(path: Path, plan: Any, manifest: Any, spec: Any, tmp: Path) -> None:
    payload = tmp / "payload"
    run(["dpkg-deb", "-x", str(path), str(payload)])
    unit_name = f"{manifest.name}.service"
    text = (payload / "usr/lib/systemd/system" / unit_name).read_text()
    env_file = f"{plan.dist.env_dir}/{manifest.name}"
    check_unit(
        text,
        UnitExpectation(
            description=plan.summary,
            documentation=plan.homepage,
            after=spec.systemd.after,
            service_type=spec.systemd.type,
            user=spec.system_user,
            env_file=env_file,
            argv=(f"/usr/bin/{manifest.build.binary_name}", *spec.systemd.arguments),
            restart=spec.systemd.restart,
            sandbox=expected_sandbox(spec),
        ),
    )
    check_environment_file((payload / env_file.lstrip("/")).read_text())
    tree = tmp / "systemd"
    units = tree / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    for target in Path("/usr/lib/systemd/system").glob("*.target"):
        shutil.copy(target, units, follow_symlinks=True)
    shutil.copy(payload / "usr/lib/systemd/system" / unit_name, units / unit_name)
    exec_start = unit_settings(text)["Service"]["ExecStart"][0]
    binary = tree / exec_words(exec_start)[0][1].lstrip("/")
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "--generators=no", f"--root={tree}", unit_name],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
    )
    assert (
        result.returncode == 0 and not (result.stdout + result.stderr).strip()
    ), f"{text}\n{result.stdout}{result.stderr}"


def run_with_stubs(script: str, args: list[str], tmp: Path, *, absent: Sequence[str] = ()) -> list[list[str]]:
    """Runs a maintainer script with only logging stubs on PATH (but those ``absent``); each
    call is logged as its argv, plus its standard input when it reads one ("-" argument)."""
    stubs = tmp / "stubs"
    shutil.rmtree(stubs, ignore_errors=True)
    stubs.mkdir(parents=True)
    log = tmp / "calls.jsonl"
    log.write_text("")
    logger = (
        f"{shlex.quote(sys.executable)} -c 'import json,sys; a = sys.argv[1:]; "
        'print(json.dumps(a + ([sys.stdin.read()] if "-" in a else [])))\''
    )
    for name in (n for n in STUBS if n not in absent):
        # no account yet; no other owner; no administrator's override
        status = {"getent": 2, "dpkg-query": 1, "dpkg-statoverride": 1}.get(name, 0)
        (stubs / name).write_text(f'#!/bin/sh\n{logger} {name} "$@" >> {shlex.quote(str(log))}\nexit {status}\n')
        (stubs / name).chmod(0o755)
    probe = tmp / "run-systemd-system"
    probe.mkdir(exist_ok=True)
    path = tmp / "script"
    path.write_text(script.replace("/run/systemd/system", str(probe)))
    result = subprocess.run(
        ["/bin/sh", str(path), *args], capture_output=True, text=True, env={"PATH": str(stubs)}, cwd=tmp
    )
    assert result.returncode == 0, f"{script}\n{result.stdout}{result.stderr}"
    return [json.loads(line) for line in log.read_text().splitlines()]


def check_scripts(scripts: dict[str, str], plan: Any, kind: str, spec: Any, tmp: Path) -> None:
    assert scripts == dict(plan.scripts), "the package's scripts differ from the rendered ones"
    user = spec.system_user
    unit = f"{plan.exporter}.service"
    # The unit of the original monitoring-hub's DEB, which the DEB's postinst carries over.
    old_unit = old_unit_name(kind, plan.exporter)
    values = [unit, user, f"/var/lib/{user}", f"{user} service account (Monitoring Hub)", NOLOGIN[kind]]
    calls: list[list[str]] = []
    fallback: list[list[str]] = []
    for key, text in scripts.items():
        path = tmp / f"{kind}-{key}.sh"
        path.write_text(text)
        run(["sh", "-n", str(path)])
        check_script_values(
            text,
            values + [o.path for o in plan.ownership],
            pattern_values=packaged_flags(spec.systemd.arguments) if kind == "deb" else (),
        )
        args = {
            "rpm": {
                "preinstall": ["1"],
                "postinstall": ["1"],
                "preremove": ["0"],
                "postremove": ["0"],
                "posttrans": [],
            },
            "deb": {"postinstall": ["configure", ""], "preremove": ["remove"], "postremove": ["purge"]},
        }[kind][key]
        calls += run_with_stubs(text, args, tmp / f"{kind}-{key}")
        fallback += run_with_stubs(text, args, tmp / f"{kind}-{key}-no-systemd", absent=SYSTEMD_TOOLS)
    # No script changes an owner or a mode, with or without systemd.
    assert not [c for c in calls + fallback if c[0] in ("chown", "chmod", "install")], calls + fallback
    sysusers_path = f"/usr/lib/sysusers.d/{plan.name}.conf"
    line = f'u {user} - "{user} service account (Monitoring Hub)" /var/lib/{user} {NOLOGIN[kind]}'
    sysusers = [c for c in calls if c[0] == "systemd-sysusers"]
    if kind == "rpm":  # %pre, before the file is on disk: the same line on stdin
        assert sysusers == [["systemd-sysusers", f"--replace={sysusers_path}", "-", line + "\n"]], sysusers
    else:
        assert sysusers == [["systemd-sysusers", sysusers_path]], sysusers
        tmpfiles = [c for c in calls if c[0] == "systemd-tmpfiles"]
        assert tmpfiles == [["systemd-tmpfiles", "--create", f"{plan.name}.conf"]], tmpfiles
    assert not [c for c in calls if c[0] in ("useradd", "groupadd")], calls
    useradd = [c for c in fallback if c[0] == "useradd"]
    assert useradd == [
        [
            "useradd",
            "-r",
            "-g",
            user,
            "-d",
            f"/var/lib/{user}",
            "-s",
            NOLOGIN[kind],
            "-c",
            f"{user} service account (Monitoring Hub)",
            user,
        ]
    ], useradd
    for c in calls:
        if c[0] in ("systemctl", "deb-systemd-helper", "deb-systemd-invoke") and "daemon-reload" not in c:
            assert c[-1] in (unit, old_unit), c


def _settings() -> Any:
    return settings(
        max_examples=CASES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def test_hostile_manifests_through_the_real_tools(
    tools: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    count = CaseCount("real tools", CASES)

    @_settings()
    @given(data=manifests())
    def case(data: dict[str, Any]) -> None:
        root = tmp_path_factory.mktemp("case")
        manifest, packages = build_case(root, data, tools["nfpm"])
        for kind, dist in (("rpm", "el9"), ("deb", "debian-12")):
            spec = manifest.rpm if kind == "rpm" else manifest.deb
            plan = plan_package(
                manifest, lock_for(manifest), kind=kind, arch="amd64", dist=dist, binaries_dir=str(root / "bin")
            )
            tmp = root / kind
            tmp.mkdir()
            if kind == "rpm":
                scripts = check_rpm(packages[kind], plan)
            else:
                scripts = check_deb(packages[kind], plan, manifest, tmp)
                check_unit_with_systemd(packages[kind], plan, manifest, spec, tmp)
            check_scripts(scripts, plan, kind, spec, tmp)
        shutil.rmtree(root)
        count.case("rpm", "deb", "systemd-analyze verify", f"version {manifest.version}")

    case()
    count.check(["rpm", "deb", "systemd-analyze verify"])
