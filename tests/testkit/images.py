"""A demo exporter for the image tests: its manifest, lock and (fake, static) binaries in a
workspace, the `hub image` request that builds it, and readers of the OCI layout it gives.

Not used by any build. The binaries are ELF headers with a payload, enough for the engine's
architecture check; the layout readers verify every blob against its digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import struct
import tarfile
from pathlib import Path
from typing import Any

import yaml

from hub.image.build import BuiltImage, write_base_layout
from hub.image.layout import OCI_INDEX
from hub.image.request import build

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

    def build(self, **extra: Any) -> tuple[BuiltImage, dict[str, Any]]:
        built, path = build(self.request(**extra), base_dir=str(self.root))
        return built, json.loads(path.read_text())


def make_ws(tmp_path: Path, patch: dict[str, Any], name: str = "ws") -> Workspace:
    """The demo exporter with ``patch`` merged into its manifest, in ``tmp_path/name``."""
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
    top = next(d for d in index_json["manifests"] if d["mediaType"] == OCI_INDEX)
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


# --- base images -------------------------------------------------------------------------------


def make_base(tmp_path: Path, passwd: bytes | None = None) -> tuple[Path, str]:
    """A base layout (``tmp_path/base``) from two tiny roots, ``tmp_path/root-<arch>``: a libc
    file and a symlink to it, and ``/etc/passwd`` if given. Returns (layout, index digest)."""
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
    digest = write_base_layout(out, roots, source_date="2023-01-01T00:00:00Z")
    return out, digest
