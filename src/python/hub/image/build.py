"""`hub image`: multi-arch OCI images without a daemon, byte-for-byte reproducible.

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
comes from the inputs: members sorted, owner 0:0 except what the service user must own, every
mtime the lock's ``source_date``, gzip written with a fixed header (no name, mtime 0, OS
"unknown") around zlib's raw deflate at a fixed level, and canonical JSON (sorted keys, no
spaces). The same inputs give the same digests. See docs/images.md.

Also here: ``docker load`` archives per platform, the catalog's ``docker.json``, reading a base
image from an OCI layout pinned by digest, building such a base from directory trees
(``hub image-base``), and pushing a layout to a registry by digest (``hub image-push``).
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Mapping, Sequence

from hub.catalog import artifact as catalog
from hub.common import matrix
from hub.common.errors import HubError
from hub.common import files
from hub.common import schemas

__all__ = [
    "BuiltImage",
    "Entry",
    "build",
    "Layout",
    "NONROOT_UID",
    "build_image",
    "canonical_json",
    "push_layout",
    "read_base",
    "registry_credentials",
    "validate_image",
    "write_base_layout",
]

# --- media types and constants -----------------------------------------------------------------

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

# The service user's fixed ids (documented in docs/images.md): distroless' "nonroot" numbers,
# high enough to collide with no distribution's system accounts, and numeric in USER so that
# Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
NONROOT_UID = 65532
NONROOT_GID = 65532
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE_PATH = "etc/ssl/certs/ca-certificates.crt"  # Debian/Alpine path; Go looks here first
GZIP_LEVEL = 6
CHUNK = 1 << 20
SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
REGISTRY_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
REPOSITORY_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

REQUEST_KEYS = ("manifest", "lock", "binaries", "registry", "repository", "output_dir")
OPTIONAL_KEYS = ("tag", "base_layout", "base_digest", "ca_bundle")


def canonical_json(data: Any) -> bytes:
    """The one encoding of every JSON blob: sorted keys, no spaces, UTF-8. Same data, same digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


# --- the blob store: an OCI image layout directory ----------------------------------------------


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
        digest = _digest(data)
        path = self.blob_path(digest)
        if not path.exists():
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        return digest, len(data)

    def put_json(self, media_type: str, data: Any, **extra: Any) -> dict[str, Any]:
        digest, size = self.put(canonical_json(data))
        return _descriptor(media_type, digest, size, **extra)

    def adopt(self, tmp: Path, digest: str) -> None:
        """Moves a finished temporary file (same file system) into place as blob ``digest``."""
        path = self.blob_path(digest)
        os.chmod(tmp, 0o644)
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
        if _digest(data) != digest:
            raise HubError(f"{self.root}: blob {digest} does not match its digest (corrupt layout)")
        return data

    def read_json(self, digest: str) -> Any:
        try:
            return json.loads(self.read(digest))
        except ValueError as e:
            raise HubError(f"{self.root}: blob {digest} is not JSON ({e})")

    def copy_blob_from(self, other: "Layout", digest: str) -> int:
        """Copies a blob, verifying its digest on the way; returns its size."""
        dest = self.blob_path(digest)
        src = other.blob_path(digest)
        h = hashlib.sha256()
        size = 0
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                for chunk in iter(lambda: fin.read(CHUNK), b""):
                    h.update(chunk)
                    size += len(chunk)
                    fout.write(chunk)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise HubError(f"{other.root}: cannot copy blob {digest} ({e.strerror})")
        if "sha256:" + h.hexdigest() != digest:
            tmp.unlink()
            raise HubError(f"{other.root}: blob {digest} does not match its digest (corrupt layout)")
        self.adopt(tmp, digest)
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


# --- deterministic layers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One member of a layer. ``path`` is absolute in the image (``/etc/passwd``)."""

    path: str
    kind: str = "file"  # "file", "dir" or "symlink"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes | None = None  # file content, or...
    src: str | None = None  # ...a file to read it from
    target: str = ""  # symlink target

    @property
    def name(self) -> str:
        return _member_name(self.path)


def _member_name(path: str) -> str:
    norm = posixpath.normpath("/" + path).lstrip("/")
    if not norm or norm == "." or norm.startswith("../"):
        raise HubError(f"{path!r}: not a path inside the image")
    return norm


class _GzipWriter:
    """tar bytes in -> gzip member out, hashing both sides (diff_id and digest).

    The gzip header is written by hand: magic, deflate, no flags, MTIME 0, XFL 0, OS 255
    ("unknown"), so neither the clock, a file name nor the build OS reaches the bytes (Python's
    gzip module changed its OS byte across versions). The body is zlib's raw deflate at a
    fixed level and the trailer is CRC-32 and length, as RFC 1952 says.
    """

    HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

    def __init__(self, out: IO[bytes], level: int = GZIP_LEVEL):
        self.out = out
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.crc = 0
        self.tar_size = 0
        self.size = 0
        self.z = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
        self._emit(self.HEADER)

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.blob.update(data)
            self.size += len(data)

    def write(self, data: bytes) -> int:
        data = bytes(data)
        self.diff.update(data)
        self.crc = zlib.crc32(data, self.crc)
        self.tar_size += len(data)
        self._emit(self.z.compress(data))
        return len(data)

    def close(self) -> None:
        self._emit(self.z.flush(zlib.Z_FINISH))
        self._emit(struct.pack("<II", self.crc & 0xFFFFFFFF, self.tar_size & 0xFFFFFFFF))

    def flush(self) -> None:  # tarfile may call it
        pass


@dataclass(frozen=True)
class Layer:
    descriptor: dict[str, Any]  # mediaType, digest, size
    diff_id: str  # sha256 of the uncompressed tar
    tar_size: int
    comment: str

    @property
    def digest(self) -> str:
        return self.descriptor["digest"]

    @property
    def size(self) -> int:
        return self.descriptor["size"]


def _with_parents(entries: Iterable[Entry]) -> list[Entry]:
    """Every entry, plus a root-owned 0755 directory for each parent not given explicitly,
    sorted by path (so a directory always precedes its contents)."""
    by_name: dict[str, Entry] = {}
    for e in entries:
        if e.name in by_name and by_name[e.name] != e:
            raise HubError(f"{e.path}: given twice with different content or attributes")
        by_name[e.name] = e
    for name in list(by_name):
        parent = posixpath.dirname(name)
        while parent:
            by_name.setdefault(parent, Entry("/" + parent, "dir", 0o755))
            parent = posixpath.dirname(parent)
    return [by_name[n] for n in sorted(by_name, key=lambda n: n.split("/"))]


def _tarinfo(entry: Entry, mtime: int) -> tuple[tarfile.TarInfo, IO[bytes] | None]:
    info = tarfile.TarInfo(entry.name + ("/" if entry.kind == "dir" else ""))
    info.mtime = mtime
    info.mode = entry.mode & 0o7777
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        return info, None
    if entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
        return info, None
    if entry.kind != "file":
        raise ValueError(entry.kind)
    info.type = tarfile.REGTYPE
    if entry.data is not None:
        info.size = len(entry.data)
        return info, io.BytesIO(entry.data)
    assert entry.src is not None
    try:
        f = open(entry.src, "rb")
        info.size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise HubError(f"{entry.src}: cannot read ({e.strerror})")
    return info, f


def build_layer(layout: Layout, entries: Iterable[Entry], *, mtime: int, comment: str,
                level: int = GZIP_LEVEL) -> Layer:
    """Writes one gzip-compressed tar layer into ``layout`` and returns its descriptor."""
    tmp_dir = layout.root / "blobs" / "sha256"
    fd, tmp_name = tempfile.mkstemp(prefix=".layer-", suffix=".tmp", dir=tmp_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            gz = _GzipWriter(out, level)
            # PAX only adds extended headers when a field needs one (long names): deterministic.
            with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:  # type: ignore[call-overload]
                for entry in _with_parents(entries):
                    info, fileobj = _tarinfo(entry, mtime)
                    try:
                        tar.addfile(info, fileobj)
                    finally:
                        if fileobj is not None:
                            fileobj.close()
            gz.close()
        digest = "sha256:" + gz.blob.hexdigest()
        if layout.blob_path(digest).exists():
            tmp.unlink()
        else:
            layout.adopt(tmp, digest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Layer(
        _descriptor(OCI_LAYER_GZIP, digest, gz.size),
        "sha256:" + gz.diff.hexdigest(),
        gz.tar_size,
        comment,
    )


def tree_entries(root: str | os.PathLike[str], *, prefix: str = "/") -> list[Entry]:
    """A directory tree as layer entries (regular files, directories, symlinks), owned 0:0
    with the tree's own modes: how ``write_base_layout`` turns an unpacked root into a layer."""
    root = os.fspath(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            path = posixpath.join(prefix, rel)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out.append(Entry(path, "symlink", 0o777, target=os.readlink(full)))
            elif stat.S_ISDIR(st.st_mode):
                out.append(Entry(path, "dir", stat.S_IMODE(st.st_mode)))
            elif stat.S_ISREG(st.st_mode):
                out.append(Entry(path, "file", stat.S_IMODE(st.st_mode), src=full))
            else:
                raise HubError(f"{full}: not a regular file, directory or symbolic link")
    return out


# --- the base image ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseImage:
    """One platform of a base image: its manifest digest, config and layers."""

    name: str
    digest: str  # the digest the base was pinned by (index or manifest)
    manifest_digest: str  # this platform's manifest
    config: dict[str, Any]
    layers: tuple[dict[str, Any], ...]  # descriptors, as in the base manifest
    layout: Layout


def _platform_matches(platform: Mapping[str, Any] | None, arch: str) -> bool:
    if not isinstance(platform, Mapping):
        return False
    want = matrix.OCI_PLATFORM[arch]
    if platform.get("os") != want["os"] or platform.get("architecture") != want["architecture"]:
        return False
    variant = platform.get("variant")
    return variant in (None, want.get("variant"))


def read_base(layout_dir: str | os.PathLike[str], digest: str, arch: str, *, name: str = "") -> BaseImage:
    """The base image for ``arch`` from an OCI layout, pinned by ``digest``: an image index
    (the platform's manifest is picked from it) or a single manifest (whose config must be for
    ``arch``). Every blob read is checked against its digest."""
    layout = Layout(layout_dir)
    if not SHA256_RE.match(digest):
        raise HubError(f"base image digest {digest!r}: expected sha256:<64 hex>")
    if not layout.blob_path(digest).is_file():
        raise HubError(f"{layout_dir}: the base layout has no blob {digest}")
    top = layout.read_json(digest)
    media = top.get("mediaType") if isinstance(top, dict) else None
    if media in INDEX_TYPES or (isinstance(top, dict) and "manifests" in top):
        matches = [d for d in top.get("manifests", []) if _platform_matches(d.get("platform"), arch)]
        if not matches:
            raise HubError(f"base image {digest}: no manifest for linux/{arch} in its index")
        manifest_digest = matches[0]["digest"]
        manifest = layout.read_json(manifest_digest)
    else:
        manifest_digest, manifest = digest, top
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise HubError(f"base image {manifest_digest}: not an image manifest")
    config = layout.read_json(manifest["config"]["digest"])
    if config.get("architecture") != matrix.OCI_PLATFORM[arch]["architecture"] or config.get("os") != "linux":
        raise HubError(
            f"base image {manifest_digest}: built for {config.get('os')}/{config.get('architecture')}, not linux/{arch}"
        )
    layers = tuple(manifest.get("layers") or ())
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        raise HubError(f"base image {manifest_digest}: {len(layers)} layers but {len(diff_ids)} diff_ids")
    for layer in layers:
        if layer.get("mediaType") not in LAYER_TYPES:
            raise HubError(f"base image {manifest_digest}: unsupported layer type {layer.get('mediaType')!r}")
    return BaseImage(name, digest, manifest_digest, config, layers, layout)


def _base_files(base: BaseImage, wanted: Sequence[str]) -> dict[str, bytes]:
    """The final content of a few files (``etc/passwd``...) in the base image's file system,
    honouring whiteouts, so the service user is added to the base's accounts, not over them."""
    found: dict[str, bytes] = {}
    for layer in base.layers:
        path = base.layout.blob_path(layer["digest"])
        mode = "r|gz" if layer["mediaType"] != OCI_LAYER_TAR else "r|"
        with open(path, "rb") as f, tarfile.open(fileobj=f, mode=mode) as tar:  # type: ignore[call-overload]
            for member in tar:
                name = _member_name(member.name)
                head, tail = posixpath.split(name)
                if tail == ".wh..wh..opq":
                    for w in wanted:
                        if posixpath.dirname(w) == head:
                            found.pop(w, None)
                elif tail.startswith(".wh."):
                    found.pop(posixpath.join(head, tail[4:]), None)
                elif name in wanted and member.isfile():
                    fileobj = tar.extractfile(member)
                    found[name] = fileobj.read() if fileobj else b""
    return found


# --- accounts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    @property
    def user_spec(self) -> str:
        return f"{self.uid}:{self.gid}"


def image_account(user: str) -> Account:
    if user == "root":
        return Account("root", 0, 0, "/root")
    return Account(user, NONROOT_UID, NONROOT_GID, f"/var/lib/{user}")


def _merge_db(existing: bytes | None, lines: Sequence[str], what: str) -> bytes:
    """Appends ``lines`` (name:x:id...) to an existing passwd/group file, keeping the base's
    entries; an existing entry with the same name and id is kept, a clash is an error."""
    text = existing.decode("utf-8", "replace") if existing else ""
    have = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[0]:
            have[parts[0]] = parts[2]
    ids = set(have.values())
    out = text if not text or text.endswith("\n") else text + "\n"
    for line in lines:
        name, _, ident = line.split(":")[:3]
        if name in have:
            if have[name] != ident:
                raise HubError(f"the base image's /etc/{what} has {name!r} with id {have[name]}, the image needs {ident}")
            continue
        if ident in ids:
            raise HubError(f"the base image's /etc/{what} already uses id {ident} for another name than {name!r}")
        out += line + "\n"
    return out.encode("utf-8")


def account_files(account: Account, base: Mapping[str, bytes] | None = None) -> dict[str, bytes]:
    """/etc/passwd and /etc/group: root (uid 0) and the service user, no login shell."""
    passwd = ["root:x:0:0:root:/root:/sbin/nologin"]
    group = ["root:x:0:"]
    if not account.is_root:
        passwd.append(f"{account.name}:x:{account.uid}:{account.gid}:{account.name}:{account.home}:/sbin/nologin")
        group.append(f"{account.name}:x:{account.gid}:")
    base = base or {}
    return {
        "etc/passwd": _merge_db(base.get("etc/passwd"), passwd, "passwd"),
        "etc/group": _merge_db(base.get("etc/group"), group, "group"),
    }


# --- the image --------------------------------------------------------------------------------


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
        return self.manifest["size"] + self.config_size + sum(_size(l) for l in self.layers)


def _size(layer: Layer | Mapping[str, Any]) -> int:
    return layer.size if isinstance(layer, Layer) else int(layer["size"])


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


def _labels(manifest: Any, source_date: str) -> dict[str, str]:
    """org.opencontainers.image.* from the inputs: the manifest and the lock, never the clock
    or the repository's own commit. ``revision`` is the upstream release tag the binaries were
    built from (a source-control revision of the packaged software)."""
    labels = {
        "org.opencontainers.image.title": manifest.name,
        "org.opencontainers.image.description": manifest.description,
        "org.opencontainers.image.version": manifest.clean_version,
        "org.opencontainers.image.revision": manifest.tag,
        "org.opencontainers.image.created": source_date,
    }
    if manifest.upstream.repo:
        labels["org.opencontainers.image.source"] = f"https://github.com/{manifest.upstream.repo}"
    elif manifest.homepage:
        labels["org.opencontainers.image.source"] = manifest.homepage
    if manifest.homepage:
        labels["org.opencontainers.image.url"] = manifest.homepage
    if manifest.license:
        labels["org.opencontainers.image.licenses"] = manifest.license
    return labels


def _package_spec(manifest: Any) -> Any:
    """Where the image takes its config files and directories from: the RPM spec, else the DEB
    one (the same choice as the default docker user)."""
    return manifest.rpm or manifest.deb


def _owner(name: str, spec: Any, account: Account, manifest: Any, what: str, *, group: bool = False) -> int:
    if name == "root":
        return 0
    service = {account.name, manifest.docker.user}
    if spec is not None:
        service.add(spec.system_user)
    if name in service:
        return account.gid if group else account.uid
    raise HubError(f"{manifest.path}: {what}: owner {name!r} is neither root nor the image's user {account.name!r}")


def system_entries(manifest: Any, account: Account, base_files: Mapping[str, bytes] | None = None) -> list[Entry]:
    """Layer 2: accounts, /tmp, the service user's home, the manifest's directories and config
    files (a file inside a service-owned directory is owned by the service, as in packages)."""
    spec = _package_spec(manifest)
    entries: dict[str, Entry] = {}
    for path, data in account_files(account, base_files).items():
        entries["/" + path] = Entry("/" + path, "file", 0o644, data=data)
    entries["/tmp"] = Entry("/tmp", "dir", 0o1777)
    if not account.is_root:
        entries[account.home] = Entry(account.home, "dir", 0o755, account.uid, account.gid)
    dir_owner: dict[str, tuple[int, int]] = {}
    for d in spec.directories if spec else ():
        uid = _owner(d.owner, spec, account, manifest, f"directory {d.path}")
        gid = _owner(d.group, spec, account, manifest, f"directory {d.path}", group=True)
        entries[d.path] = Entry(d.path, "dir", int(d.mode, 8), uid, gid)
        dir_owner[d.path.rstrip("/")] = (uid, gid)
    for f in spec.extra_files if spec else ():
        src = os.path.join(manifest.directory, f.source)
        parents = [p for p in dir_owner if f.dest.startswith(p + "/")]
        uid, gid = dir_owner[max(parents, key=len)] if parents else (0, 0)
        entries[f.dest] = Entry(f.dest, "file", int(f.mode, 8), uid, gid, src=src)
    return list(entries.values())


def _history(comment: str, source_date: str, *, empty: bool = False) -> dict[str, Any]:
    h = {"created": source_date, "created_by": f"hub image: {comment}", "comment": "Monitoring Hub"}
    if empty:
        h["empty_layer"] = True
    return h


def _config(
    manifest: Any,
    arch: str,
    account: Account,
    layers: Sequence[Layer],
    source_date: str,
    base: BaseImage | None,
) -> dict[str, Any]:
    docker = manifest.docker
    base_cfg = (base.config.get("config") or {}) if base else {}
    env: dict[str, str] = {}
    for item in base_cfg.get("Env") or []:  # the base's environment, in its order
        env[item.split("=", 1)[0]] = item
    env.setdefault("PATH", DEFAULT_PATH)
    labels = dict(base_cfg.get("Labels") or {})
    labels.update(_labels(manifest, source_date))
    if base is not None:
        labels["org.opencontainers.image.base.name"] = base.name
        labels["org.opencontainers.image.base.digest"] = base.manifest_digest
    cfg: dict[str, Any] = {
        "User": account.user_spec,
        "Env": list(env.values()),
        "Entrypoint": list(docker.entrypoint) or [f"/usr/bin/{manifest.build.binary_name}"],
        "Labels": labels,
    }
    if docker.cmd:
        cfg["Cmd"] = list(docker.cmd)
    ports = dict(base_cfg.get("ExposedPorts") or {})
    if docker.port is not None:
        ports[f"{docker.port}/tcp"] = {}
    if ports:
        cfg["ExposedPorts"] = ports
    if not account.is_root:
        cfg["WorkingDir"] = account.home
    elif base_cfg.get("WorkingDir"):
        cfg["WorkingDir"] = base_cfg["WorkingDir"]
    for key in ("Volumes", "StopSignal"):
        if base_cfg.get(key):
            cfg[key] = base_cfg[key]
    platform = matrix.OCI_PLATFORM[arch]
    history = list(base.config.get("history") or []) if base else []
    if base is not None and not history:
        history = [_history(f"base layer {i}", source_date) for i in range(len(base.layers))]
    history += [_history(l.comment, source_date) for l in layers]
    history.append(_history(f"config: user {account.name}", source_date, empty=True))
    base_ids = list((base.config.get("rootfs") or {}).get("diff_ids") or []) if base else []
    config = {
        "architecture": platform["architecture"],
        "os": platform["os"],
        "created": source_date,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": base_ids + [l.diff_id for l in layers]},
        "history": history,
    }
    if "variant" in platform:
        config["variant"] = platform["variant"]
    return config


def _check_binaries(manifest: Any, arch: str, binaries_dir: str, has_base: bool) -> list[Entry]:
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
    from hub.common.dates import parse_source_date

    docker = manifest.docker
    if docker is None:
        raise HubError(f"{manifest.path}: artifacts.docker.enabled is false: no image to build")
    epoch = parse_source_date(source_date)
    archs = [a for a in matrix.ARCHES if a in manifest.build.archs]
    missing = [a for a in archs if a not in binaries]
    if missing:
        raise HubError(f"no binaries for {', '.join(missing)} (build.archs lists them)")
    base_name, base_digest = _resolve_base(manifest, base_layout, base_digest)
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
        entries = {a: _check_binaries(manifest, a, binaries[a], bases[a] is not None) for a in archs}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(archs), os.cpu_count() or 1))) as pool:
            binary_layers = {
                a: pool.submit(
                    build_layer, layout, entries[a], mtime=epoch,
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
                        layout, [Entry("/" + CA_BUNDLE_PATH, "file", 0o644, data=data)],
                        mtime=epoch, comment="ca-certificates",
                    )
                layers.append(shared["ca"])
            base_files = _base_files(base, ["etc/passwd", "etc/group"]) if base else {}
            key = ("system", tuple(sorted(base_files.items())))
            if key not in shared:
                shared[key] = build_layer(
                    layout, system_entries(manifest, account, base_files), mtime=epoch,
                    comment=f"system: accounts (user {account.name}), directories, config files",
                )
            layers.append(shared[key])
            layers.append(binary_layers_done[arch])
            for d in base.layers if base else ():
                layout.copy_blob_from(base.layout, d["digest"])
            config = _config(manifest, arch, account, layers, source_date, base)
            config_desc = layout.put_json(OCI_CONFIG, config)
            annotations = _labels(manifest, source_date)
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
                "layers": base_layers + [l.descriptor for l in layers],
                "annotations": annotations,
            }
            desc = layout.put_json(OCI_MANIFEST, image_manifest, platform=dict(matrix.OCI_PLATFORM[arch]))
            platforms.append(PlatformImage(
                arch, dict(matrix.OCI_PLATFORM[arch]), desc, config_desc["digest"], config_desc["size"],
                tuple(base_layers) + tuple(layers),
            ))
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [p.manifest for p in platforms],
            "annotations": _labels(manifest, source_date),
        }
        index_desc = layout.put_json(OCI_INDEX, index)
        # The multi-arch index under the tag, and each platform's manifest under <tag>-<arch>
        # too: tools without platform selection (umoci 0.4) can then unpack one platform.
        layout.write_index([
            {**index_desc, "annotations": {REF_NAME: tag}},
            *({**p.manifest, "annotations": {REF_NAME: f"{tag}-{p.arch}"}} for p in platforms),
        ])
        blobs = {index_desc["digest"]: index_desc["size"]}
        for p in platforms:
            blobs[p.digest] = p.manifest["size"]
            blobs[p.config_digest] = p.config_size
            for l in p.layers:
                blobs[l.digest if isinstance(l, Layer) else l["digest"]] = _size(l)
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
        os.chmod(out, 0o755)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BuiltImage(out, index_desc, tuple(platforms), tag, sum(blobs.values()))


def _resolve_base(manifest: Any, base_layout: str | None, base_digest: str | None) -> tuple[str, str | None]:
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


# --- docker load archives ----------------------------------------------------------------------


def write_docker_archive(built: BuiltImage, arch: str, dest: str | os.PathLike[str], repo_tag: str, *, mtime: int) -> Path:
    """A ``docker load`` archive of one platform, which is also an OCI layout tarball:
    manifest.json (Config, RepoTags, Layers as paths of blobs), oci-layout, index.json, blobs.
    Members sorted, owned by 0:0, every mtime ``mtime``; the blobs are the layout's own."""
    p = next(x for x in built.platforms if x.arch == arch)
    layout = Layout(built.layout_dir)
    layer_digests = [l.digest if isinstance(l, Layer) else l["digest"] for l in p.layers]
    files: dict[str, Any] = {}
    for d in [p.digest, p.config_digest, *layer_digests]:
        files[f"blobs/sha256/{d.split(':')[1]}"] = layout.blob_path(d)
    files["manifest.json"] = canonical_json([{
        "Config": f"blobs/sha256/{p.config_digest.split(':')[1]}",
        "RepoTags": [repo_tag],
        "Layers": [f"blobs/sha256/{d.split(':')[1]}" for d in layer_digests],
    }])
    files["oci-layout"] = canonical_json({"imageLayoutVersion": "1.0.0"})
    files["index.json"] = canonical_json({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{**p.manifest, "annotations": {REF_NAME: built.tag, CONTAINERD_NAME: repo_tag}}],
    })
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with open(tmp, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
        names = set()
        for name in sorted(files):
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
            value = files[name]
            if isinstance(value, Path):
                info.size = value.stat().st_size
                with open(value, "rb") as src:
                    tar.addfile(info, src)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    return dest


# --- docker.json -------------------------------------------------------------------------------


def docker_artifact(manifest: Any, lock: Any, built: BuiltImage, *, registry: str, repository: str,
                    source_date: str, base_name: str, ca_bundle: str | None,
                    sboms: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The catalog's docker.json (format 3.0). ``size_bytes`` (image) is every distinct blob of
    the multi-arch image counted once (index, manifests, configs, compressed layers: what a
    registry stores for it); ``manifests[].size_bytes`` is what pulling that one platform
    transfers (its manifest, config and compressed layers). ``sboms`` maps an arch to the
    reference `hub.packaging.sbom.write_sbom` returned for that platform."""
    sboms = sboms or {}
    return {
        "format_version": catalog.FORMAT_VERSION,
        "artifact_type": "docker",
        "exporter": manifest.name,
        "version": manifest.clean_version,
        "build_date": source_date,
        "status": "success",
        "images": [{
            "registry": registry,
            "repository": repository,
            "tag": built.tag,
            "digest": built.digest,
            "platforms": [p.platform_name for p in built.platforms],
            "size_bytes": built.size_bytes,
            "manifests": [
                {"platform": p.platform_name, "digest": p.digest, "size_bytes": p.pull_size(),
                 **({"sbom": dict(sboms[p.arch])} if p.arch in sboms else {})}
                for p in built.platforms
            ],
        }],
        "base_image": base_name,
        "user": manifest.docker.user,
        "ca_bundle_sha256": ca_bundle,
        "sources": {
            arch: {"url": lock.archives[arch].url, "sha256": lock.archives[arch].sha256}
            for arch in sorted(lock.archives) if arch in {p.arch for p in built.platforms}
        },
    }


def sbom_name(exporter: str, tag: str, arch: str) -> str:
    return f"{exporter}-{tag}-{arch}.cdx.json"


def write_image_sbom(manifest: Any, lock: Any, platform: Any, out: Path, *, registry: str, repository: str,
                     tag: str, base_image: str, binaries_dir: str) -> dict[str, Any]:
    """One SBOM per platform (``hub.packaging.sbom``), next to docker.json: the image by manifest digest,
    its base image, each executable and the Go modules in it. Published in the site as
    ``images/<exporter>/<exporter>-<tag>-<arch>.cdx.json``."""
    from hub.packaging import sbom

    pin = lock.archives[platform.arch]
    doc = sbom.image_sbom(
        exporter=manifest.name, registry=registry, repository=repository, tag=tag, arch=platform.arch,
        digest=platform.digest, base_image=base_image, source={"url": pin.url, "sha256": pin.sha256},
        source_date=lock.source_date,
        binaries=[sbom.Binary(f"/usr/bin/{b}", os.path.join(binaries_dir, b)) for b in manifest.build.binaries],
    )
    name = sbom_name(manifest.name, tag, platform.arch)
    return sbom.write_sbom(out / name, doc, url=f"images/{manifest.name}/{name}")


# --- the request -------------------------------------------------------------------------------


def build(request: Mapping[str, Any], *, base_dir: str = ".") -> tuple[BuiltImage, Path]:
    """Runs one ``hub image`` request (keys in docs/images.md); returns the image and the
    path of docker.json. Relative paths in the request are relative to ``base_dir``."""
    from hub.manifest.load import load_manifest
    from hub.upstream.lock import check_lock, read_lock

    missing = [k for k in REQUEST_KEYS if k not in request]
    unknown = sorted(set(request) - set(REQUEST_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
        raise HubError(f"image request: {'; '.join(problems)}")

    def path(key: str) -> str:
        value = request[key]
        if not isinstance(value, str) or not value:
            raise HubError(f"image request: {key} must be a path")
        return os.path.join(base_dir, value)

    registry, repository = request["registry"], request["repository"]
    if not isinstance(registry, str) or not REGISTRY_RE.match(registry):
        raise HubError(f"image request: registry {registry!r}: expected a host name with an optional :port")
    if not isinstance(repository, str) or not REPOSITORY_RE.match(repository):
        raise HubError(f"image request: repository {repository!r}: expected lowercase path components like org/node_exporter")
    manifest = load_manifest(path("manifest"))
    lock = read_lock(path("lock"))
    problems = check_lock(manifest, lock)
    if problems:
        raise HubError("\n".join(e.render(request["lock"]) for e in problems))
    assert lock is not None
    tag = request.get("tag") or manifest.clean_version.replace("+", "_")  # no '+' in a tag
    if not TAG_RE.match(tag):
        raise HubError(f"image request: tag {tag!r} is not a valid tag")
    binaries = request["binaries"]
    if not isinstance(binaries, dict) or not all(isinstance(v, str) for v in binaries.values()):
        raise HubError("image request: binaries must map an arch to a directory")
    unknown_archs = sorted(set(binaries) - set(matrix.ARCHES))
    if unknown_archs:
        raise HubError(f"image request: binaries: unknown arch(es) {', '.join(unknown_archs)}")
    ca_bytes = ca_id = None
    if manifest.docker is not None and manifest.docker.ca_certificates:
        if request.get("ca_bundle"):
            try:
                ca_bytes = Path(path("ca_bundle")).read_bytes()
            except OSError as e:
                raise HubError(f"{request['ca_bundle']}: cannot read the CA bundle ({e.strerror})")
        else:
            ca_bytes = default_ca_bundle()[0]
        if b"-----BEGIN CERTIFICATE-----" not in ca_bytes:
            raise HubError("the CA bundle holds no PEM certificate")
        ca_id = hashlib.sha256(ca_bytes).hexdigest()
    out = Path(path("output_dir"))
    out.mkdir(parents=True, exist_ok=True)
    built = build_image(
        manifest,
        source_date=lock.source_date,
        binaries={a: os.path.join(base_dir, d) for a, d in binaries.items()},
        out_dir=out / "oci",
        tag=tag,
        base_layout=path("base_layout") if request.get("base_layout") else None,
        base_digest=request.get("base_digest"),
        ca_bundle=ca_bytes,
    )
    repo_tag = f"{registry}/{repository}:{tag}"
    archives = {}
    for p in built.platforms:
        archives[p.arch] = write_docker_archive(
            built, p.arch, out / f"{manifest.name}-{p.arch}.docker.tar", repo_tag, mtime=lock.source_date_epoch
        )
    built = dataclasses.replace(built, archives=archives)
    base_ref = manifest.docker.base_image  # type: ignore[union-attr]
    sboms = {
        p.arch: write_image_sbom(manifest, lock, p, out, registry=registry, repository=repository, tag=tag,
                                 base_image=base_ref, binaries_dir=os.path.join(base_dir, binaries[p.arch]))
        for p in built.platforms
    }
    artifact = docker_artifact(manifest, lock, built, registry=registry, repository=repository,
                               source_date=lock.source_date, base_name=base_ref, ca_bundle=ca_id, sboms=sboms)
    schemas.validate(artifact, "docker", what="docker.json")
    json_path = out / "docker.json"
    files.write_json(json_path, artifact)
    return built, json_path


# --- validation in a real engine (Docker SDK) -------------------------------------------------


def validate_image(
    archive: str | os.PathLike[str],
    manifest: Any,
    *,
    docker_url: str | None = None,
    port: int | None = None,
    args: Sequence[str] = (),
    timeout: float = 60,
) -> dict[str, Any]:
    """The manifest's smoke test (``artifacts.docker.validation``) in a real Docker engine,
    through the Docker SDK: load the archive, inspect it (user, platform), run it with the host
    network, GET ``http://127.0.0.1:<port><path>`` and look for the expected metric, and check
    that the process runs as the image's user. ``args`` replace the image's Cmd (for example
    ``--web.listen-address=127.0.0.1:<port>``). The engine is ``docker_url``, else the
    environment's (DOCKER_HOST). Returns what was checked; raises HubError on a failure."""
    import time
    import urllib.request

    try:
        import docker
    except ImportError:  # pragma: no cover - docker is in the engine lockfile
        raise HubError("validating an image needs the Docker SDK (the `docker` package)") from None

    spec = manifest.docker
    if spec is None:
        raise HubError(f"{manifest.path}: artifacts.docker.enabled is false")
    validation = spec.validation
    path = validation.path if validation else "/metrics"
    expect = validation.expect if validation else None
    port = port or spec.port
    if port is None:
        raise HubError(f"{manifest.path}: no port to validate on (artifacts.docker.port)")
    account = image_account(spec.user)
    try:
        client = docker.DockerClient(base_url=docker_url, version="auto") if docker_url else docker.from_env(version="auto")
        client.ping()
    except docker.errors.DockerException as e:
        raise HubError(f"cannot reach a Docker engine ({docker_url or 'DOCKER_HOST'}): {e}")
    try:
        with open(archive, "rb") as f:
            loaded = client.images.load(f)
        if len(loaded) != 1:
            raise HubError(f"{archive}: expected one image, docker loaded {len(loaded)}")
        image_id = loaded[0].id
        attrs = client.api.inspect_image(image_id)
        user = (attrs.get("Config") or {}).get("User")
        if user != account.user_spec:
            raise HubError(f"{archive}: the image runs as {user!r}, expected {account.user_spec!r} ({account.name})")
        container = client.containers.run(image_id, list(args) or None, network_mode="host", detach=True)
        try:
            url = f"http://127.0.0.1:{port}{path}"
            deadline = time.monotonic() + timeout
            while True:
                container.reload()
                if container.status in ("exited", "dead"):
                    logs = container.logs().decode("utf-8", "replace")[-2000:]
                    raise HubError(f"{archive}: the container exited ({container.attrs['State'].get('ExitCode')}):\n{logs}")
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        body = response.read().decode("utf-8", "replace")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        logs = container.logs().decode("utf-8", "replace")[-2000:]
                        raise HubError(f"{url} did not answer within {timeout:.0f} s:\n{logs}")
                    time.sleep(0.3)
            if expect and expect not in body:
                raise HubError(f"{url}: the answer has no {expect!r}")
            top = container.top(ps_args="-o pid,uid,gid")
            ids = {tuple(row[1:3]) for row in top.get("Processes") or []}
            if ids != {(str(account.uid), str(account.gid))}:
                raise HubError(f"{archive}: the processes run as uid:gid {sorted(ids)}, expected {account.user_spec}")
        finally:
            container.remove(force=True)
    finally:
        client.close()
    return {"image_id": image_id, "user": account.user_spec, "url": url, "expect": expect, "architecture": attrs.get("Architecture")}


# --- base layouts from directory trees ---------------------------------------------------------


def write_base_layout(out_dir: str | os.PathLike[str], roots: Mapping[str, str | os.PathLike[str]],
                      *, source_date: str, tag: str = "base") -> str:
    """An OCI layout with a multi-arch index built from one unpacked root per arch (for
    example Debian's libc6, unpacked with dpkg-deb -x), one layer each, owned by 0:0 with the
    trees' own modes. Deterministic like the images. Returns the index digest, which a
    manifest pins in artifacts.docker.base_image."""
    from hub.common.dates import parse_source_date

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
            "history": [_history(f"base root ({arch})", source_date)],
        }
        if "variant" in platform:
            config["variant"] = platform["variant"]
        config_desc = layout.put_json(OCI_CONFIG, config)
        manifests.append(layout.put_json(
            OCI_MANIFEST,
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": [layer.descriptor]},
            platform=dict(platform),
        ))
    index_desc = layout.put_json(OCI_INDEX, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    layout.write_index([{**index_desc, "annotations": {REF_NAME: tag}}])
    return index_desc["digest"]


# --- pushing to a registry (OCI distribution API) -----------------------------------------------


def _docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _credential_helper(helper: str, registry: str) -> tuple[str, str] | None:
    try:
        proc = subprocess.run([f"docker-credential-{helper}", "get"], input=registry.encode(),
                              capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        data = json.loads(proc.stdout)
        return data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        return None


def registry_credentials(registry: str, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(user, password) for ``registry``: HUB_REGISTRY_USER/HUB_REGISTRY_PASSWORD, else the
    docker config (credHelpers, auths, credsStore) of ``$DOCKER_CONFIG`` or ``~/.docker``.
    Never a file of the repository."""
    env = os.environ if env is None else env
    if env.get("HUB_REGISTRY_USER") and env.get("HUB_REGISTRY_PASSWORD") is not None:
        return env["HUB_REGISTRY_USER"], env["HUB_REGISTRY_PASSWORD"]
    config_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else _docker_config_dir()
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    helper = (config.get("credHelpers") or {}).get(registry)
    if helper:
        return _credential_helper(helper, registry)
    auths = config.get("auths") or {}
    for key in (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/", f"https://{registry}/v2/"):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except ValueError:
                raise HubError(f"{config_dir / 'config.json'}: auths.{key}.auth is not base64 of user:password")
            return user, password
        if entry.get("username") and "password" in entry:
            return entry["username"], entry["password"]
    if config.get("credsStore"):
        return _credential_helper(config["credsStore"], registry)
    return None


_CREDENTIALS_HINT = " (credentials: HUB_REGISTRY_USER/HUB_REGISTRY_PASSWORD, or `docker login`)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if req.get_method() in ("GET", "HEAD"):
            return super().redirect_request(req, fp, code, msg, headers, newurl)
        return None


class RegistryClient:
    """Just enough of the OCI distribution API to push by digest: blob HEAD / POST+PUT
    (monolithic upload), manifest PUT. Basic and bearer-token authentication."""

    def __init__(self, registry: str, repository: str, *, insecure: bool = False,
                 credentials: tuple[str, str] | None = None, timeout: float = 120):
        self.base = f"{'http' if insecure else 'https'}://{registry}"
        self.repository = repository
        self.credentials = credentials
        self.timeout = timeout
        self.auth_header: str | None = None
        self.opener = urllib.request.build_opener(_NoRedirect())

    def _basic(self) -> str | None:
        if not self.credentials:
            return None
        raw = f"{self.credentials[0]}:{self.credentials[1]}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _authenticate(self, challenge: str) -> bool:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self.auth_header = self._basic()
            return self.auth_header is not None
        if scheme.lower() != "bearer":
            return False
        values = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if "realm" not in values:
            return False
        query = {"service": values.get("service", ""), "scope": f"repository:{self.repository}:pull,push"}
        url = values["realm"] + ("&" if "?" in values["realm"] else "?") + urllib.parse.urlencode(
            {k: v for k, v in query.items() if v})
        req = urllib.request.Request(url)
        basic = self._basic()
        if basic:
            req.add_header("Authorization", basic)
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                token = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            hint = _CREDENTIALS_HINT if e.code in (401, 403) else ""
            raise HubError(f"{values['realm']}: cannot get a registry token: HTTP {e.code}{hint}")
        except (urllib.error.URLError, ValueError) as e:
            raise HubError(f"{values['realm']}: cannot get a registry token ({e})")
        value = token.get("token") or token.get("access_token")
        if not value:
            raise HubError(f"{values['realm']}: the token response has no token")
        self.auth_header = f"Bearer {value}"
        return True

    def request(self, method: str, url: str, *, body: Callable[[], Any] | None = None,
                headers: Mapping[str, str] | None = None, ok: Sequence[int] = (200,)) -> tuple[int, Any, bytes]:
        if not url.startswith(("http://", "https://")):
            url = urllib.parse.urljoin(self.base + "/", url.lstrip("/")) if not url.startswith("/") else self.base + url
        for attempt in range(2):
            req = urllib.request.Request(url, data=body() if body else None, method=method)
            for k, v in (headers or {}).items():
                req.add_header(k, v)
            if self.auth_header:
                req.add_header("Authorization", self.auth_header)
            try:
                with self.opener.open(req, timeout=self.timeout) as resp:
                    status, resp_headers, data = resp.status, resp.headers, resp.read()
            except urllib.error.HTTPError as e:
                status, resp_headers, data = e.code, e.headers, e.read()
            except urllib.error.URLError as e:
                raise HubError(f"{method} {url}: {e.reason}")
            if status == 401 and attempt == 0 and self._authenticate(resp_headers.get("WWW-Authenticate", "")):
                continue
            if status not in ok:
                detail = data.decode("utf-8", "replace")[:500]
                hint = _CREDENTIALS_HINT if status in (401, 403) else ""
                raise HubError(f"{method} {url}: HTTP {status}{hint}: {detail}")
            return status, resp_headers, data
        raise AssertionError("unreachable")

    def has_blob(self, digest: str) -> bool:
        status, _, _ = self.request("HEAD", f"/v2/{self.repository}/blobs/{digest}", ok=(200, 404))
        return status == 200

    def push_blob(self, path: Path, digest: str) -> bool:
        """Uploads a blob unless the registry has it; returns whether it was uploaded."""
        if self.has_blob(digest):
            return False
        _, headers, _ = self.request("POST", f"/v2/{self.repository}/blobs/uploads/", ok=(202,))
        location = headers.get("Location")
        if not location:
            raise HubError(f"{self.base}: the upload response has no Location")
        location = urllib.parse.urljoin(self.base + "/", location)
        url = location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        size = path.stat().st_size
        files: list[IO[bytes]] = []

        def body() -> IO[bytes]:
            for f in files:
                f.close()
            files.append(open(path, "rb"))
            return files[-1]

        try:
            _, headers, _ = self.request(
                "PUT", url, body=body, ok=(201,),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
        finally:
            for f in files:
                f.close()
        got = headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise HubError(f"{self.base}: blob uploaded as {got}, expected {digest}")
        return True

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        _, headers, _ = self.request(
            "PUT", f"/v2/{self.repository}/manifests/{reference}", body=lambda: data, ok=(201, 200),
            headers={"Content-Type": media_type},
        )
        digest = headers.get("Docker-Content-Digest") or _digest(data)
        if digest != _digest(data):
            raise HubError(f"{self.base}: manifest stored as {digest}, expected {_digest(data)}")
        return digest


def _select(layout: Layout, ref: str | None) -> dict[str, Any]:
    """The image to push: the entry of index.json named ``ref``, else the only entry, else
    the only image index (hub's layouts also name each platform's manifest <tag>-<arch>)."""
    entries = layout.index()["manifests"]
    if ref is not None:
        chosen = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == ref]
    elif len(entries) == 1:
        chosen = entries
    else:
        chosen = [e for e in entries if e.get("mediaType") in INDEX_TYPES]
    if len(chosen) != 1:
        what = f"named {ref!r}" if ref is not None else "to push (name one with --ref)"
        raise HubError(f"{layout.root}/index.json: {len(chosen)} images {what}; expected one")
    return chosen[0]


def push_layout(layout_dir: str | os.PathLike[str], *, registry: str, repository: str,
                tags: Sequence[str], ref: str | None = None, insecure: bool = False,
                credentials: tuple[str, str] | None = None,
                log: Callable[[str], None] = lambda s: None) -> str:
    """Pushes the layout's image by digest: every blob, each platform manifest, the index,
    and only then the tags. Returns the index (or single manifest) digest."""
    layout = Layout(layout_dir)
    top = _select(layout, ref)
    client = RegistryClient(registry, repository, insecure=insecure, credentials=credentials)
    top_data = layout.read(top["digest"])
    top_json = json.loads(top_data)
    children = []
    if top["mediaType"] in INDEX_TYPES:
        for d in top_json["manifests"]:
            children.append((d, layout.read(d["digest"])))
    else:
        children = []
    for desc, data in children or [(top, top_data)]:
        m = json.loads(data)
        for blob in [m["config"], *m.get("layers", [])]:
            if client.push_blob(layout.blob_path(blob["digest"]), blob["digest"]):
                log(f"pushed blob {blob['digest']} ({blob['size']} bytes)")
            else:
                log(f"blob {blob['digest']} already present")
        client.put_manifest(desc["digest"], data, desc["mediaType"])
        log(f"pushed manifest {desc['digest']} {json.dumps(desc.get('platform', {}), sort_keys=True)}")
    if children:
        client.put_manifest(top["digest"], top_data, top["mediaType"])
        log(f"pushed index {top['digest']}")
    for tag in tags:
        if not TAG_RE.match(tag):
            raise HubError(f"tag {tag!r} is not a valid tag")
        client.put_manifest(tag, top_data, top["mediaType"])
        log(f"tagged {registry}/{repository}:{tag}")
    return top["digest"]
