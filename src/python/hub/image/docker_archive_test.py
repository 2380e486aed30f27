"""`docker load` archives: sorted members owned by 0:0 at the source date, the layout's own
blobs, manifest.json and an OCI index for one platform.
"""

from __future__ import annotations

import json
import tarfile

from testkit.images import EPOCH, Workspace, image


def test_docker_load_archive(ws: Workspace) -> None:
    built, _ = ws.build()
    for arch in ("amd64", "arm64"):
        path = ws.root / "out" / f"demo_exporter-{arch}.docker.tar"
        assert built.archives[arch] == path
        manifest, _ = image(built.layout_dir, arch)
        with tarfile.open(path) as tar:
            names = tar.getnames()
            assert names == sorted(names, key=lambda n: n.split("/"))
            assert all(m.mtime == EPOCH and m.uid == 0 and m.gid == 0 for m in tar.getmembers())
            (entry,) = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
            assert entry["RepoTags"] == ["registry.example.org/monitoring-hub/demo_exporter:1.2.3"]
            assert entry["Config"] == "blobs/sha256/" + manifest["config"]["digest"].split(":")[1]
            assert entry["Layers"] == ["blobs/sha256/" + layer["digest"].split(":")[1] for layer in manifest["layers"]]
            for name in [entry["Config"], *entry["Layers"]]:
                assert tar.extractfile(name).read() == (built.layout_dir / name).read_bytes()  # type: ignore[union-attr]
            index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
            assert [d["digest"] for d in index["manifests"]] == [built.platforms[("amd64", "arm64").index(arch)].digest]
