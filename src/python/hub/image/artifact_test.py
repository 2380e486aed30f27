"""docker.json (against its strict schema) and the per-platform SBOMs beside it."""

from __future__ import annotations

import json

from hub.catalog import artifact as catalog
from hub.common import schemas
from testkit.images import SOURCE_DATE, Workspace, jblob


def test_docker_json(ws: Workspace) -> None:
    built, doc = ws.build()
    schemas.validate(doc, "docker")
    assert doc["format_version"] == "3.0" and doc["artifact_type"] == "docker"
    assert doc["version"] == "1.2.3" and doc["build_date"] == SOURCE_DATE
    (img,) = doc["images"]
    assert img["registry"] == "registry.example.org"
    assert img["repository"] == "monitoring-hub/demo_exporter"
    assert img["tag"] == "1.2.3"
    assert img["digest"] == built.digest
    assert img["platforms"] == ["linux/amd64", "linux/arm64"]
    layout = built.layout_dir
    blobs = sum(p.stat().st_size for p in (layout / "blobs/sha256").iterdir())
    assert img["size_bytes"] == blobs  # every distinct blob once
    index = jblob(layout, built.digest)
    for entry, desc in zip(img["manifests"], index["manifests"]):
        assert entry["digest"] == desc["digest"]
        m = jblob(layout, desc["digest"])
        assert entry["size_bytes"] == desc["size"] + m["config"]["size"] + sum(layer["size"] for layer in m["layers"])
    assert doc["sources"]["amd64"]["sha256"] == "a" * 64
    assert doc["user"] == "demo_exporter" and doc["base_image"] == "scratch"
    # One SBOM per platform beside docker.json, naming the image by its manifest digest.
    for entry, arch in zip(img["manifests"], ("amd64", "arm64")):
        ref = entry["sbom"]
        path = ws.root / "out" / ref["filename"]
        assert ref["filename"] == f"demo_exporter-1.2.3-{arch}.cdx.json"
        assert ref["url"] == f"images/demo_exporter/{ref['filename']}"
        assert (ref["sha256"], ref["size_bytes"]) == catalog.file_digest(path)
        bom = json.loads(path.read_text())
        subject = bom["metadata"]["component"]
        assert subject["type"] == "container" and subject["version"] == "1.2.3"
        assert subject["hashes"] == [{"alg": "SHA-256", "content": entry["digest"].split(":")[1]}]
        assert f"?arch={arch}&" in subject["purl"]
        assert subject["externalReferences"][0]["hashes"][0]["content"] == doc["sources"][arch]["sha256"]
        assert [c["name"] for c in bom["components"] if c["type"] == "file"] == [
            "/usr/bin/demo_exporter",
            "/usr/bin/demo_tool",
        ]


def test_docker_json_schema_is_strict(ws: Workspace) -> None:
    _, doc = ws.build()
    bad = json.loads(json.dumps(doc))
    bad["images"][0]["digest"] = "sha256:short"
    bad["images"][0]["colour"] = "blue"
    del bad["images"][0]["platforms"]
    errors = [(e.field, e.message) for e in schemas.schema_errors(bad, "docker")]
    assert any(f == "images[0].digest" for f, _ in errors)
    assert any(f == "images[0]" and "colour" in m for f, m in errors)
    assert any(f == "images[0]" and "platforms" in m for f, m in errors)
