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

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

from hub.common.errors import HubError


def _place(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _place_sbom(record_path: Path, ref: Any, out: Path) -> None:
    src = record_path.parent / ref["filename"]
    if not src.is_file():
        raise HubError(f"{record_path}: SBOM {ref['filename']} is missing beside it")
    _place(src, out / ref["url"])


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
        _place(src, out / package["url"])
        if "sbom" in record:
            _place_sbom(record_path, record["sbom"], out)
        newest = max(newest or record["build_date"], record["build_date"])
    return newest


def build_site(built: Path, entries: Path, exporters: Path, out: Path, base_url: str) -> None:
    from hub.cli import main as hub

    out.mkdir(parents=True, exist_ok=True)
    source_date = place_packages(built, out)
    manifests = sorted(str(p) for p in exporters.glob("*/manifest.yaml"))
    steps = [
        ["catalog", "--manifests", *manifests, "--artifacts", str(built), "--out", str(out / "catalog")],
        ["yum-repo", "--entries", str(entries / "yum"), "--out", str(out)],
        ["apt-repo", "--entries", str(entries / "apt"), "--out", str(out)],
        ["repo-files", "--base-url", base_url, "--out", str(out)],
        ["portal", "--catalog", str(out / "catalog"), "--readmes", str(exporters), "--out", str(out),
         "--base-url", base_url],
    ]
    if source_date:  # metadata timestamps come from the inputs, never the clock
        steps[1] += ["--source-date", source_date]
        steps[2] += ["--source-date", source_date]
    for argv in steps:
        code = hub(argv)
        if code:
            raise HubError(f"site: `hub {argv[0]}` failed (exit {code})")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("site", help="assemble the unsigned site from built artifacts")
    p.add_argument("--built", required=True, metavar="DIR", help="<exporter>/ packages and artifact JSONs")
    p.add_argument("--entries", required=True, metavar="DIR", help="yum/ and apt/ per-package entries")
    p.add_argument("--exporters", required=True, metavar="DIR", help="the exporters directory (manifests, READMEs)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--base-url", required=True, metavar="URL", help="where the site will be served")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    build_site(Path(args.built), Path(args.entries), Path(args.exporters), Path(args.out), args.base_url)
    return 0
