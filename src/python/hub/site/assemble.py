"""`hub site`: assemble the unsigned site from built artifacts (the merge step of `//:site`).

Inputs, as the Pants rule lays them out in the sandbox:
  built/<exporter>/...            packages, their artifact JSONs and docker.json
  entries/yum/*.json              one createrepo_c entry per RPM (cached per package)
  entries/apt/*.json              one Packages stanza per .deb (cached per package)
  exporters/<name>/manifest.yaml  the declared matrix (and README.md for the portal)
Output (`--out`): catalog/, <dist>/<rpm_arch>/ YUM repos, pool/ + dists/ APT archive (each
package's SBOM `<package>.cdx.json` beside it), images/<exporter>/ (the images' SBOMs), the
users' .repo and .sources files, and the portal. Nothing here reads an RPM or .deb again:
package metadata comes from the cached entries, so adding one exporter costs one merge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.catalog import aggregate
from hub.common import files
from hub.common.errors import HubError
from hub.manifest.load import MANIFEST_FILE, load_manifest
from hub.repos import apt, yum
from hub.repos import user_files
from hub.repos.common import load_entries
from hub.site import portal


def _place_sbom(record_path: Path, ref: Any, out: Path) -> None:
    src = record_path.parent / ref["filename"]
    if not src.is_file():
        raise HubError(f"{record_path}: SBOM {ref['filename']} is missing beside it")
    files.link_or_copy(src, out / ref["url"])


def place_packages(built: Path, out: Path) -> str | None:
    """Copies each package to its `package.url`, and each SBOM (packages' and images') to its
    `sbom.url`; returns the newest build_date of a package seen."""
    newest = None
    for record_path in sorted(built.glob("*/*.json")):
        if record_path.name.endswith(".cdx.json"):
            continue  # an SBOM, placed from the record that names it
        record = json.loads(record_path.read_text())
        if record.get("artifact_type") == "docker":
            for image in record.get("images", []):
                for m in image.get("manifests", []):
                    if "sbom" in m:
                        _place_sbom(record_path, m["sbom"], out)
            continue
        if record.get("artifact_type") not in ("rpm", "deb"):
            continue
        package = record["package"]
        src = record_path.parent / package["filename"]
        if not src.is_file():
            raise HubError(f"{record_path}: package {package['filename']} is missing beside it")
        files.link_or_copy(src, out / package["url"])
        if "sbom" in record:
            _place_sbom(record_path, record["sbom"], out)
        newest = max(newest or record["build_date"], record["build_date"])
    return newest


def build_site(built: Path, entries: Path, exporters: Path, out: Path, base_url: str) -> None:
    """The unsigned site: packages at their URLs, the catalog, the YUM and APT metadata from
    the per-package entries, the users' repository files and the portal."""
    out.mkdir(parents=True, exist_ok=True)
    source_date = place_packages(built, out)  # metadata timestamps come from the inputs
    manifests = [load_manifest(p) for p in sorted(str(p) for p in exporters.glob(f"*/{MANIFEST_FILE}"))]
    aggregate.build_catalog(manifests, aggregate.read_artifacts([built]), out / "catalog")
    yum.build_yum_site(out, load_entries([entries / "yum"], "yum"), source_date=source_date)
    apt.build_apt_site(out, load_entries([entries / "apt"], "apt"), source_date=source_date)
    user_files.write_user_files(out, base_url)
    portal.build_portal(out / "catalog", out, readmes=exporters, base_url=base_url)
