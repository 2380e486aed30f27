"""The nfpm side of packaging: a plan written as nfpm's configuration, and nfpm run on it.

`nfpm_config` is pure: it returns a dict (dumped as JSON, which is valid YAML and needs no
quoting rules). `stage` writes the generated files, scripts and config under a work
directory; `run_nfpm` runs `nfpm package` with SOURCE_DATE_EPOCH from the lock.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from hub.common.errors import HubError
from hub.packaging.plan import (
    DEB_PRIORITY,
    DEB_SECTION,
    MAINTAINER,
    RPM_GROUP,
    SCRIPT_SHELL,
    VENDOR,
    Entry,
    PackagePlan,
)

# rpm records the build machine's name in its header; nfpm would use this machine's.
BUILDHOST = "monitoring-hub"
RPM_ONLY_SCRIPTS = ("pretrans", "posttrans")
# hub.common.matrix names the algorithm each target's rpm/dpkg can read; the level, per package
# family, is a build-cost trade-off chosen from the table in docs/benchmarks.md ("Compression:
# level against CPU and size"). nfpm 2.48.0 compresses zstd with klauspost/compress, which has
# four speeds, not libzstd's 22 levels: 1-2 "fastest", 3-5 "default", 6-9 "better", 10 and up
# "best"; each level below is the lowest that selects its speed, so it says what really runs.
# - RPMs: "better" (zstd:6), 4x less CPU than "best" for +5.9-6.3 % on those files. An RPM payload
#   is compressed once per package (el9 and el10 cannot share one without writing RPM headers).
# - DEBs: "best" (zstd:10, the same bytes as the zstd:19 of before): the four dists of an arch
#   share one data member, compressed once (hub.packaging.debs), so buying size there is cheap.
# Together: +2.9 % for one exporter's 14 packages against el8 xz and zstd:19 everywhere else.
COMPRESSION_LEVEL: dict[str, dict[str, str]] = {
    "rpm": {"zstd": "zstd:6"},
    "deb": {"zstd": "zstd:10"},
}


# nfpm expands environment variables ($NAME, ${NAME}, $1...) in some fields of its
# configuration: in 2.48 name, version, release, maintainer, vendor, description, homepage,
# depends, conflicts, replaces, provides and rpm.packager (not license, section, paths or
# rpm.summary). Go's os.Expand has no escape for `$`, so each `$` of a value in those fields is
# written as a reference to this variable, which run_nfpm sets to "$". Only the description
# can hold a `$` today (the schema's patterns keep it out of the others).
DOLLAR_VARIABLE = "HUB_NFPM_DOLLAR"


def nfpm_literal(value: str) -> str:
    """A value for a field nfpm expands, which nfpm writes back exactly as given."""
    return value.replace("$", "${" + DOLLAR_VARIABLE + "}")


def nfpm_compression(family: str, name: str) -> str:
    """nfpm's compression setting for a package family ("rpm", "deb") and an algorithm."""
    return COMPRESSION_LEVEL[family].get(name, name)


def staged_files(plan: PackagePlan, workdir: str) -> list[tuple[Entry, str | None]]:
    """Each entry with the file nfpm reads it from (generated ones live under workdir)."""
    out: list[tuple[Entry, str | None]] = []
    for i, e in enumerate(plan.entries):
        if e.content is not None:
            out.append((e, os.path.join(workdir, "files", f"{i:03d}-{os.path.basename(e.dst)}")))
        else:
            out.append((e, e.src))
    return out


def nfpm_config(plan: PackagePlan, workdir: str, compression: str | None = None) -> dict[str, Any]:
    """The nfpm configuration (JSON is valid YAML, and needs no quoting rules). `compression`
    replaces the configured setting (hub.packaging.debs builds uncompressed data members)."""
    compression = compression or nfpm_compression(plan.kind, plan.dist.compression)
    contents = []
    for entry, src in staged_files(plan, workdir):
        item: dict[str, Any] = {
            "dst": entry.dst,
            "file_info": {"mode": entry.mode, "owner": entry.owner, "group": entry.group},
        }
        if entry.is_dir:
            item["type"] = "dir"
        else:
            item["src"] = src
            if entry.config:
                item["type"] = "config|noreplace"
            elif plan.kind == "rpm" and entry.rpm_type:
                item["type"] = entry.rpm_type
        contents.append(item)
    # nfpm takes RPM's %pretrans/%posttrans under rpm.scripts, the others at the top level.
    scripts = {key: os.path.join(workdir, "scripts", key) for key, _ in plan.scripts if key not in RPM_ONLY_SCRIPTS}
    rpm_scripts = {key: os.path.join(workdir, "scripts", key) for key, _ in plan.scripts if key in RPM_ONLY_SCRIPTS}
    config: dict[str, Any] = {
        "name": plan.name,
        "arch": plan.arch,
        "platform": "linux",
        "version": plan.version,
        "version_schema": "none",  # already an RPM/dpkg version (see package_version)
        "release": plan.release,
        "maintainer": MAINTAINER,
        "vendor": VENDOR,
        "license": plan.license,
        "description": nfpm_literal(plan.description),
        "mtime": plan.source_date,
        "umask": 0o022,
        "disable_globbing": True,  # paths are literal, even with [ or *
        "depends": [nfpm_literal(d) for d in plan.depends],
        "conflicts": [nfpm_literal(c) for c in plan.conflicts],
        "replaces": [nfpm_literal(r) for r in plan.replaces],
        "contents": contents,
        "scripts": scripts,
    }
    if plan.homepage:
        config["homepage"] = nfpm_literal(plan.homepage)
    if plan.kind == "rpm":
        config["changelog"] = os.path.join(workdir, "changelog.yaml")
        config["rpm"] = {
            "arch": plan.pkg_arch,
            "buildhost": BUILDHOST,
            "compression": compression,
            "group": RPM_GROUP,
            "packager": MAINTAINER,
            # Requires(post): nfpm 2.48 has no pre/preun/postun variants (see SCRIPT_SHELL).
            "requires": {"post": [SCRIPT_SHELL]},
            "summary": plan.summary,
        }
        if rpm_scripts:
            config["rpm"]["scripts"] = rpm_scripts
    else:
        config["section"] = DEB_SECTION
        config["priority"] = DEB_PRIORITY
        config["deb"] = {"arch": plan.pkg_arch, "compression": compression}
    return config


def stage(plan: PackagePlan, workdir: str, compression: str | None = None) -> str:
    """Writes the generated files, the scripts and the config; returns the config's path."""
    for entry, src in staged_files(plan, workdir):
        if entry.content is not None and src is not None:
            os.makedirs(os.path.dirname(src), exist_ok=True)
            Path(src).write_bytes(entry.content)
    os.makedirs(os.path.join(workdir, "scripts"), exist_ok=True)
    for key, text in plan.scripts:
        Path(workdir, "scripts", key).write_text(text)
    if plan.kind == "rpm":
        Path(workdir, "changelog.yaml").write_text(json.dumps(plan.rpm_changelog(), indent=2))
    config_path = os.path.join(workdir, "nfpm.yaml")
    Path(config_path).write_text(config_text(plan, workdir, compression), encoding="utf-8")
    return config_path


def config_text(plan: PackagePlan, workdir: str, compression: str | None = None) -> str:
    """The configuration as nfpm reads it: JSON, which YAML reads too, but with characters
    outside the BMP written as they are. JSON would escape them as surrogate pairs
    (\\ud83d\\ude00), which YAML refuses ("invalid Unicode character escape code").
    The manifest refuses every character YAML cannot hold raw (controls, surrogates,
    unassigned code points)."""
    return json.dumps(nfpm_config(plan, workdir, compression), indent=2, sort_keys=True, ensure_ascii=False)


def nfpm_command(nfpm: str, config_path: str, packager: str, target: str) -> list[str]:
    return [nfpm, "package", "--config", config_path, "--packager", packager, "--target", target]


def run_nfpm(nfpm: str, config_path: str, packager: str, target: str, source_date_epoch: int) -> Path:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        DOLLAR_VARIABLE: "$",
        "TZ": "UTC",
        "LC_ALL": "C",
    }
    result = subprocess.run(
        nfpm_command(nfpm, config_path, packager, target),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        raise HubError(f"nfpm failed (exit {result.returncode}):\n{result.stdout.strip()}")
    path = Path(target)
    if not path.is_file():
        raise HubError(f"nfpm reported success but wrote no {target}")
    return path
