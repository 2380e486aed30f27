"""`check_site`: is a signed site consistent? Run on every snapshot before it is published.

Every file repomd.xml and primary name, every index a Release names and every .deb a Packages
names exists with its size and sha256; each repomd.xml and Release has its signature files;
every catalog `package.url` and SBOM url matches its file; no hidden (temporary) name exists.
Each file is hashed once, however many documents name it (hard links included).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping

from hub.catalog.artifact import file_digest
from hub.site.carry import repomd_locations

_COMMON_NS = "{http://linux.duke.edu/metadata/common}"


class _Digests:
    """(sha256, size) of a file, or None when it is missing; each inode is read once."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], tuple[str, int]] = {}

    def __call__(self, path: Path) -> tuple[str, int] | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_dev, st.st_ino)
        if key not in self.cache:
            self.cache[key] = file_digest(path)
        return self.cache[key]


def _release_sha256(text: str) -> dict[str, tuple[str, int]]:
    """{index path: (sha256, size)} of a Release file's SHA256 section."""
    out, section = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            section = line.split(":", 1)[0]
        elif section == "SHA256" and line.strip():
            digest, size, name = line.split()
            out[name] = (digest, int(size))
    return out


def _sbom_refs(data: Any) -> list[Mapping[str, Any]]:
    """The SBOM references of an artifact JSON: `sbom` of a package, `images[].manifests[].sbom`."""
    if not isinstance(data, dict):
        return []
    refs = [data.get("sbom")]
    for image in data.get("images") or []:
        refs += [m.get("sbom") for m in image.get("manifests") or [] if isinstance(m, dict)]
    return [r for r in refs if isinstance(r, dict) and isinstance(r.get("url"), str)]


def _primary_package(pkg: ET.Element) -> tuple[str, str | None, int] | None:
    """(location href, sha256, size) of a primary.xml package; None if one is missing."""
    location = pkg.find(f"{_COMMON_NS}location")
    size = pkg.find(f"{_COMMON_NS}size")
    checksum = pkg.find(f"{_COMMON_NS}checksum")
    href = location.get("href") if location is not None else None
    package_size = size.get("package") if size is not None else None
    if href is None or package_size is None or checksum is None:
        return None
    return href, checksum.text, int(package_size)


def check_site(site: Path) -> list[str]:
    """Problems of a signed site (empty: consistent): every file repomd.xml and primary name,
    every index a Release names and every .deb a Packages names exists with its size and
    sha256, each has its signature file, every catalog package.url and SBOM url matches, and
    no hidden (temporary) name exists."""
    problems: list[str] = []
    digest = _Digests()

    def expect(path: Path, sha256: str | None, size: int | None, what: str) -> None:
        got = digest(path)
        if got is None:
            problems.append(f"{what}: {path.relative_to(site)} is missing")
        elif (sha256 is not None and got[0] != sha256) or (size is not None and got[1] != size):
            problems.append(
                f"{what}: {path.relative_to(site)} has sha256 {got[0]} size {got[1]}, expected {sha256} {size}"
            )

    for repomd in sorted(site.glob("*/*/repodata/repomd.xml")):
        repo = repomd.parent.parent
        if not repomd.with_name("repomd.xml.asc").is_file():
            problems.append(f"{repomd.relative_to(site)}: no repomd.xml.asc")
        for loc in repomd_locations(repomd):
            expect(repo / loc["href"], loc["checksum"], loc["size"], str(repomd.relative_to(site)))
            if loc["type"] == "primary" and (repo / loc["href"]).is_file():
                root = ET.fromstring(gzip.decompress((repo / loc["href"]).read_bytes()))
                for pkg in root.findall(f"{_COMMON_NS}package"):
                    named = _primary_package(pkg)
                    if named is None:
                        problems.append(
                            f"{repo.relative_to(site)} primary: a package without its location href, "
                            f"package size or checksum"
                        )
                        continue
                    href, checksum, package_size = named
                    expect(repo / href, checksum, package_size, f"{repo.relative_to(site)} primary")
    for release in sorted(site.glob("dists/*/Release")):
        base = release.parent
        for name in ("InRelease", "Release.gpg"):
            if not (base / name).is_file():
                problems.append(f"{base.relative_to(site)}: no {name}")
        for name, (sha256, size) in _release_sha256(release.read_text("utf-8")).items():
            expect(base / name, sha256, size, str(release.relative_to(site)))
            if name.endswith("/Packages"):
                for stanza in (base / name).read_text("utf-8").split("\n\n") if (base / name).is_file() else []:
                    fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", stanza, re.M))
                    if "Filename" in fields:
                        expect(
                            site / fields["Filename"],
                            fields.get("SHA256"),
                            int(fields["Size"]),
                            str((base / name).relative_to(site)),
                        )
    for path in sorted(site.glob("catalog/*/*.json")):
        try:
            data = json.loads(path.read_text("utf-8"))
        except ValueError as e:
            problems.append(f"{path.relative_to(site)}: not JSON ({e})")
            continue
        package = data.get("package") if isinstance(data, dict) else None
        if isinstance(package, dict) and "url" in package:
            expect(site / package["url"], package.get("sha256"), package.get("size_bytes"), str(path.relative_to(site)))
        for ref in _sbom_refs(data):
            expect(site / ref["url"], ref.get("sha256"), ref.get("size_bytes"), str(path.relative_to(site)))
    for dirpath, dirnames, filenames in os.walk(site):
        for name in dirnames + filenames:
            if name.startswith("."):
                problems.append(f"{Path(dirpath, name).relative_to(site)}: a temporary (hidden) name in the snapshot")
    return problems
