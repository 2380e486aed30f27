"""The catalog's per-artifact JSON (format_version "3.0") of a package, and where files live.

One artifact = one JSON, written by the action that built the artifact
(`catalog/<exporter>/<artifact id>.json`); aggregation happens downstream (hub.catalog.aggregate).
Every value comes from the inputs or from the built file, never from the clock or the machine,
so the JSON is as reproducible as the package. A *package URL* is a file's path relative to the
site root (the base URL is never a build input). Writing and schema checks are
hub.common.files and hub.common.schemas.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping

from hub.common import matrix

FORMAT_VERSION = "3.0"


def deb_pool_prefix(package: str) -> str:
    """Debian's pool directory: the first letter, or `libX` for lib* packages (libfoo -> libf)."""
    if package.startswith("lib") and len(package) > 3:
        return package[:4]
    return package[0]


def package_url(kind: str, *, dist: str, arch: str, package_name: str, filename: str) -> str:
    """Where the file lives relative to the site root (the base URL is never a build input):
    YUM `<dist>/<rpm arch>/<file>`, APT `pool/main/<prefix>/<package>/<file>` (one pool for
    every codename: the version suffix +deb12... keeps file names distinct)."""
    if kind == "rpm":
        return f"{dist}/{matrix.RPM_ARCH[arch]}/{filename}"
    if kind == "deb":
        return f"pool/main/{deb_pool_prefix(package_name)}/{package_name}/{filename}"
    raise ValueError(f"no package URL for {kind!r}")


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def package_artifact(
    *,
    kind: str,
    exporter: str,
    version: str,
    arch: str,
    dist: str,
    build_date: str,
    path: str | os.PathLike[str],
    package_name: str,
    metadata: Mapping[str, Any],
    source: Mapping[str, str],
    sbom: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The artifact JSON of a built RPM or DEB; sha256 and size are read from the file.
    `sbom` is the reference `hub.packaging.sbom.write_sbom` returns (an addition to 3.0).

    `package.unsigned_sha256` (an addition to 3.0) keeps the digest of the package as built:
    publishing signs RPMs and rewrites `sha256`/`size_bytes`, and this one stays checkable
    against a rebuild.
    """
    filename = os.path.basename(os.fspath(path))
    sha256, size = file_digest(path)
    artifact = {
        "format_version": FORMAT_VERSION,
        "artifact_type": kind,
        "exporter": exporter,
        "version": version,
        "arch": arch,
        "dist": dist,
        "build_date": build_date,
        "status": "success",
        "package": {
            "filename": filename,
            "url": package_url(kind, dist=dist, arch=arch, package_name=package_name, filename=filename),
            "sha256": sha256,
            "size_bytes": size,
            "unsigned_sha256": sha256,
        },
        f"{kind}_metadata": dict(metadata),
        "source": {"url": source["url"], "sha256": source["sha256"]},
    }
    if sbom is not None:
        artifact["sbom"] = dict(sbom)
    return artifact


def sbom_url(package_url: str) -> str:
    """A package's SBOM is published next to it: `<package url>.cdx.json`."""
    return package_url + ".cdx.json"
