"""hub.packaging.nfpm: the nfpm configuration of planned RPMs and DEBs (header fields, file
types and modes, compression per dist) and the nfpm command line, without running nfpm
(build_integration_test.py runs it)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testkit.packaging import SOURCE_DATE, plan

from hub.common import matrix
from hub.packaging.nfpm import nfpm_command, nfpm_compression, nfpm_config


def contents_by_dst(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    by_dst = {item["dst"]: item for item in config["contents"]}
    assert len(by_dst) == len(config["contents"]), "a path appears twice"
    return by_dst


def summary_of(item: dict[str, Any]) -> tuple[str, str]:
    return item.get("type", ""), oct(item["file_info"]["mode"])


@pytest.mark.parametrize(
    "dist, compression, release",
    [("el8", "zstd:6", "1.el8"), ("el9", "zstd:6", "1.el9"), ("el10", "zstd:6", "1.el10")],
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
        "scripts": {"posttrans": "/w/scripts/posttrans"},
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
        "/usr/lib/sysusers.d/mysqld_exporter.conf": ("", "0o644"),
    }
    assert {dst: summary_of(item) for dst, item in items.items()} == expected
    # rpm gives the service its paths itself (%attr): the account exists since %pre.
    service_owned = {"/var/lib/mysqld_exporter", "/var/lib/mysqld_exporter/.my.cnf"}
    for dst, item in items.items():
        who = "mysqld_exporter" if dst in service_owned else "root"
        assert item["file_info"]["owner"] == item["file_info"]["group"] == who, dst
    assert items["/usr/bin/mysqld_tool"]["src"] == "bin/mysqld_tool"
    assert items["/etc/mysqld_exporter/web.yml"]["src"].endswith("exporters/mysqld_exporter/assets/web.yml")
    assert items["/etc/sysconfig/mysqld_exporter"]["src"].startswith("/w/files/")


@pytest.mark.parametrize(
    "dist, suffix",
    [("debian-12", "deb12"), ("debian-13", "deb13"), ("ubuntu-22.04", "ubuntu22.04"), ("ubuntu-24.04", "ubuntu24.04")],
)
def test_deb_config(manifest: Any, dist: str, suffix: str) -> None:
    p = plan(manifest, "deb", dist, arch="arm64", dynamic_binaries=["mysqld_exporter"])
    config = nfpm_config(p, "/w")
    assert p.filename == f"mysqld-exporter_0.19.0-1+{suffix}_arm64.deb"
    assert p.full_version == f"0.19.0-1+{suffix}"
    assert (config["name"], config["version"], config["release"]) == ("mysqld-exporter", "0.19.0", f"1+{suffix}")
    assert config["deb"] == {"arch": "arm64", "compression": "zstd:10"}
    assert (config["section"], config["priority"]) == ("net", "optional")
    assert "rpm" not in config and "changelog" not in config
    assert config["depends"] == ["libcap2 (>= 1:2.25)", "passwd", "systemd | systemd-tmpfiles", "libc6"]
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
        # Outside /etc: a template that systemd-tmpfiles copies when missing (Policy 10.7.2).
        "/usr/share/mysqld-exporter/default-config/var/lib/mysqld_exporter/.my.cnf": ("", "0o600"),
        "/usr/lib/sysusers.d/mysqld-exporter.conf": ("", "0o644"),
        "/usr/lib/tmpfiles.d/mysqld-exporter.conf": ("", "0o644"),
        "/var/lib/mysqld_exporter": ("dir", "0o700"),
        "/etc/mysqld_exporter": ("dir", "0o755"),
        doc: ("dir", "0o755"),
        f"{doc}/copyright": ("", "0o644"),
        f"{doc}/changelog.Debian.gz": ("", "0o644"),
        f"{doc}/README.Debian": ("", "0o644"),
        "/usr/share/lintian/overrides/mysqld-exporter": ("", "0o644"),
    }
    assert {dst: summary_of(item) for dst, item in items.items()} == expected
    # A DEB's payload is root's: tmpfiles.d gives the service its paths.
    assert all(item["file_info"]["owner"] == item["file_info"]["group"] == "root" for item in items.values())


def test_arm64_rpm(manifest: Any) -> None:
    p = plan(manifest, "rpm", "el9", arch="arm64")
    assert p.filename == "mysqld_exporter-0.19.0-1.el9.aarch64.rpm"
    assert nfpm_config(p, "/w")["rpm"]["arch"] == "aarch64"


def test_nfpm_command() -> None:
    assert nfpm_command("tools/nfpm", "w/nfpm.yaml", "deb", "out/x.deb") == [
        "tools/nfpm",
        "package",
        "--config",
        "w/nfpm.yaml",
        "--packager",
        "deb",
        "--target",
        "out/x.deb",
    ]


def test_compression_levels_follow_the_dists() -> None:
    """zstd for every dist (EL 8.2 and later read it); per family the lowest level of the Go
    encoder speed chosen in docs/benchmarks.md: "better" for RPMs, "best" for DEBs."""
    assert {name: nfpm_compression(d.family, d.compression) for name, d in matrix.DISTS.items()} == {
        "el8": "zstd:6",
        "el9": "zstd:6",
        "el10": "zstd:6",
        "debian-12": "zstd:10",
        "debian-13": "zstd:10",
        "ubuntu-22.04": "zstd:10",
        "ubuntu-24.04": "zstd:10",
    }


def test_the_config_is_json(manifest: Any) -> None:
    config = nfpm_config(plan(manifest, "deb", "debian-12"), "/w")
    assert json.loads(json.dumps(config)) == config
