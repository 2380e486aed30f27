"""The packaging tests' exporter: a stand-in for mysqld_exporter with every feature a package
can have (two binaries, systemd arguments, a secret config file in a service-owned directory,
a config file in /etc, dependencies, conflicts), its upstream lock, and plans made from them.

Not used by any build. `write_exporter` lays out an exporter directory (manifest and assets)
the way the repository does; `plan` plans one package of it without touching the disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hub.common import matrix
from hub.packaging.plan import PackagePlan, plan_package
from hub.upstream.lock import Lock, LockedArchive

SOURCE_DATE = "2025-06-01T12:00:00Z"

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
                {
                    "path": "/var/lib/mysqld_exporter",
                    "mode": "0700",
                    "owner": "mysqld_exporter",
                    "group": "mysqld_exporter",
                },
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

LOCK = Lock(
    exporter="mysqld_exporter",
    version="v0.19.0",
    source_date=SOURCE_DATE,
    archives={
        arch: LockedArchive(
            url=f"https://github.com/prometheus/mysqld_exporter/releases/download/v0.19.0/mysqld_exporter-0.19.0.linux-{arch}.tar.gz",
            sha256="ab" * 32,
            size=100,
        )
        for arch in matrix.ARCHES
    },
)


def write_exporter(root: Path, data: dict[str, Any]) -> Path:
    """`<root>/exporters/<name>/`: the manifest of `data` and its assets; returns the manifest's path."""
    directory = root / "exporters" / data["name"]
    (directory / "assets").mkdir(parents=True, exist_ok=True)
    (directory / "assets" / "my.cnf").write_text("[client]\nuser=exporter\n")
    (directory / "assets" / "web.yml").write_text("# web\n")
    path = directory / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def plan(manifest: Any, kind: str, dist: str, arch: str = "amd64", **kwargs: Any) -> PackagePlan:
    """The plan of one package of `manifest`, pinned by LOCK, with its binaries in bin/."""
    return plan_package(manifest, LOCK, kind=kind, arch=arch, dist=dist, binaries_dir="bin", **kwargs)


def generated(p: PackagePlan, dst: str) -> str:
    """The text of a file the plan generates (a unit, a copyright file...)."""
    entry = next(e for e in p.entries if e.dst == dst)
    assert entry.content is not None
    return entry.content.decode()
