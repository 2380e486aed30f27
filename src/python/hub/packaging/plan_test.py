"""hub.packaging.plan: what a package holds and declares, from the manifest: request checks,
the generated files (unit, environment file, Debian docs, licenses), descriptions and the
unique destination of every path."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from testkit.packaging import LOCK, MANIFEST, generated, plan, write_exporter

from hub.common.errors import HubError, ManifestError
from hub.manifest.load import load_manifest
from hub.packaging.nfpm import nfpm_config
from hub.packaging.plan import Entry, plan_package
from hub.upstream.lock import LockedArchive


def test_static_binaries_need_no_libc(manifest: Any) -> None:
    assert "libc6" not in plan(manifest, "deb", "debian-12").depends


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
    with pytest.raises(
        HubError,
        match=re.escape(
            "artifacts.rpm.directories[0].owner: expected root or the service user 'mysqld_exporter', got 'mysql'"
        ),
    ):
        load_manifest(write_exporter(tmp_path, data))


# --- generated files -----------------------------------------------------------------------


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
        "ProtectSystem=strict",
        "PrivateMounts=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectHostname=yes",
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",
        "RemoveIPC=yes",
        "KeyringMode=private",
        "UMask=0077",
        "SystemCallArchitectures=native",
        "CapabilityBoundingSet=",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectClock=yes",
        "ProtectProc=invisible",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=~@clock @cpu-emulation @debug @module @mount @obsolete @privileged @raw-io @reboot "
        "@resources @swap",
        "SystemCallErrorNumber=EPERM",
        "ReadWritePaths=-/var/lib/mysqld_exporter",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    deb_unit = generated(plan(manifest, "deb", "debian-12"), "/usr/lib/systemd/system/mysqld_exporter.service")
    assert "EnvironmentFile=-/etc/default/mysqld_exporter\n" in deb_unit


def test_root_service_has_no_user_and_no_account(tmp_path: Path) -> None:
    data = json.loads(json.dumps(MANIFEST))
    for kind in ("rpm", "deb"):
        data["artifacts"][kind]["system_user"] = "root"
        data["artifacts"][kind]["systemd"]["run_as_root"] = "reads what only root may read"
        data["artifacts"][kind]["directories"] = []
    m = load_manifest(write_exporter(tmp_path, data))
    p = plan(m, "rpm", "el9")
    unit = generated(p, "/usr/lib/systemd/system/mysqld_exporter.service")
    assert "User=" not in unit and "Group=" not in unit
    assert "CapabilityBoundingSet=\n" in unit + "\n", "root keeps no capability it was not granted"
    scripts = dict(p.scripts)
    assert "sysusers" not in scripts["preinstall"] and "useradd" not in scripts["preinstall"]
    assert not [e for e in p.entries if e.dst.startswith("/usr/lib/sysusers.d/")]
    assert p.depends == ("libcap >= 2.25", "/bin/sh")
    assert plan(m, "deb", "debian-12").depends == ("libcap2 (>= 1:2.25)",)


def test_without_homepage_the_unit_has_no_documentation(tmp_path: Path) -> None:
    """A local upstream has no GitHub URL to fall back on: no Documentation= at all."""
    directory = tmp_path / "exporters" / "local_exporter"
    (directory / "archives").mkdir(parents=True)
    (directory / "archives" / "local_exporter-1.0.0.linux-amd64.tar.gz").write_bytes(b"x")
    (directory / "manifest.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "local_exporter",
                "description": "Local exporter",
                "category": "System",
                "version": "1.0.0",
                "upstream": {"local": {"amd64": "archives/local_exporter-1.0.0.linux-amd64.tar.gz"}},
                "build": {"binary_name": "local_exporter", "archs": ["amd64"]},
            }
        )
    )
    m = load_manifest(directory / "manifest.yaml")
    lock = dataclasses.replace(
        LOCK, version="1.0.0", archives={"amd64": LockedArchive("archives/x.tar.gz", "ab" * 32, 1)}
    )
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
    """A file over a generated one: the privilege policy keeps extra files out of the
    environment file's directory, and the plan refuses what the policy still allows (the
    template of a seeded configuration file)."""
    data = json.loads(json.dumps(MANIFEST))
    template = "/usr/share/mysqld-exporter/default-config/var/lib/mysqld_exporter/.my.cnf"
    data["artifacts"]["deb"]["extra_files"].append({"source": "assets/web.yml", "dest": template, "config": False})
    m = load_manifest(write_exporter(tmp_path, data))
    with pytest.raises(HubError, match=f"{template}: two files"):
        plan(m, "deb", "debian-12")
    data["artifacts"]["rpm"]["extra_files"].append(
        {"source": "assets/web.yml", "dest": "/etc/sysconfig/mysqld_exporter"}
    )
    with pytest.raises(ManifestError, match="'/etc/sysconfig/mysqld_exporter' is outside this exporter's paths"):
        load_manifest(write_exporter(tmp_path, data))


def test_entries_are_frozen() -> None:
    entry = Entry("/usr/bin/x", 0o755, src="bin/x")
    with pytest.raises(AttributeError):
        entry.mode = 0o777  # type: ignore[misc]
