"""Building OCI image layouts: an exporter's multi-arch image, and base images.

One exporter gives one OCI image layout (``out/oci/``): ``index.json`` names an image index
(tag in ``org.opencontainers.image.ref.name``) that lists one manifest per platform
(linux/amd64, linux/arm64). Each platform's image is the base image's layers (none for the
default ``scratch``), then:

1. ``ca-certificates`` (only with ``artifacts.docker.ca_certificates: true``): the pinned CA
   bundle at ``/etc/ssl/certs/ca-certificates.crt``;
2. ``system``: ``/etc/passwd`` and ``/etc/group`` (root and the service user), ``/tmp``, the
   service user's home ``/var/lib/<user>``, the manifest's ``directories`` and config files
   (``extra_files``);
3. ``binaries``: ``/usr/bin/<binary>`` for that platform.

Layers 1 and 2 do not depend on the platform, so both platforms share those blobs. Every byte
comes from the inputs (``hub.image.layers``: deterministic layers; ``hub.image.layout``:
canonical JSON), so the same inputs give the same digests. See docs/images.md.

``write_base_layout`` (``hub image-base``) builds a base image the same way, from one unpacked
root directory per arch.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from hub.common import matrix
from hub.common.dates import parse_source_date
from hub.common.errors import HubError
from hub.image.accounts import image_account, system_entries
from hub.image.base import base_files, read_base
from hub.image.config import DEFAULT_PATH, history_entry, image_config, image_labels
from hub.image.layers import Entry, Layer, build_layer, layer_digest, layer_size, tree_entries
from hub.image.layout import (
    DOCKER_LAYER_GZIP,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    REF_NAME,
    Layout,
)

CA_BUNDLE_PATH = "etc/ssl/certs/ca-certificates.crt"  # Debian/Alpine path; Go looks here first


@dataclass(frozen=True)
class PlatformImage:
    arch: str
    platform: dict[str, str]
    manifest: dict[str, Any]  # its descriptor in the index (with platform)
    config_digest: str
    config_size: int
    layers: tuple[Layer | dict[str, Any], ...]

    @property
    def digest(self) -> str:
        return self.manifest["digest"]

    @property
    def platform_name(self) -> str:
        return f"{self.platform['os']}/{self.platform['architecture']}"

    def pull_size(self) -> int:
        """Bytes a pull of this platform transfers: manifest, config and layers (compressed)."""
        return self.manifest["size"] + self.config_size + sum(layer_size(layer) for layer in self.layers)


@dataclass(frozen=True)
class BuiltImage:
    layout_dir: Path
    index: dict[str, Any]  # descriptor of the image index
    platforms: tuple[PlatformImage, ...]
    tag: str
    size_bytes: int  # every distinct blob reachable from the index, counted once
    archives: Mapping[str, Path] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return self.index["digest"]


def check_binaries(manifest: Any, arch: str, binaries_dir: str, has_base: bool) -> list[Entry]:
    from hub.packaging.build import (
        check_elf,  # the same ELF and architecture check as the packages
    )

    out = []
    for name in manifest.build.binaries:
        path = os.path.join(binaries_dir, name)
        if not os.path.isfile(path):
            raise HubError(f"{binaries_dir}: no binary {name!r} for {arch}")
        if check_elf(path, arch) and not has_base:
            print(
                f"warning: {path} is dynamically linked, but the {arch} image is FROM scratch "
                "(no C library): set artifacts.docker.base_image to a base pinned by digest",
                file=sys.stderr,
            )
        out.append(Entry(f"/usr/bin/{name}", "file", 0o755, src=path))
    return out


def default_ca_bundle() -> tuple[bytes, str]:
    """certifi's bundle: certifi is pinned (with its hash) in the engine's lockfile, and is in
    the engine's PEX through the Docker SDK (docker -> requests -> certifi), which
    `validate_image` imports."""
    try:
        import certifi  # noqa: F401 - imported for its data file
    except ImportError:
        raise HubError(
            "artifacts.docker.ca_certificates needs a CA bundle: pass ca_bundle in the request "
            "(or run the engine with certifi, which the engine lockfile pins)"
        ) from None
    from importlib import resources

    data = resources.files("certifi").joinpath("cacert.pem").read_bytes()
    version = getattr(sys.modules["certifi"], "__version__", "?")
    return data, f"certifi {version}"


def build_image(
    manifest: Any,
    *,
    source_date: str,
    binaries: Mapping[str, str],
    out_dir: str | os.PathLike[str],
    tag: str,
    base_layout: str | None = None,
    base_digest: str | None = None,
    ca_bundle: bytes | None = None,
) -> BuiltImage:
    """Writes the OCI image layout ``out_dir`` (replacing it) and returns what was built."""
    docker = manifest.docker
    if docker is None:
        raise HubError(f"{manifest.path}: artifacts.docker.enabled is false: no image to build")
    epoch = parse_source_date(source_date)
    archs = [a for a in matrix.ARCHES if a in manifest.build.archs]
    missing = [a for a in archs if a not in binaries]
    if missing:
        raise HubError(f"no binaries for {', '.join(missing)} (build.archs lists them)")
    base_name, base_digest = resolve_base(manifest, base_layout, base_digest)
    account = image_account(docker.user)

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))  # same file system: rename
    try:
        layout = Layout(work)
        layout.init()
        shared: dict[Any, Layer] = {}
        platforms = []
        bases = {
            arch: read_base(base_layout, base_digest, arch, name=base_name) if base_layout and base_digest else None
            for arch in archs
        }
        # The binaries layers are most of the work (gzip); zlib and hashlib release the GIL, so
        # the platforms compress in parallel. Each layer is independent: same bytes either way.
        entries = {a: check_binaries(manifest, a, binaries[a], bases[a] is not None) for a in archs}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(archs), os.cpu_count() or 1))) as pool:
            binary_layers = {
                a: pool.submit(
                    build_layer,
                    layout,
                    entries[a],
                    mtime=epoch,
                    comment=f"binaries: {', '.join(manifest.build.binaries)} ({a})",
                )
                for a in archs
            }
            binary_layers_done = {a: f.result() for a, f in binary_layers.items()}
        for arch in archs:
            base = bases[arch]
            layers: list[Layer] = []
            if docker.ca_certificates:
                if "ca" not in shared:
                    data = ca_bundle if ca_bundle is not None else default_ca_bundle()[0]
                    shared["ca"] = build_layer(
                        layout,
                        [Entry("/" + CA_BUNDLE_PATH, "file", 0o644, data=data)],
                        mtime=epoch,
                        comment="ca-certificates",
                    )
                layers.append(shared["ca"])
            base_accounts = base_files(base, ["etc/passwd", "etc/group"]) if base else {}
            key = ("system", tuple(sorted(base_accounts.items())))
            if key not in shared:
                shared[key] = build_layer(
                    layout,
                    system_entries(manifest, account, base_accounts),
                    mtime=epoch,
                    comment=f"system: accounts (user {account.name}), directories, config files",
                )
            layers.append(shared[key])
            layers.append(binary_layers_done[arch])
            if base is not None:
                for d in base.layers:
                    layout.copy_blob_from(base.layout, d["digest"])
            config = image_config(manifest, arch, account, layers, source_date, base)
            config_desc = layout.put_json(OCI_CONFIG, config)
            annotations = image_labels(manifest, source_date)
            if base is not None:
                annotations["org.opencontainers.image.base.name"] = base.name
                annotations["org.opencontainers.image.base.digest"] = base.manifest_digest
            # Docker's gzip layer type is the same bytes as OCI's; an OCI manifest names OCI types.
            base_layers = [
                {**d, "mediaType": OCI_LAYER_GZIP if d["mediaType"] == DOCKER_LAYER_GZIP else d["mediaType"]}
                for d in (base.layers if base else ())
            ]
            image_manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config_desc,
                "layers": base_layers + [layer.descriptor for layer in layers],
                "annotations": annotations,
            }
            desc = layout.put_json(OCI_MANIFEST, image_manifest, platform=dict(matrix.OCI_PLATFORM[arch]))
            platforms.append(
                PlatformImage(
                    arch,
                    dict(matrix.OCI_PLATFORM[arch]),
                    desc,
                    config_desc["digest"],
                    config_desc["size"],
                    tuple(base_layers) + tuple(layers),
                )
            )
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [p.manifest for p in platforms],
            "annotations": image_labels(manifest, source_date),
        }
        index_desc = layout.put_json(OCI_INDEX, index)
        # The multi-arch index under the tag, and each platform's manifest under <tag>-<arch>
        # too: tools without platform selection (umoci 0.4) can then unpack one platform.
        layout.write_index(
            [
                {**index_desc, "annotations": {REF_NAME: tag}},
                *({**p.manifest, "annotations": {REF_NAME: f"{tag}-{p.arch}"}} for p in platforms),
            ]
        )
        blobs = {index_desc["digest"]: index_desc["size"]}
        for p in platforms:
            blobs[p.digest] = p.manifest["size"]
            blobs[p.config_digest] = p.config_size
            for layer in p.layers:
                blobs[layer_digest(layer)] = layer_size(layer)
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
        os.chmod(out, 0o755)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BuiltImage(out, index_desc, tuple(platforms), tag, sum(blobs.values()))


def resolve_base(manifest: Any, base_layout: str | None, base_digest: str | None) -> tuple[str, str | None]:
    """(base name, digest) from the manifest's base_image and the request; a base must be
    pinned by digest, and the request's layout must hold exactly that digest."""
    ref = manifest.docker.base_image
    if ref == "scratch":
        if base_layout or base_digest:
            raise HubError(
                f"{manifest.path}: artifacts.docker.base_image is scratch, but the request names a base "
                "image: set base_image to <name>@sha256:<digest> to use one"
            )
        return "scratch", None
    name, sep, pinned = ref.partition("@")
    if not sep:
        raise HubError(
            f"{manifest.path}: artifacts.docker.base_image: {ref!r} is not pinned; expected <name>@sha256:<64 hex>"
        )
    if base_digest and base_digest != pinned:
        raise HubError(f"base image: the request pins {base_digest}, the manifest {pinned}")
    if not base_layout:
        raise HubError(f"{manifest.path}: base image {ref} needs base_layout (an OCI layout holding {pinned})")
    return name, pinned


def write_base_layout(
    out_dir: str | os.PathLike[str], roots: Mapping[str, str | os.PathLike[str]], *, source_date: str, tag: str = "base"
) -> str:
    """An OCI layout with a multi-arch index built from one unpacked root per arch (for
    example Debian's libc6, unpacked with dpkg-deb -x), one layer each, owned by 0:0 with the
    trees' own modes. Deterministic like the images. Returns the index digest, which a
    manifest pins in artifacts.docker.base_image."""
    epoch = parse_source_date(source_date)
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    layout = Layout(out)
    layout.init()
    manifests = []
    for arch in [a for a in matrix.ARCHES if a in roots]:
        layer = build_layer(layout, tree_entries(roots[arch]), mtime=epoch, comment=f"base root ({arch})")
        platform = matrix.OCI_PLATFORM[arch]
        config = {
            "architecture": platform["architecture"],
            "os": "linux",
            "created": source_date,
            "config": {"Env": [DEFAULT_PATH]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            "history": [history_entry(f"base root ({arch})", source_date)],
        }
        if "variant" in platform:
            config["variant"] = platform["variant"]
        config_desc = layout.put_json(OCI_CONFIG, config)
        manifests.append(
            layout.put_json(
                OCI_MANIFEST,
                {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": [layer.descriptor]},
                platform=dict(platform),
            )
        )
    index_desc = layout.put_json(OCI_INDEX, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    layout.write_index([{**index_desc, "annotations": {REF_NAME: tag}}])
    return index_desc["digest"]
