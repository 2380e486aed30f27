"""``docker load`` archives: one platform of a built image as a single tar file.

The archive is both what ``docker load`` reads (``manifest.json``: Config, RepoTags, Layers
as paths of blobs) and an OCI layout tarball (``oci-layout``, ``index.json``, ``blobs/``),
so containerd-based engines load it too. Deterministic like the layers: members sorted,
owned by 0:0, every mtime the lock's ``source_date``; the blobs are the layout's own bytes.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

from hub.common import files
from hub.image.build import BuiltImage
from hub.image.layers import layer_digest
from hub.image.layout import CONTAINERD_NAME, OCI_INDEX, REF_NAME, Layout, canonical_json


def write_docker_archive(
    built: BuiltImage, arch: str, dest: str | os.PathLike[str], repo_tag: str, *, mtime: int
) -> Path:
    """A ``docker load`` archive of one platform, which is also an OCI layout tarball:
    manifest.json (Config, RepoTags, Layers as paths of blobs), oci-layout, index.json, blobs.
    Members sorted, owned by 0:0, every mtime ``mtime``; the blobs are the layout's own."""
    p = next(x for x in built.platforms if x.arch == arch)
    layout = Layout(built.layout_dir)
    layer_digests = [layer_digest(layer) for layer in p.layers]
    members: dict[str, Any] = {}
    for d in [p.digest, p.config_digest, *layer_digests]:
        members[f"blobs/sha256/{d.split(':')[1]}"] = layout.blob_path(d)
    members["manifest.json"] = canonical_json(
        [
            {
                "Config": f"blobs/sha256/{p.config_digest.split(':')[1]}",
                "RepoTags": [repo_tag],
                "Layers": [f"blobs/sha256/{d.split(':')[1]}" for d in layer_digests],
            }
        ]
    )
    members["oci-layout"] = canonical_json({"imageLayoutVersion": "1.0.0"})
    members["index.json"] = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{**p.manifest, "annotations": {REF_NAME: built.tag, CONTAINERD_NAME: repo_tag}}],
        }
    )
    dest = Path(dest)
    with files.atomic_output(dest) as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
        names = set()
        for name in sorted(members):
            parts = name.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in names:
                    names.add(d)
                    info = tarfile.TarInfo(d + "/")
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                    info.uname = info.gname = ""
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = 0o644, mtime
            info.uname = info.gname = ""
            value = members[name]
            if isinstance(value, Path):
                info.size = value.stat().st_size
                with open(value, "rb") as src:
                    tar.addfile(info, src)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return dest
