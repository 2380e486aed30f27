"""Base images: layers first, accounts extended, pinned by digest, every blob verified; and
`write_base_layout`, deterministic like the images.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.image.build import write_base_layout
from testkit.images import image, jblob, make_base, make_ws, members


def test_base_image_layers_come_first(tmp_path: Path) -> None:
    base, digest = make_base(tmp_path, passwd=b"root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/usr/sbin/nologin\n")
    ws = make_ws(tmp_path, {"artifacts": {"docker": {"base_image": f"example/libc@{digest}"}}})
    built, doc = ws.build(base_layout=str(base), base_digest=digest)
    assert doc["base_image"] == f"example/libc@{digest}"
    base_index = jblob(base, digest)
    for i, arch in enumerate(("amd64", "arm64")):
        manifest, config = image(built.layout_dir, arch)
        base_manifest = jblob(base, base_index["manifests"][i]["digest"])
        base_config = jblob(base, base_manifest["config"]["digest"])
        assert manifest["layers"][0] == base_manifest["layers"][0]
        assert config["rootfs"]["diff_ids"][0] == base_config["rootfs"]["diff_ids"][0]
        assert len(config["rootfs"]["diff_ids"]) == 3
        assert manifest["annotations"]["org.opencontainers.image.base.digest"] == base_index["manifests"][i]["digest"]
        assert manifest["annotations"]["org.opencontainers.image.base.name"] == "example/libc"
        got = members(built.layout_dir, manifest["layers"][0])
        assert got["lib/libc.so.6"][0] == "sym"
        # the base's accounts are kept; the service user is added
        system = members(built.layout_dir, manifest["layers"][1])
        assert system["etc/passwd"][5] == (
            b"root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/usr/sbin/nologin\n"
            b"demo_exporter:x:65532:65532:demo_exporter:/var/lib/demo_exporter:/sbin/nologin\n"
        )
    # the base is deterministic too
    again = write_base_layout(
        tmp_path / "base2",
        {"amd64": tmp_path / "root-amd64", "arm64": tmp_path / "root-arm64"},
        source_date="2023-01-01T00:00:00Z",
    )
    assert again == digest


def test_base_must_be_pinned_and_match(tmp_path: Path) -> None:
    base, digest = make_base(tmp_path)
    scratch = make_ws(tmp_path, {}, "scratch")
    with pytest.raises(HubError, match="base_image is scratch"):
        scratch.build(base_layout=str(base), base_digest=digest)
    unpinned = make_ws(tmp_path, {"artifacts": {"docker": {"base_image": "debian:12"}}}, "unpinned")
    with pytest.raises(HubError, match="not pinned"):
        unpinned.build(base_layout=str(base))
    other = "sha256:" + "0" * 64
    wrong = make_ws(tmp_path, {"artifacts": {"docker": {"base_image": f"x/y@{other}"}}}, "wrong")
    with pytest.raises(HubError, match="the request pins"):
        wrong.build(base_layout=str(base), base_digest=digest)
    with pytest.raises(HubError, match="has no blob"):
        wrong.build(base_layout=str(base))
    # a corrupt base blob is refused
    pinned = make_ws(tmp_path, {"artifacts": {"docker": {"base_image": f"x/y@{digest}"}}}, "pinned")
    index = jblob(base, digest)
    victim = base / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]
    victim.write_bytes(victim.read_bytes() + b" ")
    with pytest.raises(HubError, match="does not match its digest"):
        pinned.build(base_layout=str(base))
