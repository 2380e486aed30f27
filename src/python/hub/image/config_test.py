"""The image config: platform, runtime settings, labels (also the manifest's annotations) and
history.
"""

from __future__ import annotations

from pathlib import Path

from testkit.images import MANIFEST, SOURCE_DATE, Workspace, image, merge


def test_config_fields(ws: Workspace) -> None:
    built, _ = ws.build()
    for arch in ("amd64", "arm64"):
        manifest, config = image(built.layout_dir, arch)
        assert config["architecture"] == arch and config["os"] == "linux"
        assert config.get("variant") == ("v8" if arch == "arm64" else None)
        assert config["created"] == SOURCE_DATE
        c = config["config"]
        assert c["Entrypoint"] == ["/usr/bin/demo_exporter"]
        assert c["Cmd"] == ["--config.file=/etc/demo_exporter/demo.yml"]
        assert c["ExposedPorts"] == {"9999/tcp": {}}
        assert c["User"] == "65532:65532"
        assert c["WorkingDir"] == "/var/lib/demo_exporter"
        assert c["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        labels = {
            "org.opencontainers.image.title": "demo_exporter",
            "org.opencontainers.image.description": "Demo exporter for tests",
            "org.opencontainers.image.version": "1.2.3",
            "org.opencontainers.image.revision": "v1.2.3",
            "org.opencontainers.image.created": SOURCE_DATE,
            "org.opencontainers.image.source": "https://github.com/example/demo_exporter",
            "org.opencontainers.image.url": "https://example.org/demo",
            "org.opencontainers.image.licenses": "Apache-2.0",
        }
        assert c["Labels"] == labels
        assert manifest["annotations"] == labels
        assert sum(1 for h in config["history"] if not h.get("empty_layer")) == len(manifest["layers"])
        assert all(h["created"] == SOURCE_DATE for h in config["history"])


def test_no_port_no_exposed_ports_and_custom_entrypoint(tmp_path: Path) -> None:
    patch = {"artifacts": {"docker": {"entrypoint": ["/usr/bin/demo_tool", "serve"], "cmd": []}}}
    m = merge(MANIFEST, patch)
    del m["artifacts"]["docker"]["port"]
    ws = Workspace(tmp_path / "ws", m)
    built, _ = ws.build()
    _, config = image(built.layout_dir, "amd64")
    assert "ExposedPorts" not in config["config"]
    assert "Cmd" not in config["config"]
    assert config["config"]["Entrypoint"] == ["/usr/bin/demo_tool", "serve"]
