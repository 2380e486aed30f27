"""Base images: what an image is built FROM when it is not ``scratch``.

A manifest pins its base by digest (``artifacts.docker.base_image: <name>@sha256:<hex>``) and
the request names an OCI layout holding that digest (``base_layout``): an image index, from
which each platform's manifest is picked, or a single manifest for one platform. The base's
layers come first in the image, its config's environment, labels and history are kept, and
its ``/etc/passwd`` and ``/etc/group`` are extended rather than replaced. Every blob read from
the base layout is checked against its digest. (``hub image-base`` writes such layouts:
``hub.image.build.write_base_layout``.)
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from hub.common import matrix
from hub.common.errors import HubError
from hub.image.layers import member_name
from hub.image.layout import INDEX_TYPES, LAYER_TYPES, OCI_LAYER_TAR, SHA256_RE, Layout


@dataclass(frozen=True)
class BaseImage:
    """One platform of a base image: its manifest digest, config and layers."""

    name: str
    digest: str  # the digest the base was pinned by (index or manifest)
    manifest_digest: str  # this platform's manifest
    config: dict[str, Any]
    layers: tuple[dict[str, Any], ...]  # descriptors, as in the base manifest
    layout: Layout


def _platform_matches(platform: Mapping[str, Any] | None, arch: str) -> bool:
    if not isinstance(platform, Mapping):
        return False
    want = matrix.OCI_PLATFORM[arch]
    if platform.get("os") != want["os"] or platform.get("architecture") != want["architecture"]:
        return False
    variant = platform.get("variant")
    return variant in (None, want.get("variant"))


def read_base(layout_dir: str | os.PathLike[str], digest: str, arch: str, *, name: str = "") -> BaseImage:
    """The base image for ``arch`` from an OCI layout, pinned by ``digest``: an image index
    (the platform's manifest is picked from it) or a single manifest (whose config must be for
    ``arch``). Every blob read is checked against its digest."""
    layout = Layout(layout_dir)
    if not SHA256_RE.match(digest):
        raise HubError(f"base image digest {digest!r}: expected sha256:<64 hex>")
    if not layout.blob_path(digest).is_file():
        raise HubError(f"{layout_dir}: the base layout has no blob {digest}")
    top = layout.read_json(digest)
    media = top.get("mediaType") if isinstance(top, dict) else None
    if media in INDEX_TYPES or (isinstance(top, dict) and "manifests" in top):
        matches = [d for d in top.get("manifests", []) if _platform_matches(d.get("platform"), arch)]
        if not matches:
            raise HubError(f"base image {digest}: no manifest for linux/{arch} in its index")
        manifest_digest = matches[0]["digest"]
        manifest = layout.read_json(manifest_digest)
    else:
        manifest_digest, manifest = digest, top
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise HubError(f"base image {manifest_digest}: not an image manifest")
    config = layout.read_json(manifest["config"]["digest"])
    if config.get("architecture") != matrix.OCI_PLATFORM[arch]["architecture"] or config.get("os") != "linux":
        raise HubError(
            f"base image {manifest_digest}: built for {config.get('os')}/{config.get('architecture')}, not linux/{arch}"
        )
    layers = tuple(manifest.get("layers") or ())
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        raise HubError(f"base image {manifest_digest}: {len(layers)} layers but {len(diff_ids)} diff_ids")
    for layer in layers:
        if layer.get("mediaType") not in LAYER_TYPES:
            raise HubError(f"base image {manifest_digest}: unsupported layer type {layer.get('mediaType')!r}")
    return BaseImage(name, digest, manifest_digest, config, layers, layout)


def base_files(base: BaseImage, wanted: Sequence[str]) -> dict[str, bytes]:
    """The final content of a few files (``etc/passwd``...) in the base image's file system,
    honouring whiteouts, so the service user is added to the base's accounts, not over them."""
    found: dict[str, bytes] = {}
    for layer in base.layers:
        path = base.layout.blob_path(layer["digest"])
        mode = "r|gz" if layer["mediaType"] != OCI_LAYER_TAR else "r|"
        with open(path, "rb") as f, tarfile.open(fileobj=f, mode=mode) as tar:
            for member in tar:
                name = member_name(member.name)
                head, tail = posixpath.split(name)
                if tail == ".wh..wh..opq":
                    for w in wanted:
                        if posixpath.dirname(w) == head:
                            found.pop(w, None)
                elif tail.startswith(".wh."):
                    found.pop(posixpath.join(head, tail[4:]), None)
                elif name in wanted and member.isfile():
                    fileobj = tar.extractfile(member)
                    found[name] = fileobj.read() if fileobj else b""
    return found
