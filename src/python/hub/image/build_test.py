"""`hub image` without a daemon or a registry: layout, layers member by member, config,
determinism, base images, docker.json, docker load archives, credentials, and the push
protocol against an in-process registry (bearer tokens). The real tools (skopeo, umoci,
dockerd, docker-registry, qemu) are in tests/integration/image_test.py.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import re
import struct
import tarfile
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from hub import cli
from hub.catalog import artifact as catalog
from hub.common.errors import HubError
from hub.image import build as oci
from hub.common import schemas

SOURCE_DATE = "2025-06-01T12:00:00Z"
EPOCH = 1748779200

MANIFEST: dict[str, Any] = {
    "name": "demo_exporter",
    "description": "Demo exporter for tests",
    "category": "System",
    "version": "v1.2.3",
    "license": "Apache-2.0",
    "homepage": "https://example.org/demo",
    "upstream": {"repo": "example/demo_exporter"},
    "build": {"binary_name": "demo_exporter", "extra_binaries": ["demo_tool"], "archs": ["amd64", "arm64"]},
    "artifacts": {
        "rpm": {
            "extra_files": [
                {"source": "assets/demo.yml", "dest": "/etc/demo_exporter/demo.yml", "mode": "0644", "config": True},
                {"source": "assets/secret.cnf", "dest": "/var/lib/demo_exporter/.secret.cnf", "mode": "0600"},
            ],
            "directories": [
                {"path": "/etc/demo_exporter", "mode": "0755", "owner": "root", "group": "root"},
                {"path": "/var/lib/demo_exporter", "mode": "0750", "owner": "demo_exporter", "group": "demo_exporter"},
            ],
        },
        "docker": {"port": 9999, "cmd": ["--config.file=/etc/demo_exporter/demo.yml"]},
    },
}


def lock_data(name: str = "demo_exporter", version: str = "v1.2.3") -> dict[str, Any]:
    return {
        "lock_version": 1,
        "exporter": name,
        "version": version,
        "source_date": SOURCE_DATE,
        "archives": {
            arch: {
                "url": f"https://github.com/example/{name}/releases/download/{version}/{name}-{version[1:]}.linux-{arch}.tar.gz",
                "sha256": ("a" if arch == "amd64" else "b") * 64,
                "size": 1000,
            }
            for arch in ("amd64", "arm64")
        },
    }


def fake_elf(machine: int, payload: bytes) -> bytes:
    """A 64-bit little-endian ELF header (no program headers: a static binary) + payload."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0x401000, 0, 0, 0, 64, 56, 0, 64, 0, 0)
    return ident + header + payload


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Workspace:
    def __init__(self, root: Path, manifest: dict[str, Any]):
        self.root = root
        name = manifest["name"]
        self.exporter = root / name
        (self.exporter / "assets").mkdir(parents=True)
        (self.exporter / "manifest.yaml").write_text(yaml.safe_dump(manifest))
        (self.exporter / "upstream.lock.json").write_text(json.dumps(lock_data(name, manifest["version"])))
        (self.exporter / "assets/demo.yml").write_text("modules: {}\n")
        (self.exporter / "assets/secret.cnf").write_text("[client]\n")
        binaries = [manifest["build"]["binary_name"], *manifest["build"].get("extra_binaries", [])]
        for arch, machine in (("amd64", 62), ("arm64", 183)):
            d = root / "binaries" / arch
            d.mkdir(parents=True)
            for b in binaries:
                (d / b).write_bytes(fake_elf(machine, f"{b} for {arch}\n".encode() * 2000))
                os.chmod(d / b, 0o755)

    def request(self, **extra: Any) -> dict[str, Any]:
        name = self.exporter.name
        req = {
            "manifest": f"{name}/manifest.yaml",
            "lock": f"{name}/upstream.lock.json",
            "binaries": {"amd64": "binaries/amd64", "arm64": "binaries/arm64"},
            "registry": "registry.example.org",
            "repository": f"monitoring-hub/{name}",
            "output_dir": "out",
        }
        req.update(extra)
        return req

    def build(self, **extra: Any) -> tuple[oci.BuiltImage, dict[str, Any]]:
        built, path = oci.build(self.request(**extra), base_dir=str(self.root))
        return built, json.loads(path.read_text())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws", MANIFEST)


def make_ws(tmp_path: Path, patch: dict[str, Any], name: str = "ws") -> Workspace:
    return Workspace(tmp_path / name, merge(MANIFEST, patch))


# --- helpers to read a layout ------------------------------------------------------------------


def blob(layout: Path, digest: str) -> bytes:
    data = (layout / "blobs/sha256" / digest.split(":")[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def jblob(layout: Path, digest: str) -> Any:
    return json.loads(blob(layout, digest))


def image(layout: Path, arch: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(manifest, config) of one platform, through index.json -> image index."""
    index_json = json.loads((layout / "index.json").read_text())
    top = next(d for d in index_json["manifests"] if d["mediaType"] == oci.OCI_INDEX)
    index = jblob(layout, top["digest"])
    desc = next(d for d in index["manifests"] if d["platform"]["architecture"] == arch)
    manifest = jblob(layout, desc["digest"])
    return manifest, jblob(layout, manifest["config"]["digest"])


def members(layout: Path, layer: dict[str, Any]) -> dict[str, tuple[str, int, int, int, int, bytes]]:
    """name -> (type, mode, uid, gid, mtime, content) in archive order (dict keeps it)."""
    raw = gzip.decompress(blob(layout, layer["digest"]))
    out = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for m in tar:
            kind = "dir" if m.isdir() else "sym" if m.issym() else "file"
            data = tar.extractfile(m).read() if m.isfile() else m.linkname.encode()  # type: ignore[union-attr]
            out[m.name] = (kind, m.mode, m.uid, m.gid, m.mtime, data)
    return out


def layer_by_comment(layout: Path, arch: str, word: str) -> dict[str, Any]:
    manifest, config = image(layout, arch)
    ours = [h for h in config["history"] if not h.get("empty_layer")]
    for desc, h in zip(manifest["layers"], ours):
        if word in h["created_by"]:
            return desc
    raise AssertionError(f"no layer {word!r}: {[h['created_by'] for h in ours]}")


# --- determinism -------------------------------------------------------------------------------


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


def test_gzip_is_fixed_and_digests_are_right(ws: Workspace) -> None:
    built, _ = ws.build()
    layout = built.layout_dir
    manifest, config = image(layout, "amd64")
    assert len(manifest["layers"]) == len(config["rootfs"]["diff_ids"])
    for desc, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"]):
        data = blob(layout, desc["digest"])
        assert desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        assert desc["size"] == len(data)
        # magic, deflate, no flags, MTIME 0, XFL 0, OS 255: no name, no clock, no build OS
        assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        assert "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest() == diff_id


# --- layout ------------------------------------------------------------------------------------


def test_layout_index_and_platforms(ws: Workspace) -> None:
    built, _ = ws.build()
    layout = built.layout_dir
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index_json = json.loads((layout / "index.json").read_text())
    refs = {d["annotations"][oci.REF_NAME]: d for d in index_json["manifests"]}
    assert set(refs) == {"1.2.3", "1.2.3-amd64", "1.2.3-arm64"}
    assert refs["1.2.3"]["mediaType"] == oci.OCI_INDEX and refs["1.2.3"]["digest"] == built.digest
    index = jblob(layout, built.digest)
    assert [d["platform"] for d in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert refs["1.2.3-amd64"]["digest"] == index["manifests"][0]["digest"]
    assert refs["1.2.3-arm64"]["digest"] == index["manifests"][1]["digest"]
    # canonical JSON: what is stored is exactly the canonical encoding
    raw = blob(layout, built.digest)
    assert raw == oci.canonical_json(json.loads(raw))
    # every blob in the layout is reachable (nothing stale from a previous build)
    reachable = {built.digest}
    for d in index["manifests"]:
        m = jblob(layout, d["digest"])
        reachable |= {d["digest"], m["config"]["digest"], *(l["digest"] for l in m["layers"])}
    stored = {"sha256:" + p.name for p in (layout / "blobs/sha256").iterdir()}
    assert stored == reachable


def test_platform_independent_layers_are_shared(ws: Workspace) -> None:
    built, _ = ws.build()
    amd, _ = image(built.layout_dir, "amd64")
    arm, _ = image(built.layout_dir, "arm64")
    assert amd["layers"][0] == arm["layers"][0]  # system: accounts, dirs, config files
    assert amd["layers"][-1] != arm["layers"][-1]  # binaries


# --- layers member by member -------------------------------------------------------------------


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


def test_system_layer(ws: Workspace) -> None:
    built, _ = ws.build()
    got = members(built.layout_dir, layer_by_comment(built.layout_dir, "amd64", "system"))
    uid = oci.NONROOT_UID
    expected = {
        "etc": ("dir", 0o755, 0, 0),
        "etc/demo_exporter": ("dir", 0o755, 0, 0),
        "etc/demo_exporter/demo.yml": ("file", 0o644, 0, 0),
        "etc/group": ("file", 0o644, 0, 0),
        "etc/passwd": ("file", 0o644, 0, 0),
        "tmp": ("dir", 0o1777, 0, 0),
        "var": ("dir", 0o755, 0, 0),
        "var/lib": ("dir", 0o755, 0, 0),
        # the manifest's directory (mode 0750) wins over the default home
        "var/lib/demo_exporter": ("dir", 0o750, uid, uid),
        # a file inside a service-owned directory belongs to the service, as in the packages
        "var/lib/demo_exporter/.secret.cnf": ("file", 0o600, uid, uid),
    }
    assert list(got) == list(expected)  # sorted, parents first
    assert {k: v[:4] for k, v in got.items()} == expected
    assert all(v[4] == EPOCH for v in got.values())
    assert got["etc/passwd"][5] == (
        b"root:x:0:0:root:/root:/sbin/nologin\n"
        b"demo_exporter:x:65532:65532:demo_exporter:/var/lib/demo_exporter:/sbin/nologin\n"
    )
    assert got["etc/group"][5] == b"root:x:0:\ndemo_exporter:x:65532:\n"
    assert got["etc/demo_exporter/demo.yml"][5] == b"modules: {}\n"


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


# --- config ------------------------------------------------------------------------------------


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


def test_root_only_when_explicit(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, {"artifacts": {"docker": {"user": "root"}}})
    built, doc = ws.build()
    _, config = image(built.layout_dir, "amd64")
    assert config["config"]["User"] == "0:0"
    assert "WorkingDir" not in config["config"]
    got = members(built.layout_dir, layer_by_comment(built.layout_dir, "amd64", "system"))
    assert got["etc/passwd"][5] == b"root:x:0:0:root:/root:/sbin/nologin\n"
    # service-owned directories fall back to root when the image runs as root
    assert got["var/lib/demo_exporter"][:4] == ("dir", 0o750, 0, 0)
    assert doc["user"] == "root"


def test_default_user_follows_the_packages_system_user(tmp_path: Path) -> None:
    m = merge(MANIFEST, {"artifacts": {"rpm": {"system_user": "prometheus"}}})
    m["artifacts"]["rpm"]["directories"][1].update(owner="prometheus", group="prometheus")
    ws = Workspace(tmp_path / "ws", m)
    built, doc = ws.build()
    _, config = image(built.layout_dir, "amd64")
    assert config["config"]["User"] == "65532:65532"
    got = members(built.layout_dir, layer_by_comment(built.layout_dir, "amd64", "system"))
    assert b"\nprometheus:x:65532:65532:prometheus:/var/lib/prometheus:/sbin/nologin\n" in got["etc/passwd"][5]
    assert got["var/lib/prometheus"][:4] == ("dir", 0o755, 65532, 65532)
    assert doc["user"] == "prometheus"


def test_unknown_directory_owner_is_an_error(tmp_path: Path) -> None:
    m = merge(MANIFEST, {})
    m["artifacts"]["docker"]["user"] = "other"
    m["artifacts"]["rpm"]["system_user"] = "svc"
    m["artifacts"]["rpm"]["directories"][1].update(owner="nobody", group="nobody")
    ws = Workspace(tmp_path / "ws", m)
    # Refused by the manifest's validation, with its field, before any layer is written
    # (hub.image.build keeps its own check for a request that bypasses validation).
    with pytest.raises(HubError, match=re.escape(
            "artifacts.rpm.directories[1].owner: expected root or the service user 'svc', got 'nobody'")):
        ws.build()
    assert not (tmp_path / "ws" / "out").exists() or not any((tmp_path / "ws" / "out").iterdir())


# --- inputs checked ----------------------------------------------------------------------------


def test_wrong_architecture_binary_is_refused(ws: Workspace) -> None:
    (ws.root / "binaries/arm64/demo_tool").write_bytes(fake_elf(62, b"x" * 100))
    with pytest.raises(HubError, match="ELF machine 62 is not arm64"):
        ws.build()


def test_missing_binaries_and_bad_requests(ws: Workspace) -> None:
    with pytest.raises(HubError, match="no binaries for arm64"):
        ws.build(binaries={"amd64": "binaries/amd64"})
    with pytest.raises(HubError, match="repository"):
        ws.build(repository="Upper/Case")
    with pytest.raises(HubError, match="unknown key"):
        ws.build(colour="blue")
    req = ws.request()
    del req["registry"]
    with pytest.raises(HubError, match="missing registry"):
        oci.build(req, base_dir=str(ws.root))


def test_stale_lock_is_refused(ws: Workspace) -> None:
    lock = lock_data()
    lock["version"] = "v1.0.0"
    (ws.exporter / "upstream.lock.json").write_text(json.dumps(lock))
    with pytest.raises(HubError, match="stale"):
        ws.build()


# --- base images -------------------------------------------------------------------------------


def make_base(tmp_path: Path, passwd: bytes | None = None) -> tuple[Path, str]:
    roots = {}
    for arch, libdir in (("amd64", "x86_64-linux-gnu"), ("arm64", "aarch64-linux-gnu")):
        root = tmp_path / f"root-{arch}"
        (root / "lib" / libdir).mkdir(parents=True)
        (root / "lib" / libdir / "libc.so.6").write_bytes(f"libc {arch}".encode())
        os.symlink(f"{libdir}/libc.so.6", root / "lib" / "libc.so.6")
        if passwd is not None:
            (root / "etc").mkdir()
            (root / "etc/passwd").write_bytes(passwd)
        roots[arch] = root
    out = tmp_path / "base"
    digest = oci.write_base_layout(out, roots, source_date="2023-01-01T00:00:00Z")
    return out, digest


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
    again = oci.write_base_layout(tmp_path / "base2", {"amd64": tmp_path / "root-amd64", "arm64": tmp_path / "root-arm64"},
                                  source_date="2023-01-01T00:00:00Z")
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


# --- docker.json and docker load archives ------------------------------------------------------


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
        assert entry["size_bytes"] == desc["size"] + m["config"]["size"] + sum(l["size"] for l in m["layers"])
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
        assert [c["name"] for c in bom["components"] if c["type"] == "file"] == ["/usr/bin/demo_exporter", "/usr/bin/demo_tool"]


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
            assert entry["Layers"] == ["blobs/sha256/" + l["digest"].split(":")[1] for l in manifest["layers"]]
            for name in [entry["Config"], *entry["Layers"]]:
                assert tar.extractfile(name).read() == (built.layout_dir / name).read_bytes()  # type: ignore[union-attr]
            index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
            assert [d["digest"] for d in index["manifests"]] == [built.platforms[("amd64", "arm64").index(arch)].digest]


# --- CLI -----------------------------------------------------------------------------------


def test_cli_image(ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ws.root)
    (ws.root / "request.json").write_text(json.dumps(ws.request()))
    assert cli.main(["image", "--request", "request.json"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"sha256:[0-9a-f]{64}", out)
    assert (ws.root / "out/docker.json").is_file()
    (ws.root / "request.json").write_text(json.dumps(ws.request(registry="bad registry")))
    assert cli.main(["image", "--request", "request.json"]) == 2
    assert "registry 'bad registry'" in capsys.readouterr().err


# --- credentials -------------------------------------------------------------------------------


def test_credentials_from_env_then_docker_config(tmp_path: Path) -> None:
    env = {"HUB_REGISTRY_USER": "u", "HUB_REGISTRY_PASSWORD": "p", "DOCKER_CONFIG": str(tmp_path)}
    assert oci.registry_credentials("r.example", env) == ("u", "p")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert oci.registry_credentials("r.example", env) is None
    auth = base64.b64encode(b"alice:s3cr:et").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"https://r.example": {"auth": auth}}}))
    assert oci.registry_credentials("r.example", env) == ("alice", "s3cr:et")
    assert oci.registry_credentials("other.example", env) is None


# --- push protocol against an in-process registry with bearer tokens --------------------------


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    blobs: dict[str, bytes] = {}
    manifests: dict[str, tuple[str, bytes]] = {}
    uploads: dict[str, bytes] = {}
    log: list[str] = []
    token = "tok-123"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.token}":
            return True
        host = self.headers["Host"]
        self._send(401, {"WWW-Authenticate": f'Bearer realm="http://{host}/token",service="fake"'})
        return False

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/token"):
            ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(b"bob:pw").decode()
            assert "scope=repository%3Ademo%2Fx%3Apull%2Cpush" in self.path
            self._send(200 if ok else 401, {}, json.dumps({"token": self.token}).encode() if ok else b"")
            return
        self.do_HEAD()

    def do_HEAD(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        digest = self.path.rsplit("/", 1)[1]
        self._send(200 if digest in self.blobs else 404)

    def do_POST(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        uid = f"u{len(self.uploads)}"
        self.uploads[uid] = b""
        self._send(202, {"Location": f"/v2/demo/x/blobs/uploads/{uid}?_state=abc"})

    def do_PUT(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if "/blobs/uploads/" in self.path:
            assert "_state=abc&digest=sha256%3A" in self.path
            digest = self.path.split("digest=")[1].replace("%3A", ":")
            assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
            self.blobs[digest] = body
            self.log.append(f"blob {digest}")
            self._send(201, {"Docker-Content-Digest": digest})
            return
        ref = self.path.rsplit("/", 1)[1]
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        m = json.loads(body)
        for d in [m.get("config"), *m.get("layers", [])] if "config" in m else []:
            assert d["digest"] in self.blobs, "manifest pushed before its blobs"
        for d in m.get("manifests", []):
            assert d["digest"] in self.manifests, "index pushed before its manifests"
        if ref.startswith("sha256:"):
            assert ref == digest
        else:
            assert digest in self.manifests, "tag applied before the push by digest"
        self.manifests[ref] = (self.headers["Content-Type"], body)
        self.log.append(f"manifest {ref}")
        self._send(201, {"Docker-Content-Digest": digest})


@pytest.fixture
def fake_registry() -> Iterator[str]:
    FakeRegistry.blobs, FakeRegistry.manifests, FakeRegistry.uploads, FakeRegistry.log = {}, {}, {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_push_by_digest_then_tag(ws: Workspace, fake_registry: str) -> None:
    built, _ = ws.build()
    digest = oci.push_layout(built.layout_dir, registry=fake_registry, repository="demo/x", tags=["1.2.3", "latest"],
                             insecure=True, credentials=("bob", "pw"))
    assert digest == built.digest
    assert FakeRegistry.manifests["latest"][1] == blob(built.layout_dir, built.digest)
    assert FakeRegistry.manifests["1.2.3"][0] == oci.OCI_INDEX
    kinds = [entry.split()[0] for entry in FakeRegistry.log]
    assert kinds.count("blob") == 5  # system layer shared; 2 binaries layers, 2 configs
    assert FakeRegistry.log[-2:] == ["manifest 1.2.3", "manifest latest"]
    # a second push uploads no blob again
    FakeRegistry.log.clear()
    oci.push_layout(built.layout_dir, registry=fake_registry, repository="demo/x", tags=["1.2.3"],
                    insecure=True, credentials=("bob", "pw"))
    assert not [e for e in FakeRegistry.log if e.startswith("blob")]


def test_push_without_credentials_fails_clearly(ws: Workspace, fake_registry: str) -> None:
    built, _ = ws.build()
    with pytest.raises(HubError, match="HTTP 401 .credentials: HUB_REGISTRY_USER"):
        oci.push_layout(built.layout_dir, registry=fake_registry, repository="demo/x", tags=["1.2.3"], insecure=True)


def test_ca_bundle_without_certifi_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "certifi", None)  # as in an engine PEX without certifi
    ws = make_ws(tmp_path, {"artifacts": {"docker": {"ca_certificates": True}}})
    with pytest.raises(HubError, match="needs a CA bundle: pass ca_bundle in the request"):
        ws.build()


def test_cli_image_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, digest = make_base(tmp_path)
    args = ["image-base", "--root", f"amd64={tmp_path / 'root-amd64'}", "--root", f"arm64={tmp_path / 'root-arm64'}",
            "--out", str(tmp_path / "cli-base"), "--source-date", "2023-01-01T00:00:00Z"]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.strip() == digest
    assert cli.main(["image-base", "--root", "sparc=x", "--out", str(tmp_path / "x"), "--source-date", SOURCE_DATE]) == 2
