"""OCI image layouts: the blob store every image of the layer is written to and read from.

Vocabulary (the OCI image specification's):

- a *blob* is content stored under its *digest* (``sha256:<64 hex>`` of its bytes), in
  ``blobs/sha256/<hex>`` of a *layout* directory, beside ``oci-layout`` and ``index.json``;
- a *descriptor* points to a blob: ``mediaType``, ``digest``, ``size`` (and, in an index, the
  ``platform`` or the ``annotations`` such as the ref name, the tag);
- an *image index* lists one *image manifest* per platform; a manifest names a *config* blob
  and the *layer* blobs.

Every JSON blob is written in one canonical encoding (``canonical_json``), so the same data
gives the same digest. Docker's media types are read (in a base image, in a push) as well as
OCI's; hub writes OCI's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from hub.common import files
from hub.common.errors import HubError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
LAYER_TYPES = (OCI_LAYER_GZIP, OCI_LAYER_TAR, DOCKER_LAYER_GZIP)

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"

CHUNK = 1 << 20
SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def canonical_json(data: Any) -> bytes:
    """The one encoding of every JSON blob: sorted keys, no spaces, UTF-8. Same data, same digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def blob_digest(data: bytes) -> str:
    """The digest of a blob's bytes: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


class Layout:
    """An OCI image layout directory: ``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``.

    Blobs are written to a temporary file and renamed to their digest, so a blob file is
    always complete. Reads verify the digest (a base layout is an input; trust nothing).
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def blob_path(self, digest: str) -> Path:
        if not SHA256_RE.match(digest):
            raise HubError(f"{self.root}: unsupported digest {digest!r} (expected sha256:<64 hex>)")
        return self.root / "blobs" / "sha256" / digest.split(":", 1)[1]

    def init(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))

    def put(self, data: bytes) -> tuple[str, int]:
        digest = blob_digest(data)
        path = self.blob_path(digest)
        if not path.exists():
            files.write_atomic(path, data)
        return digest, len(data)

    def put_json(self, media_type: str, data: Any, **extra: Any) -> dict[str, Any]:
        digest, size = self.put(canonical_json(data))
        return descriptor(media_type, digest, size, **extra)

    def adopt(self, tmp: Path, digest: str) -> None:
        """Moves a finished temporary file (same file system, a unique name) into place as
        blob ``digest``: for a blob whose digest is known only once it is written."""
        path = self.blob_path(digest)
        os.chmod(tmp, files.DEFAULT_MODE)
        os.replace(tmp, path)

    def read(self, digest: str, *, limit: int = 16 << 20) -> bytes:
        path = self.blob_path(digest)
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except OSError as e:
            raise HubError(f"{self.root}: blob {digest} is missing ({e.strerror})")
        if len(data) > limit:
            raise HubError(f"{self.root}: blob {digest} is larger than {limit} bytes")
        if blob_digest(data) != digest:
            raise HubError(f"{self.root}: blob {digest} does not match its digest (corrupt layout)")
        return data

    def read_json(self, digest: str) -> Any:
        try:
            return json.loads(self.read(digest))
        except ValueError as e:
            raise HubError(f"{self.root}: blob {digest} is not JSON ({e})")

    def copy_blob_from(self, other: "Layout", digest: str) -> int:
        """Copies a blob, verifying its digest on the way; returns its size. A blob that does
        not match its digest is not stored."""
        dest = self.blob_path(digest)
        src = other.blob_path(digest)
        h = hashlib.sha256()
        size = 0
        try:
            with open(src, "rb") as fin, files.atomic_output(dest) as fout:
                for chunk in iter(lambda: fin.read(CHUNK), b""):
                    h.update(chunk)
                    size += len(chunk)
                    fout.write(chunk)
                if "sha256:" + h.hexdigest() != digest:
                    raise HubError(f"{other.root}: blob {digest} does not match its digest (corrupt layout)")
        except OSError as e:
            raise HubError(f"{other.root}: cannot copy blob {digest} ({e.strerror})")
        return size

    def write_index(self, manifests: Sequence[Mapping[str, Any]]) -> None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(manifests)}
        (self.root / "index.json").write_bytes(canonical_json(index))

    def index(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / "index.json").read_bytes())
        except (OSError, ValueError) as e:
            raise HubError(f"{self.root}: not an OCI image layout (index.json: {e})")
        if not isinstance(data, dict) or not isinstance(data.get("manifests"), list):
            raise HubError(f"{self.root}/index.json: expected an image index with 'manifests'")
        return data
