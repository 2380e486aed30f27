"""Packaging without running nfpm: the plan, the nfpm config, the texts and the scripts.

The maintainer scripts are also *run*, with every system command replaced by a stub that logs
its arguments, for each way rpm and dpkg call them (install, upgrade, removal, purge).
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.catalog import artifact as catalog
from hub.common import matrix
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.packaging import content
from hub.packaging.build import check_elf, metadata, read_lock
from hub.packaging.nfpm import nfpm_command, nfpm_compression, nfpm_config
from hub.packaging.plan import Entry, PackagePlan, plan_package
from hub.common import schemas

SOURCE_DATE = "2025-06-01T12:00:00Z"
EPOCH = 1748779200

MANIFEST: dict[str, Any] = {
    "name": "mysqld_exporter",
    "description": "Prometheus exporter for MySQL server metrics",
    "category": "Database",
    "version": "v0.19.0",
    "license": "Apache-2.0",
    "homepage": "https://github.com/prometheus/mysqld_exporter",
    "upstream": {"repo": "prometheus/mysqld_exporter"},
    "build": {"binary_name": "mysqld_exporter", "extra_binaries": ["mysqld_tool"]},
    "artifacts": {
        "rpm": {
            "summary": "Prometheus exporter for MySQL server metrics.",
            "systemd": {
                "arguments": ["--config.my-cnf=/var/lib/mysqld_exporter/.my.cnf", "--web.listen-address=:9104"],
                "after": ["network-online.target", "mysql.service"],
            },
            "extra_files": [
                {"source": "assets/my.cnf", "dest": "/var/lib/mysqld_exporter/.my.cnf", "mode": "0600"},
                {"source": "assets/web.yml", "dest": "/etc/mysqld_exporter/web.yml"},
            ],
            "directories": [
                {"path": "/var/lib/mysqld_exporter", "mode": "0700", "owner": "mysqld_exporter", "group": "mysqld_exporter"},
                {"path": "/etc/mysqld_exporter"},
            ],
            "dependencies": ["libcap >= 2.25"],
            "conflicts": ["prometheus-mysqld-exporter"],
            "replaces": ["prometheus-mysqld-exporter"],
        },
    },
}
MANIFEST["artifacts"]["deb"] = {
    **MANIFEST["artifacts"]["rpm"],
    "dependencies": ["libcap2 (>= 1:2.25)"],
}

LOCK = {
    "lock_version": 1,
    "exporter": "mysqld_exporter",
    "version": "v0.19.0",
    "source_date": SOURCE_DATE,
    "archives": {
        arch: {
            "url": f"https://github.com/prometheus/mysqld_exporter/releases/download/v0.19.0/mysqld_exporter-0.19.0.linux-{arch}.tar.gz",
            "sha256": "ab" * 32,
            "size": 100,
        }
        for arch in matrix.ARCHES
    },
}


def write_exporter(root: Path, data: dict[str, Any]) -> Path:
    directory = root / "exporters" / data["name"]
    (directory / "assets").mkdir(parents=True, exist_ok=True)
    (directory / "assets" / "my.cnf").write_text("[client]\nuser=exporter\n")
    (directory / "assets" / "web.yml").write_text("# web\n")
    path = directory / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def manifest(tmp_path: Path):
    return load_manifest(write_exporter(tmp_path, MANIFEST))


def plan(manifest: Any, kind: str, dist: str, arch: str = "amd64", **kwargs: Any) -> PackagePlan:
    return plan_package(manifest, LOCK, kind=kind, arch=arch, dist=dist, binaries_dir="bin", **kwargs)


def contents_by_dst(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    by_dst = {item["dst"]: item for item in config["contents"]}
    assert len(by_dst) == len(config["contents"]), "a path appears twice"
    return by_dst


def summary_of(item: dict[str, Any]) -> tuple[str, str]:
    return item.get("type", ""), oct(item["file_info"]["mode"])


# --- the nfpm config -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "dist, compression, release",
    [("el8", "xz", "1.el8"), ("el9", "zstd:19", "1.el9"), ("el10", "zstd:19", "1.el10")],
)
def test_rpm_config(manifest: Any, dist: str, compression: str, release: str) -> None:
    p = plan(manifest, "rpm", dist)
    config = nfpm_config(p, "/w")
    assert p.filename == f"mysqld_exporter-0.19.0-{release}.x86_64.rpm"
    assert {k: config[k] for k in ("name", "arch", "version", "version_schema", "release", "mtime")} == {
        "name": "mysqld_exporter",
        "arch": "amd64",
        "version": "0.19.0",
        "version_schema": "none",
        "release": release,
        "mtime": SOURCE_DATE,
    }
    assert config["rpm"] == {
        "arch": "x86_64",
        "buildhost": "monitoring-hub",
        "compression": compression,
        "group": "System Environment/Daemons",
        "packager": "Monitoring Hub <packages@monitoring-hub.invalid>",
        "requires": {"post": ["/bin/sh"]},
        "summary": "Prometheus exporter for MySQL server metrics",
    }
    assert "deb" not in config and "section" not in config
    assert config["license"] == "Apache-2.0"
    assert config["homepage"] == "https://github.com/prometheus/mysqld_exporter"
    # /bin/sh: the scriptlets' interpreter, installed first on a system being installed.
    assert config["depends"] == ["libcap >= 2.25", "/bin/sh", "shadow-utils"]
    assert config["conflicts"] == ["prometheus-mysqld-exporter"]
    assert config["replaces"] == ["prometheus-mysqld-exporter"]
    assert config["disable_globbing"] is True
    assert config["changelog"] == "/w/changelog.yaml"
    assert sorted(config["scripts"]) == ["postinstall", "postremove", "preinstall", "preremove"]
    items = contents_by_dst(config)
    expected = {
        "/usr/bin/mysqld_exporter": ("", "0o755"),
        "/usr/bin/mysqld_tool": ("", "0o755"),
        "/usr/lib/systemd/system/mysqld_exporter.service": ("", "0o644"),
        "/etc/sysconfig/mysqld_exporter": ("config|noreplace", "0o644"),
        "/var/lib/mysqld_exporter/.my.cnf": ("config|noreplace", "0o600"),
        "/etc/mysqld_exporter/web.yml": ("config|noreplace", "0o644"),
        "/var/lib/mysqld_exporter": ("dir", "0o700"),
        "/etc/mysqld_exporter": ("dir", "0o755"),
        "/usr/share/doc/mysqld_exporter": ("dir", "0o755"),
        "/usr/share/doc/mysqld_exporter/README": ("doc", "0o644"),
        "/usr/share/licenses/mysqld_exporter": ("dir", "0o755"),
        "/usr/share/licenses/mysqld_exporter/LICENSE": ("license", "0o644"),
    }
    assert {dst: summary_of(item) for dst, item in items.items()} == expected
    assert all(item["file_info"]["owner"] == item["file_info"]["group"] == "root" for item in items.values())
    assert items["/usr/bin/mysqld_tool"]["src"] == "bin/mysqld_tool"
    assert items["/etc/mysqld_exporter/web.yml"]["src"].endswith("exporters/mysqld_exporter/assets/web.yml")
    assert items["/etc/sysconfig/mysqld_exporter"]["src"].startswith("/w/files/")


@pytest.mark.parametrize("dist, suffix", [("debian-12", "deb12"), ("debian-13", "deb13"), ("ubuntu-22.04", "ubuntu22.04"), ("ubuntu-24.04", "ubuntu24.04")])
def test_deb_config(manifest: Any, dist: str, suffix: str) -> None:
    p = plan(manifest, "deb", dist, arch="arm64", dynamic_binaries=["mysqld_exporter"])
    config = nfpm_config(p, "/w")
    assert p.filename == f"mysqld-exporter_0.19.0-1+{suffix}_arm64.deb"
    assert p.full_version == f"0.19.0-1+{suffix}"
    assert (config["name"], config["version"], config["release"]) == ("mysqld-exporter", "0.19.0", f"1+{suffix}")
    assert config["deb"] == {"arch": "arm64", "compression": "zstd:19"}
    assert (config["section"], config["priority"]) == ("net", "optional")
    assert "rpm" not in config and "changelog" not in config
    assert config["depends"] == ["libcap2 (>= 1:2.25)", "passwd", "libc6"]
    assert config["description"].splitlines()[0] == "Prometheus exporter for MySQL server metrics"
    assert sorted(config["scripts"]) == ["postinstall", "postremove", "preremove"]
    items = contents_by_dst(config)
    doc = "/usr/share/doc/mysqld-exporter"
    expected = {
        "/usr/bin/mysqld_exporter": ("", "0o755"),
        "/usr/bin/mysqld_tool": ("", "0o755"),
        "/usr/lib/systemd/system/mysqld_exporter.service": ("", "0o644"),
        "/etc/default/mysqld_exporter": ("config|noreplace", "0o644"),
        "/etc/mysqld_exporter/web.yml": ("config|noreplace", "0o644"),
        # Outside /etc: a template that postinst installs when missing (Policy 10.7.2).
        "/usr/share/mysqld-exporter/default-config/var/lib/mysqld_exporter/.my.cnf": ("", "0o600"),
        "/var/lib/mysqld_exporter": ("dir", "0o700"),
        "/etc/mysqld_exporter": ("dir", "0o755"),
        doc: ("dir", "0o755"),
        f"{doc}/copyright": ("", "0o644"),
        f"{doc}/changelog.Debian.gz": ("", "0o644"),
        f"{doc}/README.Debian": ("", "0o644"),
        "/usr/share/lintian/overrides/mysqld-exporter": ("", "0o644"),
    }
    assert {dst: summary_of(item) for dst, item in items.items()} == expected


def test_static_binaries_need_no_libc(manifest: Any) -> None:
    assert "libc6" not in plan(manifest, "deb", "debian-12").depends


def test_arm64_rpm(manifest: Any) -> None:
    p = plan(manifest, "rpm", "el9", arch="arm64")
    assert p.filename == "mysqld_exporter-0.19.0-1.el9.aarch64.rpm"
    assert nfpm_config(p, "/w")["rpm"]["arch"] == "aarch64"


def test_nfpm_command() -> None:
    assert nfpm_command("tools/nfpm", "w/nfpm.yaml", "deb", "out/x.deb") == [
        "tools/nfpm", "package", "--config", "w/nfpm.yaml", "--packager", "deb", "--target", "out/x.deb",
    ]


def test_compression_levels_follow_the_dists() -> None:
    assert {name: nfpm_compression(d.compression) for name, d in matrix.DISTS.items()} == {
        "el8": "xz", "el9": "zstd:19", "el10": "zstd:19",
        "debian-12": "zstd:19", "debian-13": "zstd:19", "ubuntu-22.04": "zstd:19", "ubuntu-24.04": "zstd:19",
    }


def test_the_config_is_json(manifest: Any) -> None:
    config = nfpm_config(plan(manifest, "deb", "debian-12"), "/w")
    assert json.loads(json.dumps(config)) == config


# --- request validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, dist, arch, message",
    [
        ("rpm", "debian-12", "amd64", "dist 'debian-12': expected one of el8, el9, el10 for rpm"),
        ("deb", "el9", "amd64", "for deb"),
        ("zip", "el9", "amd64", "kind 'zip'"),
    ],
)
def test_bad_requests(manifest: Any, kind: str, dist: str, arch: str, message: str) -> None:
    with pytest.raises(HubError, match=message.replace("(", r"\(")):
        plan(manifest, kind, dist, arch=arch)


def test_targets_and_archs_are_checked(tmp_path: Path) -> None:
    data = json.loads(json.dumps(MANIFEST))
    data["artifacts"]["rpm"]["targets"] = ["el9"]
    data["build"]["archs"] = ["amd64"]
    m = load_manifest(write_exporter(tmp_path, data))
    with pytest.raises(HubError, match="targets does not list el8"):
        plan(m, "rpm", "el8")
    with pytest.raises(HubError, match="build.archs does not list arm64"):
        plan(m, "rpm", "el9", arch="arm64")


def test_directory_owner_must_be_root_or_the_service_user(tmp_path: Path) -> None:
    data = json.loads(json.dumps(MANIFEST))
    data["artifacts"]["rpm"]["directories"][0]["owner"] = "mysql"
    # Refused by validation, with the field (the plan checks it again).
    with pytest.raises(HubError, match=re.escape(
        "artifacts.rpm.directories[0].owner: expected root or the service user 'mysqld_exporter', got 'mysql'"
    )):
        load_manifest(write_exporter(tmp_path, data))


def test_read_lock(tmp_path: Path, manifest: Any) -> None:
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({**LOCK, "version": "v0.18.0"}))
    with pytest.raises(HubError, match="pins 'v0.18.0', the manifest says 'v0.19.0'"):
        read_lock(str(path), manifest, "amd64")
    path.write_text(json.dumps({**LOCK, "source_date": "yesterday"}))
    with pytest.raises(HubError, match="expected a UTC time"):
        read_lock(str(path), manifest, "amd64")
    path.write_text(json.dumps(LOCK))
    assert read_lock(str(path), manifest, "arm64") == LOCK


def elf(machine: int, interp: bool) -> bytes:
    """A minimal 64-bit little-endian ELF header with one program header."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5] = 2, 1
    header[18:20] = machine.to_bytes(2, "little")
    header[32:40] = (64).to_bytes(8, "little")  # e_phoff
    header[54:56] = (56).to_bytes(2, "little")  # e_phentsize
    header[56:58] = (1).to_bytes(2, "little")  # e_phnum
    phdr = bytearray(56)
    phdr[:4] = (3 if interp else 1).to_bytes(4, "little")
    return bytes(header + phdr)


def test_check_elf(tmp_path: Path) -> None:
    binary = tmp_path / "b"
    binary.write_bytes(elf(62, interp=True))
    assert check_elf(str(binary), "amd64") is True
    binary.write_bytes(elf(183, interp=False))
    assert check_elf(str(binary), "arm64") is False
    with pytest.raises(HubError, match="ELF machine 183 is not amd64"):
        check_elf(str(binary), "amd64")
    binary.write_bytes(b"#!/bin/sh\n" + bytes(100))
    with pytest.raises(HubError, match="not an ELF executable"):
        check_elf(str(binary), "amd64")


# --- versions, relations, systemd escaping --------------------------------------------------


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


@pytest.mark.parametrize(
    "arg, quoted",
    [
        ("--web.listen-address=:9100", '"--web.listen-address=:9100"'),
        ("two words", '"two words"'),
        ("100%", '"100%%"'),
        ("%h/.my.cnf", '"%%h/.my.cnf"'),
        ("$HOME", '"$$HOME"'),
        ("${X}$$", '"$${X}$$$$"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\path\\", '"C:\\\\path\\\\"'),
        ("it's", '"it\'s"'),
        (";", '";"'),
        ("", '""'),
    ],
)
def test_systemd_quote(arg: str, quoted: str) -> None:
    assert content.systemd_quote(arg) == quoted


def test_systemd_quote_refuses_control_characters() -> None:
    with pytest.raises(HubError, match="control characters"):
        content.systemd_quote("a\nb")


def test_exec_start() -> None:
    assert content.exec_start("/usr/bin/x", []) == "/usr/bin/x $ARGS"
    assert content.exec_start("/usr/bin/x", ["-a", "b c"]) == '/usr/bin/x "-a" "b c" $ARGS'


# --- generated files -----------------------------------------------------------------------


def generated(p: PackagePlan, dst: str) -> str:
    entry = next(e for e in p.entries if e.dst == dst)
    assert entry.content is not None
    return entry.content.decode()


def test_unit_file(manifest: Any) -> None:
    unit = generated(plan(manifest, "rpm", "el9"), "/usr/lib/systemd/system/mysqld_exporter.service")
    lines = [line for line in unit.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "[Unit]",
        "Description=Prometheus exporter for MySQL server metrics",
        "Documentation=https://github.com/prometheus/mysqld_exporter",
        "After=network-online.target mysql.service",
        "Wants=network-online.target mysql.service",
        "[Service]",
        "Type=simple",
        "User=mysqld_exporter",
        "Group=mysqld_exporter",
        "EnvironmentFile=-/etc/sysconfig/mysqld_exporter",
        'ExecStart=/usr/bin/mysqld_exporter "--config.my-cnf=/var/lib/mysqld_exporter/.my.cnf" '
        '"--web.listen-address=:9104" $ARGS',
        "Restart=on-failure",
        "RestartSec=5s",
        "NoNewPrivileges=yes",
        "ProtectSystem=full",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    deb_unit = generated(plan(manifest, "deb", "debian-12"), "/usr/lib/systemd/system/mysqld_exporter.service")
    assert "EnvironmentFile=-/etc/default/mysqld_exporter\n" in deb_unit


def test_root_service_has_no_user_and_no_account(tmp_path: Path) -> None:
    data = json.loads(json.dumps(MANIFEST))
    for kind in ("rpm", "deb"):
        data["artifacts"][kind]["system_user"] = "root"
        data["artifacts"][kind]["directories"] = []
    m = load_manifest(write_exporter(tmp_path, data))
    p = plan(m, "rpm", "el9")
    unit = generated(p, "/usr/lib/systemd/system/mysqld_exporter.service")
    assert "User=" not in unit and "Group=" not in unit
    scripts = dict(p.scripts)
    assert "useradd" not in scripts["preinstall"] and "chown" not in scripts["postinstall"]
    assert p.depends == ("libcap >= 2.25", "/bin/sh")
    assert plan(m, "deb", "debian-12").depends == ("libcap2 (>= 1:2.25)",)


def test_without_homepage_the_unit_has_no_documentation(tmp_path: Path) -> None:
    """A local upstream has no GitHub URL to fall back on: no Documentation= at all."""
    directory = tmp_path / "exporters" / "local_exporter"
    (directory / "archives").mkdir(parents=True)
    (directory / "archives" / "local_exporter-1.0.0.linux-amd64.tar.gz").write_bytes(b"x")
    (directory / "manifest.yaml").write_text(yaml.safe_dump({
        "name": "local_exporter", "description": "Local exporter", "category": "System", "version": "1.0.0",
        "upstream": {"local": {"amd64": "archives/local_exporter-1.0.0.linux-amd64.tar.gz"}},
        "build": {"binary_name": "local_exporter", "archs": ["amd64"]},
    }))
    m = load_manifest(directory / "manifest.yaml")
    lock = {**LOCK, "version": "1.0.0", "archives": {"amd64": {"url": "archives/x.tar.gz", "sha256": "ab" * 32, "size": 1}}}
    for kind, dist in (("rpm", "el9"), ("deb", "debian-12")):
        p = plan_package(m, lock, kind=kind, arch="amd64", dist=dist, binaries_dir="bin")
        unit = generated(p, "/usr/lib/systemd/system/local_exporter.service")
        assert "Documentation" not in unit and "None" not in unit
        assert p.homepage is None and "homepage" not in nfpm_config(p, "/w")
        assert p.license == "NOASSERTION"


def test_without_systemd_there_is_no_unit(tmp_path: Path) -> None:
    data = json.loads(json.dumps(MANIFEST))
    data["artifacts"]["deb"]["systemd"] = {"enabled": False}
    m = load_manifest(write_exporter(tmp_path, data))
    p = plan(m, "deb", "debian-12")
    assert not [e for e in p.entries if "systemd" in e.dst or e.dst.startswith("/etc/default")]
    assert not any("systemctl" in text or "deb-systemd" in text for _, text in p.scripts)


def test_environment_file(manifest: Any) -> None:
    text = generated(plan(manifest, "deb", "debian-12"), "/etc/default/mysqld_exporter")
    assert text.endswith('\nARGS=""\n')
    assert all(line.startswith("#") for line in text.splitlines()[:-1])


def test_deb_docs(manifest: Any) -> None:
    p = plan(manifest, "deb", "debian-12", dynamic_binaries=["mysqld_exporter"])
    copyright_text = generated(p, "/usr/share/doc/mysqld-exporter/copyright")
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
    assert "\nLicense: Apache-2.0\n" in copyright_text
    assert '"/usr/share/common-licenses/Apache-2.0"' in copyright_text
    entry = next(e for e in p.entries if e.dst.endswith("changelog.Debian.gz"))
    assert entry.content is not None
    assert entry.content[4:8] == b"\0\0\0\0"  # gzip mtime 0
    changelog = gzip.decompress(entry.content).decode()
    assert changelog.splitlines()[0] == "mysqld-exporter (0.19.0-1+deb12) bookworm; urgency=medium"
    assert changelog.splitlines()[-1] == (
        " -- Monitoring Hub <packages@monitoring-hub.invalid>  Sun, 01 Jun 2025 12:00:00 +0000"
    )
    overrides = generated(p, "/usr/share/lintian/overrides/mysqld-exporter")
    rules = [line for line in overrides.splitlines() if line and not line.startswith("#")]
    assert rules == [
        "mysqld-exporter: no-manual-page [usr/bin/mysqld_exporter]",
        "mysqld-exporter: no-manual-page [usr/bin/mysqld_tool]",
        "mysqld-exporter: statically-linked-binary [usr/bin/mysqld_tool]",
        "mysqld-exporter: maintainer-script-calls-systemctl [postinst:*]",
        "mysqld-exporter: maintainer-script-calls-systemctl [prerm:*]",
        "mysqld-exporter: malformed-deb-archive *",
        "mysqld-exporter: copyright-without-copyright-notice",
        "mysqld-exporter: non-standard-file-perm * [usr/share/mysqld-exporter/default-config/var/lib/mysqld_exporter/.my.cnf]",
        "mysqld-exporter: non-standard-dir-perm * [var/lib/mysqld_exporter/]",
    ]
    # Every override is preceded by the comment that justifies it.
    blocks = overrides.strip().split("\n\n")[1:]
    assert all(block.startswith("# ") for block in blocks)


def test_upstream_license_and_notice_are_used(manifest: Any) -> None:
    docs = {"LICENSE": b"Copyright 2015 The Prometheus Authors\n\nApache text\n", "NOTICE": b"notice\n"}
    rpm = plan(manifest, "rpm", "el9", upstream_docs=docs)
    assert generated(rpm, "/usr/share/licenses/mysqld_exporter/LICENSE") == docs["LICENSE"].decode()
    assert generated(rpm, "/usr/share/licenses/mysqld_exporter/NOTICE") == "notice\n"
    deb = plan(manifest, "deb", "debian-12", upstream_docs=docs)
    copyright_text = generated(deb, "/usr/share/doc/mysqld-exporter/copyright")
    assert "\nCopyright: Copyright 2015 The Prometheus Authors\n" in copyright_text
    assert "copyright-without-copyright-notice" not in generated(deb, "/usr/share/lintian/overrides/mysqld-exporter")
    assert generated(deb, "/usr/share/doc/mysqld-exporter/NOTICE") == "notice\n"


@pytest.mark.parametrize(
    "license_id, name, needle",
    [
        ("MIT", "Expat", " Permission is hereby granted, free of charge"),
        ("BSD-3-Clause", "BSD-3-clause", " 3. Neither the name of the copyright holder"),
        ("GPL-3.0-or-later", "GPL-3+", '"/usr/share/common-licenses/GPL-3"'),
        (None, "NOASSERTION", "has not been determined"),
        ("MIT OR Apache-2.0", "Expat or Apache-2.0", " Apache-2.0: /usr/share/common-licenses/Apache-2.0"),
    ],
)
def test_dep5_license(license_id: str | None, name: str, needle: str) -> None:
    short, body = content.dep5_license(license_id, None)
    assert short == name
    assert needle in body
    assert all(line.startswith(" ") and line.strip() for line in body.splitlines())


def test_descriptions(manifest: Any) -> None:
    deb = plan(manifest, "deb", "debian-12")
    lines = deb.description.splitlines()
    # The summary equals the description: the long text must not repeat it (lintian).
    assert lines[0] == "Prometheus exporter for MySQL server metrics"
    assert lines[1].startswith("This package installs the unmodified upstream release of mysqld_exporter")
    assert all(len(line) <= 72 for line in lines)
    rpm = plan(manifest, "rpm", "el9")
    assert rpm.summary == "Prometheus exporter for MySQL server metrics"
    assert rpm.description.startswith("This package installs")


def test_unique_destinations(tmp_path: Path) -> None:
    data = json.loads(json.dumps(MANIFEST))
    data["artifacts"]["rpm"]["extra_files"].append({"source": "assets/web.yml", "dest": "/etc/sysconfig/mysqld_exporter"})
    m = load_manifest(write_exporter(tmp_path, data))
    with pytest.raises(HubError, match="/etc/sysconfig/mysqld_exporter: two files"):
        plan(m, "rpm", "el9")


def test_artifact_metadata(manifest: Any) -> None:
    assert metadata(plan(manifest, "rpm", "el8")) == {
        "name": "mysqld_exporter", "version": "0.19.0", "release": "1.el8", "arch": "x86_64",
        "summary": "Prometheus exporter for MySQL server metrics", "license": "Apache-2.0",
    }
    deb = metadata(plan(manifest, "deb", "ubuntu-24.04"))
    assert "/bin/sh" not in deb["depends"]
    assert deb["version"] == "0.19.0-1+ubuntu24.04"
    assert deb["depends"] == ["libcap2 (>= 1:2.25)", "passwd"]


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
    "user": "svc user$(id)",
    "home": "/var/lib/svc user",
    "comment": "it's a \"service\" `id`",
    "nologin": "/sbin/nologin",
    "unit": "my unit;reboot.service",
    "owned": [
        {"path": "/var/lib/a b;c", "owner": "svc user$(x)", "group": "g'r", "mode": "0750"},
    ],
    "seeded": [{"template": "/usr/share/t/$(x)", "dest": "/var/lib/a b;c/.conf", "mode": "0600"}],
}


@pytest.mark.parametrize("family", ["rpm", "deb"])
def test_every_interpolated_value_is_shell_quoted(family: str, tmp_path: Path) -> None:
    rendered = content.maintainer_scripts(family, HOSTILE)
    joined = "\n".join(rendered.values())
    for value in ("svc user$(id)", "my unit;reboot.service", "/var/lib/a b;c"):
        assert shlex.quote(value) in joined
    assert shlex.quote("svc user$(x):g'r") in joined
    for key, text in rendered.items():
        path = tmp_path / f"{family}-{key}"
        path.write_text(text)
        assert subprocess.run(["sh", "-n", str(path)]).returncode == 0


STUBS = (
    "getent", "groupadd", "useradd", "chown", "chmod", "install", "systemctl",
    "deb-systemd-helper", "deb-systemd-invoke", "dpkg-statoverride", "rm",
)


def run_script(text: str, tmp_path: Path, *args: str, systemd_running: bool, helpers: bool = True) -> list[list[str]]:
    """Runs a maintainer script with every command it may call replaced by a logging stub,
    and nothing else on PATH.

    `getent` finds nothing (a fresh system), `dpkg-statoverride --list` finds no override,
    `deb-systemd-helper was-enabled` says yes (as on a first installation), and the
    "is systemd running" probe points at a directory that exists or not."""
    bin_dir = tmp_path / "stubs"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.jsonl"
    log.write_text("")
    logger = f"{shlex.quote(sys.executable)} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'"
    for name in STUBS:
        stub = bin_dir / name
        if name.startswith("deb-systemd") and not helpers:
            stub.unlink(missing_ok=True)
            continue
        status = {"getent": 2, "dpkg-statoverride": 1}.get(name, 0)
        stub.write_text(f'#!/bin/sh\n{logger} {name} "$@" >> {shlex.quote(str(log))}\nexit {status}\n')
        stub.chmod(0o755)
    probe = tmp_path / "run-systemd-system"
    if systemd_running:
        probe.mkdir(exist_ok=True)
    elif probe.exists():
        probe.rmdir()
    path = tmp_path / "script"
    path.write_text(text.replace("/run/systemd/system", str(probe)))
    subprocess.run(["/bin/sh", str(path), *args], check=True, env={"PATH": str(bin_dir)})
    return [json.loads(line) for line in log.read_text().splitlines()]


def commands(calls: list[list[str]]) -> list[str]:
    return [" ".join(c) for c in calls if c[0] not in ("getent", "python3")]


@pytest.fixture
def rpm_scripts(manifest: Any) -> dict[str, str]:
    return scripts_of(plan(manifest, "rpm", "el9"))


@pytest.fixture
def deb_scripts(manifest: Any) -> dict[str, str]:
    return scripts_of(plan(manifest, "deb", "debian-12"))


U = "mysqld_exporter.service"


def test_rpm_pre_creates_the_account(rpm_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = run_script(rpm_scripts["preinstall"], tmp_path, "1", systemd_running=True)
    assert calls == [
        ["getent", "group", "mysqld_exporter"],
        ["groupadd", "-r", "mysqld_exporter"],
        ["getent", "passwd", "mysqld_exporter"],
        ["useradd", "-r", "-g", "mysqld_exporter", "-d", "/var/lib/mysqld_exporter", "-s", "/sbin/nologin",
         "-c", "mysqld_exporter service account (Monitoring Hub)", "mysqld_exporter"],
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
    owned = [c for c in commands(calls) if c.startswith(("chown", "chmod"))]
    if script == "postinstall":
        assert owned == [
            "chown mysqld_exporter:mysqld_exporter /var/lib/mysqld_exporter",
            "chmod 0700 /var/lib/mysqld_exporter",
            "chown mysqld_exporter:mysqld_exporter /var/lib/mysqld_exporter/.my.cnf",
            "chmod 0600 /var/lib/mysqld_exporter/.my.cnf",
        ]
    else:
        assert owned == []


def test_deb_postinst_first_install(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=True))
    dest = "/var/lib/mysqld_exporter/.my.cnf"
    assert calls == [
        "groupadd -r mysqld_exporter",
        "useradd -r -g mysqld_exporter -d /var/lib/mysqld_exporter -s /usr/sbin/nologin "
        "-c mysqld_exporter service account (Monitoring Hub) mysqld_exporter",
        f"install -D -m 0600 /usr/share/mysqld-exporter/default-config{dest} {dest}",
        "dpkg-statoverride --list /var/lib/mysqld_exporter",
        "chown mysqld_exporter:mysqld_exporter /var/lib/mysqld_exporter",
        "chmod 0700 /var/lib/mysqld_exporter",
        f"dpkg-statoverride --list {dest}",
        f"chown mysqld_exporter:mysqld_exporter {dest}",
        f"chmod 0600 {dest}",
        f"deb-systemd-helper unmask {U}",
        f"deb-systemd-helper --quiet was-enabled {U}",
        f"deb-systemd-helper enable {U}",
        "systemctl --system daemon-reload",
        f"deb-systemd-invoke start {U}",
    ]


def test_deb_postinst_upgrade_restarts(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(run_script(deb_scripts["postinstall"], tmp_path, "configure", "0.18.0-1+deb12", systemd_running=True))
    assert calls[-2:] == ["systemctl --system daemon-reload", f"deb-systemd-invoke restart {U}"]


def test_deb_postinst_in_a_chroot_enables_but_starts_nothing(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=False))
    assert f"deb-systemd-helper enable {U}" in calls
    assert not [c for c in calls if c.startswith(("systemctl", "deb-systemd-invoke"))]


def test_deb_postinst_without_init_system_helpers(deb_scripts: dict[str, str], tmp_path: Path) -> None:
    calls = commands(run_script(deb_scripts["postinstall"], tmp_path, "configure", "", systemd_running=True, helpers=False))
    assert calls[-4:] == [
        f"systemctl --no-reload enable {U}",
        "systemctl --system daemon-reload",
        f"systemctl --quiet is-enabled {U}",
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
            [f"deb-systemd-helper purge {U}", f"deb-systemd-helper unmask {U}", "rm -f /var/lib/mysqld_exporter/.my.cnf"],
        ),
    ],
)
def test_deb_removal(deb_scripts: dict[str, str], tmp_path: Path, script: str, args: list[str], expected: list[str]) -> None:
    assert commands(run_script(deb_scripts[script], tmp_path, *args, systemd_running=True)) == expected


def test_no_script_removes_the_user(rpm_scripts: dict[str, str], deb_scripts: dict[str, str]) -> None:
    for text in (*rpm_scripts.values(), *deb_scripts.values()):
        assert "userdel" not in text and "groupdel" not in text


# --- catalog -------------------------------------------------------------------------------


def test_package_urls() -> None:
    assert catalog.package_url("rpm", dist="el9", arch="arm64", package_name="x", filename="x.rpm") == "el9/aarch64/x.rpm"
    assert (
        catalog.package_url("deb", dist="debian-12", arch="amd64", package_name="node-exporter", filename="n.deb")
        == "pool/main/n/node-exporter/n.deb"
    )
    assert catalog.deb_pool_prefix("libfoo") == "libf"
    assert catalog.deb_pool_prefix("lib") == "l"


def test_package_artifact_validates(tmp_path: Path, manifest: Any) -> None:
    p = plan(manifest, "deb", "debian-12")
    package = tmp_path / p.filename
    package.write_bytes(b"not really a deb")
    artifact = catalog.package_artifact(
        kind="deb", exporter="mysqld_exporter", version="0.19.0", arch="amd64", dist="debian-12",
        build_date=SOURCE_DATE, path=package, package_name=p.name, metadata=metadata(p),
        source={"url": LOCK["archives"]["amd64"]["url"], "sha256": LOCK["archives"]["amd64"]["sha256"]},
    )
    schemas.validate(artifact, "artifact")
    assert artifact["package"]["size_bytes"] == 16
    assert artifact["package"]["url"] == f"pool/main/m/mysqld-exporter/{p.filename}"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(status="failed"), "status: 'success' was expected"),
        (lambda a: a["package"].update(sha256="AB" * 32), "package.sha256: 'ABAB"),
        (lambda a: a["package"].update(sha256="ab" * 32 + "\n"), "package.sha256"),
        (lambda a: a["package"].update(url="/el9/x86_64/x.rpm"), "package.url"),
        (lambda a: a.update(dist="debian-12"), "dist: 'debian-12' is not one of"),
        (lambda a: a.update(extra=1), "Additional properties are not allowed"),
        (lambda a: a.update(deb_metadata={}), "should not be valid"),
        (lambda a: a.pop("rpm_metadata"), "'rpm_metadata' is a required property"),
        (lambda a: a.update(build_date="2025-06-01 12:00"), "build_date"),
    ],
)
def test_artifact_schema_is_strict(change: Any, message: str) -> None:
    artifact = {
        "format_version": "3.0", "artifact_type": "rpm", "exporter": "node_exporter", "version": "1.11.0",
        "arch": "amd64", "dist": "el9", "build_date": SOURCE_DATE, "status": "success",
        "package": {"filename": "node_exporter-1.11.0-1.el9.x86_64.rpm", "url": "el9/x86_64/node_exporter-1.11.0-1.el9.x86_64.rpm",
                    "sha256": "ab" * 32, "size_bytes": 10, "unsigned_sha256": "ab" * 32},
        "rpm_metadata": {"name": "node_exporter", "version": "1.11.0", "release": "1.el9", "arch": "x86_64",
                         "summary": "s", "license": "Apache-2.0"},
        "source": {"url": "https://github.com/x/y.tar.gz", "sha256": "cd" * 32},
    }
    schemas.validate(artifact, "artifact")
    change(artifact)
    with pytest.raises(schemas.SchemaError, match=message.replace("(", r"\(")):
        schemas.validate(artifact, "artifact", what="rpm_amd64_el9.json")


def test_entries_are_frozen() -> None:
    entry = Entry("/usr/bin/x", 0o755, src="bin/x")
    with pytest.raises(AttributeError):
        entry.mode = 0o777  # type: ignore[misc]
