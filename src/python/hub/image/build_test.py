"""`hub image` without a daemon: what `build_image` writes. Determinism, the layout's index and
platforms, which layers are shared, the binaries and CA bundle layers, the binaries' checks.
Layer by layer elsewhere: accounts_test (system layer), config_test, base_test; the real tools
(skopeo, umoci, dockerd, docker-registry, qemu) are in tests/integration/image_test.py.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.image.layout import OCI_INDEX, REF_NAME, canonical_json
from testkit.images import EPOCH, Workspace, blob, fake_elf, image, jblob, layer_by_comment, make_ws, members


def test_same_inputs_same_digests_and_bytes(tmp_path: Path) -> None:
    a = make_ws(tmp_path, {}, "a")
    b = make_ws(tmp_path, {}, "b")
    # Different paths, different file times: nothing of the machine may leak into the image.
    for p in (b.root / "binaries").rglob("*"):
        os.utime(p, (1, 1))
    os.utime(b.exporter / "assets/demo.yml", (12345, 12345))
    built_a, json_a = a.build()
    built_b, json_b = b.build()
    assert built_a.digest == built_b.digest
    assert json_a == json_b
    files_a = sorted(p.relative_to(a.root / "out") for p in (a.root / "out").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b.root / "out") for p in (b.root / "out").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a.root / "out" / rel).read_bytes() == (b.root / "out" / rel).read_bytes(), rel
    # and a rebuild in place gives the same again
    built_c, _ = a.build()
    assert built_c.digest == built_a.digest


def test_layout_index_and_platforms(ws: Workspace) -> None:
    built, _ = ws.build()
    layout = built.layout_dir
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index_json = json.loads((layout / "index.json").read_text())
    refs = {d["annotations"][REF_NAME]: d for d in index_json["manifests"]}
    assert set(refs) == {"1.2.3", "1.2.3-amd64", "1.2.3-arm64"}
    assert refs["1.2.3"]["mediaType"] == OCI_INDEX and refs["1.2.3"]["digest"] == built.digest
    index = jblob(layout, built.digest)
    assert [d["platform"] for d in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert refs["1.2.3-amd64"]["digest"] == index["manifests"][0]["digest"]
    assert refs["1.2.3-arm64"]["digest"] == index["manifests"][1]["digest"]
    # canonical JSON: what is stored is exactly the canonical encoding
    raw = blob(layout, built.digest)
    assert raw == canonical_json(json.loads(raw))
    # every blob in the layout is reachable (nothing stale from a previous build)
    reachable = {built.digest}
    for d in index["manifests"]:
        m = jblob(layout, d["digest"])
        reachable |= {d["digest"], m["config"]["digest"], *(layer["digest"] for layer in m["layers"])}
    stored = {"sha256:" + p.name for p in (layout / "blobs/sha256").iterdir()}
    assert stored == reachable


def test_platform_independent_layers_are_shared(ws: Workspace) -> None:
    built, _ = ws.build()
    amd, _ = image(built.layout_dir, "amd64")
    arm, _ = image(built.layout_dir, "arm64")
    assert amd["layers"][0] == arm["layers"][0]  # system: accounts, dirs, config files
    assert amd["layers"][-1] != arm["layers"][-1]  # binaries


def test_binaries_layer(ws: Workspace) -> None:
    built, _ = ws.build()
    for arch in ("amd64", "arm64"):
        got = members(built.layout_dir, layer_by_comment(built.layout_dir, arch, "binaries"))
        assert list(got) == ["usr", "usr/bin", "usr/bin/demo_exporter", "usr/bin/demo_tool"]
        assert got["usr"][:5] == ("dir", 0o755, 0, 0, EPOCH)
        assert got["usr/bin"][:5] == ("dir", 0o755, 0, 0, EPOCH)
        for b in ("demo_exporter", "demo_tool"):
            assert got[f"usr/bin/{b}"][:5] == ("file", 0o755, 0, 0, EPOCH)
            assert got[f"usr/bin/{b}"][5] == (ws.root / "binaries" / arch / b).read_bytes()


def test_no_ca_bundle_unless_asked(ws: Workspace, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    built, doc = ws.build(ca_bundle=str(bundle))  # given, but the manifest does not ask for it
    manifest, config = image(built.layout_dir, "amd64")
    assert len(manifest["layers"]) == 2
    for layer in manifest["layers"]:
        assert not any(n.startswith("etc/ssl") for n in members(built.layout_dir, layer))
    assert doc["ca_bundle_sha256"] is None


def test_ca_bundle_when_asked(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, {"artifacts": {"docker": {"ca_certificates": True}}})
    bundle = tmp_path / "ca.pem"
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    bundle.write_bytes(pem)
    built, doc = ws.build(ca_bundle=str(bundle))
    layer = layer_by_comment(built.layout_dir, "arm64", "ca-certificates")
    got = members(built.layout_dir, layer)
    assert list(got) == ["etc", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt"]
    assert got["etc/ssl/certs/ca-certificates.crt"] == ("file", 0o644, 0, 0, EPOCH, pem)
    assert doc["ca_bundle_sha256"] == hashlib.sha256(pem).hexdigest()
    amd, _ = image(built.layout_dir, "amd64")
    assert amd["layers"][0] == layer  # first, and shared by both platforms


def test_ca_bundle_defaults_to_locked_certifi(tmp_path: Path) -> None:
    import certifi  # locked in the engine resolve (docker -> requests -> certifi)

    ws = make_ws(tmp_path, {"artifacts": {"docker": {"ca_certificates": True}}})
    built, doc = ws.build()
    got = members(built.layout_dir, layer_by_comment(built.layout_dir, "amd64", "ca-certificates"))
    data = got["etc/ssl/certs/ca-certificates.crt"][5]
    assert data == Path(certifi.where()).read_bytes()
    assert doc["ca_bundle_sha256"] == hashlib.sha256(data).hexdigest()


def test_ca_bundle_without_certifi_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "certifi", None)  # as in an engine PEX without certifi
    ws = make_ws(tmp_path, {"artifacts": {"docker": {"ca_certificates": True}}})
    with pytest.raises(HubError, match="needs a CA bundle: pass ca_bundle in the request"):
        ws.build()


def test_wrong_architecture_binary_is_refused(ws: Workspace) -> None:
    (ws.root / "binaries/arm64/demo_tool").write_bytes(fake_elf(62, b"x" * 100))
    with pytest.raises(HubError, match="ELF machine 62 is not arm64"):
        ws.build()
