"""Small unsigned sites, built the way `./pants package //:site` builds them, for the publish
tests (engine and integration). Not used by any build.

Real packages (nfpm, `HUB_NFPM`, tiny payloads) with their artifact JSONs, per-package
entries and real manifests go through `hub.site.assemble.build_site`, the same merge the `//:site`
rule runs: catalog, YUM and APT trees, users' files and portal (with READMEs).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hub.catalog import artifact as catalog
from hub.common import matrix
from hub.repos import apt
from hub.repos import yum
from testkit import synthetic
from hub.repos.common import write_entry
from hub.common.dates import format_source_date
from hub.common import files
from testkit.packages import SOURCE_DATE, make_package

EXPORTER = "node_exporter"
RPM_DISTS = ("el9",)
DEB_DISTS = ("debian-12", "ubuntu-24.04")
ARCHS = ("amd64",)
BASE_URL = "https://packages.example.org/hub"
README = "# node_exporter\n\nSynthetic exporter for the **publish** tests.\n"


@dataclass(frozen=True)
class Built:
    site: Path
    rpms: dict[str, Path]  # artifact id -> the package as built (unsigned)
    debs: dict[str, Path]


def version_date(version: str) -> int:
    """A build time per version (newer versions later): the metadata dates come from it."""
    parts = [int(p) for p in re.findall(r"\d+", version)][:3] + [0, 0, 0]
    return SOURCE_DATE + parts[0] * 100_000 + parts[1] * 1_000 + parts[2] * 10


def build_unsigned_site(
    root: str | os.PathLike[str],
    version: str,
    *,
    exporter: str = EXPORTER,
    rpm_dists: Sequence[str] = RPM_DISTS,
    deb_dists: Sequence[str] = DEB_DISTS,
    archs: Sequence[str] = ARCHS,
    base_url: str = BASE_URL,
) -> Built:
    """`root/site`: the unsigned site of one exporter at `version` (a fresh `root`)."""
    from hub.site.assemble import build_site

    root = Path(root)
    epoch = version_date(version)
    build_date = format_source_date(epoch)
    spec = synthetic.Spec(
        name=exporter,
        version=f"v{version}",
        archs=tuple(archs),
        rpm=tuple(rpm_dists),
        deb=tuple(deb_dists),
        docker=False,
        build_date=build_date,
        readme=README,
    )
    exporters = root / "exporters"
    synthetic.write_manifest(exporters, spec)
    built = root / "built" / exporter
    entries = root / "entries"
    rpms: dict[str, Path] = {}
    debs: dict[str, Path] = {}
    source = {
        "url": f"https://github.com/example/{exporter}/releases/download/v{version}/{exporter}.tar.gz",
        "sha256": "0" * 64,
    }
    for dist in rpm_dists:
        d = matrix.DISTS[dist]
        for arch in archs:
            rpm = make_package(
                "rpm",
                built,
                name=exporter,
                version=version,
                release=f"1.{d.release_suffix}",
                arch=arch,
                payload=f"{exporter} {version} {dist} {arch}".encode(),
                source_date=epoch,
            )
            aid = matrix.artifact_id("rpm", arch, dist)
            metadata = {
                "name": exporter,
                "version": version,
                "release": f"1.{d.release_suffix}",
                "arch": matrix.RPM_ARCH[arch],
                "summary": f"Synthetic {exporter}",
                "license": "Apache-2.0",
            }
            doc = catalog.package_artifact(
                kind="rpm",
                exporter=exporter,
                version=version,
                arch=arch,
                dist=dist,
                build_date=build_date,
                path=rpm,
                package_name=exporter,
                metadata=metadata,
                source=source,
            )
            files.write_json(built / f"{aid}.json", doc)
            write_entry(entries / "yum" / f"{rpm.name}.json", yum.yum_entry(rpm, dist=dist))
            rpms[aid] = rpm
    deb_name = matrix.deb_package_name(exporter)
    for dist in deb_dists:
        d = matrix.DISTS[dist]
        for arch in archs:
            deb = make_package(
                "deb",
                built,
                name=deb_name,
                version=version,
                release=f"1+{d.release_suffix}",
                arch=arch,
                payload=f"{exporter} {version} {dist} {arch}".encode(),
                source_date=epoch,
            )
            aid = matrix.artifact_id("deb", arch, dist)
            metadata = {
                "package": deb_name,
                "version": f"{version}-1+{d.release_suffix}",
                "architecture": arch,
                "section": "net",
                "priority": "optional",
                "maintainer": "Monitoring Hub <hub@example.org>",
                "depends": [],
                "conflicts": [],
                "replaces": [],
            }
            doc = catalog.package_artifact(
                kind="deb",
                exporter=exporter,
                version=version,
                arch=arch,
                dist=dist,
                build_date=build_date,
                path=deb,
                package_name=deb_name,
                metadata=metadata,
                source=source,
            )
            files.write_json(built / f"{aid}.json", doc)
            write_entry(entries / "apt" / f"{deb.name}.json", apt.apt_entry(deb))
            debs[aid] = deb
    site = root / "site"
    build_site(root / "built", entries, exporters, site, base_url)
    return Built(site, rpms, debs)
