"""What the catalog learns of an image: ``docker.json`` and one SBOM per platform.

``docker.json`` (catalog format 3.0, schema ``docker.schema.json``) names the image by
registry, repository, tag and index digest, with each platform's manifest digest and sizes,
the base image, the user, the CA bundle's hash and the pinned upstream archives. Each
platform's SBOM (CycloneDX, built by ``hub.packaging.sbom``) is written beside it and
referenced from that platform's entry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from hub.catalog import artifact as catalog
from hub.image.build import BuiltImage


def docker_artifact(
    manifest: Any,
    lock: Any,
    built: BuiltImage,
    *,
    registry: str,
    repository: str,
    source_date: str,
    base_name: str,
    ca_bundle: str | None,
    sboms: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The catalog's docker.json (format 3.0). ``size_bytes`` (image) is every distinct blob of
    the multi-arch image counted once (index, manifests, configs, compressed layers: what a
    registry stores for it); ``manifests[].size_bytes`` is what pulling that one platform
    transfers (its manifest, config and compressed layers). ``sboms`` maps an arch to the
    reference `hub.packaging.sbom.write_sbom` returned for that platform."""
    sboms = sboms or {}
    return {
        "format_version": catalog.FORMAT_VERSION,
        "artifact_type": "docker",
        "exporter": manifest.name,
        "version": manifest.clean_version,
        "build_date": source_date,
        "status": "success",
        "images": [
            {
                "registry": registry,
                "repository": repository,
                "tag": built.tag,
                "digest": built.digest,
                "platforms": [p.platform_name for p in built.platforms],
                "size_bytes": built.size_bytes,
                "manifests": [
                    {
                        "platform": p.platform_name,
                        "digest": p.digest,
                        "size_bytes": p.pull_size(),
                        **({"sbom": dict(sboms[p.arch])} if p.arch in sboms else {}),
                    }
                    for p in built.platforms
                ],
            }
        ],
        "base_image": base_name,
        "user": manifest.docker.user,
        "ca_bundle_sha256": ca_bundle,
        "sources": {
            arch: {"url": lock.archives[arch].url, "sha256": lock.archives[arch].sha256}
            for arch in sorted(lock.archives)
            if arch in {p.arch for p in built.platforms}
        },
    }


def sbom_name(exporter: str, tag: str, arch: str) -> str:
    return f"{exporter}-{tag}-{arch}.cdx.json"


def write_image_sbom(
    manifest: Any,
    lock: Any,
    platform: Any,
    out: Path,
    *,
    registry: str,
    repository: str,
    tag: str,
    base_image: str,
    binaries_dir: str,
) -> dict[str, Any]:
    """One SBOM per platform (``hub.packaging.sbom``), next to docker.json: the image by manifest digest,
    its base image, each executable and the Go modules in it. Published in the site as
    ``images/<exporter>/<exporter>-<tag>-<arch>.cdx.json``."""
    from hub.packaging import sbom

    pin = lock.archives[platform.arch]
    doc = sbom.image_sbom(
        exporter=manifest.name,
        registry=registry,
        repository=repository,
        tag=tag,
        arch=platform.arch,
        digest=platform.digest,
        base_image=base_image,
        source={"url": pin.url, "sha256": pin.sha256},
        source_date=lock.source_date,
        binaries=[sbom.Binary(f"/usr/bin/{b}", os.path.join(binaries_dir, b)) for b in manifest.build.binaries],
    )
    name = sbom_name(manifest.name, tag, platform.arch)
    return sbom.write_sbom(out / name, doc, url=f"images/{manifest.name}/{name}")
