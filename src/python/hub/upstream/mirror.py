"""A local stand-in for GitHub release downloads, built from Debian's real exporter binaries.

GitHub is out of reach on air-gapped sites and on the build machines of this project, but
Debian's archive ships real builds of many exporters for amd64 and arm64. This module repacks
them in each exporter's upstream archive layout and naming, under the path GitHub serves them
from::

    <out>/<owner>/<repo>/releases/download/<tag>/<archive file>

so that a URL serving ``<out>/`` can replace the ``https://github.com/`` prefix of every
upstream URL (the ``[hub].upstream_mirror`` option). Each release directory also gets a
``sha256sums.txt`` of its archives, as Prometheus' releases publish one: ``update-lock`` checks
every download against it, through the mirror as against GitHub.

Debian's builds are older than the manifests' versions. They are served under the manifest's
file names as they are: nothing rewrites ``--version``. :func:`relabel_manifests` sets a
manifest's version to its Debian build's instead, so that the packages say which binary they
hold; it rewrites manifests in place, so the offline quick start runs it on a scratch copy
only. The binaries are also dynamically linked against glibc, where upstream's release
binaries are static.

The archives are reproducible: the same .deb files give byte-identical archives (see
:mod:`hub.upstream.repack`), each member dated by the binaries' own date in the .deb. Which
package ships which exporter, and reading it, is :mod:`hub.upstream.debian`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import http.server
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from hub.common import elf
from hub.common.errors import HubError
from hub.common.files import write_atomic
from hub.common.matrix import ELF_MACHINE
from hub.upstream import debian, manifest_edit
from hub.upstream.download import sha256_file
from hub.upstream.repack import pack_archive

CHECKSUMS_FILE = "sha256sums.txt"  # in every release directory, as promu names it
STATUS_OK = "ok"
STATUS_NO_DEBIAN_BUILD = "no-debian-build"
STATUS_LOCAL = "local-source"


@dataclass(frozen=True)
class MirrorEntry:
    """One (exporter, arch) of the mirror: an archive written, or why none was."""

    exporter: str
    arch: str
    status: str  # "ok", "no-debian-build" or "local-source"
    url_path: str = ""  # <owner>/<repo>/releases/download/<tag>/<file>, relative to the mirror
    path: Path | None = None  # the archive written under out_dir
    sha256: str = ""
    size: int = 0
    mtime: int = 0  # the timestamp of every member (the binaries' mtime in the .deb)
    debian_package: str = ""
    debian_version: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


@dataclass(frozen=True)
class Relabel:
    """A manifest's version set to the version of the Debian build it is mirrored from."""

    exporter: str
    old_version: str
    new_version: str
    debian_package: str
    debian_version: str


def relabel_manifests(
    manifests: Sequence,
    *,
    cache_dir: Path,
    archs: Sequence[str] | None = None,
    table: Mapping[str, debian.DebianBuild] | None = None,
) -> list:
    """Rewrite each manifest's ``version:`` to its Debian build's upstream version, in place.

    A manifest keeps its ``v`` prefix style (v1.11.0 -> v1.5.0). Exporters Debian does not
    ship, and local upstreams, are left as they are. The .debs come from ``cache_dir`` (or apt,
    as :func:`build_mirror` gets them); every arch must hold the same Debian version. Returns
    one :class:`Relabel` per manifest with a Debian build, in order (the version may already
    be the build's).
    """
    table = debian.DEBIAN_BUILDS if table is None else table
    relabels = []
    for manifest in manifests:
        source = table.get(manifest.name)
        if source is None or getattr(manifest.upstream, "local", None):
            continue
        debs = [
            debian.fetch_deb(source.package, arch, Path(cache_dir))
            for arch in manifest.build.archs
            if archs is None or arch in archs
        ]
        versions = sorted({d.version for d in debs})
        if len(versions) != 1:
            raise HubError(f"{manifest.name}: Debian's {source.package} differs between arches: {', '.join(versions)}")
        new_version = ("v" if manifest.version.startswith("v") else "") + debs[0].upstream_version
        if new_version != manifest.version:
            text = manifest_edit.read_text(manifest.path)
            edited = manifest_edit.bump_manifest_text(text, manifest.version, new_version, file=manifest.path)
            manifest_edit.write_manifest(manifest, edited, new_version, None)
        relabels.append(Relabel(manifest.name, manifest.version, new_version, source.package, versions[0]))
    return relabels


def elf_machine(data: bytes) -> int | None:
    """ELF e_machine of a binary (62 x86-64, 183 AArch64), or None when not an ELF file."""
    header = elf.read_header(data)
    return header.machine if header else None


def mirror_path(manifest, arch: str) -> str:
    """``<owner>/<repo>/releases/download/<tag>/<file>``: the path below the mirror's base URL."""
    return f"{manifest.upstream.repo}/releases/download/{manifest.tag}/{manifest.archive_name(arch)}"


def build_mirror(
    manifests: Sequence,
    out_dir: Path,
    *,
    cache_dir: Path,
    archs: Sequence[str] | None = None,
    table: Mapping[str, debian.DebianBuild] | None = None,
    jobs: int = 1,
) -> list:
    """Write each manifest's upstream archives (per build arch) under ``out_dir``.

    ``archs`` limits the arches (default: each manifest's ``build.archs``); ``table`` replaces
    :data:`hub.upstream.debian.DEBIAN_BUILDS`; ``jobs`` repacks that many archives at once.
    Returns one :class:`MirrorEntry` per (exporter, arch), in order; an exporter Debian does not
    ship gets status "no-debian-build" and no archive.
    """
    table = debian.DEBIAN_BUILDS if table is None else table
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    results: list = []
    download_lock = threading.Lock()  # one apt-get at a time; repacking runs in parallel
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for manifest in manifests:
            source = table.get(manifest.name)
            for arch in manifest.build.archs:
                if archs is not None and arch not in archs:
                    continue
                if getattr(manifest.upstream, "local", None):
                    results.append(
                        MirrorEntry(
                            manifest.name,
                            arch,
                            STATUS_LOCAL,
                            detail="local upstream sources: nothing to mirror",
                        )
                    )
                elif source is None:
                    results.append(
                        MirrorEntry(
                            manifest.name,
                            arch,
                            STATUS_NO_DEBIAN_BUILD,
                            url_path=mirror_path(manifest, arch),
                            detail="Debian ships no build of this exporter",
                        )
                    )
                else:
                    results.append(pool.submit(_mirror_one, manifest, arch, source, out_dir, cache_dir, download_lock))
        # In input order; the first failure is raised as it is (a HubError names its cause).
        entries = [r.result() if isinstance(r, concurrent.futures.Future) else r for r in results]
    for directory in sorted({e.path.parent for e in entries if e.ok and e.path is not None}):
        write_checksums(directory)
    return entries


def write_checksums(directory: Path) -> Path:
    """``<directory>/sha256sums.txt``: the sha256 of every archive in a release directory, as
    Prometheus' releases publish it (GNU format, sorted), so that ``update-lock`` through the
    mirror checks each archive against it. Made from the files present, so a mirror built one
    arch at a time still lists them all."""
    directory = Path(directory)
    lines = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name != CHECKSUMS_FILE and not path.name.startswith("."):
            lines.append(f"{sha256_file(str(path)).sha256}  {path.name}\n")
    target = directory / CHECKSUMS_FILE
    write_atomic(target, "".join(lines).encode())
    return target


def _binary_paths(manifest, source: debian.DebianBuild) -> dict:
    """Upstream binary name -> path in the .deb, for every binary the manifest expects."""
    names = tuple(manifest.build.binaries)
    paths = {}
    for i, name in enumerate(names):
        if name in source.binaries:
            paths[name] = source.binaries[name]
        elif i == 0:  # the main binary under a name the table does not use
            paths[name] = source.main_binary
        else:
            raise HubError(
                f"{manifest.name}: Debian's {source.package} has no binary for "
                f"`{name}` (it has {', '.join(source.binaries)})"
            )
    return paths


def _mirror_one(
    manifest, arch: str, source: debian.DebianBuild, out_dir: Path, cache_dir: Path, download_lock: threading.Lock
) -> MirrorEntry:
    with download_lock:
        deb = debian.fetch_deb(source.package, arch, cache_dir)
    paths = _binary_paths(manifest, source)
    copyright_path = f"/usr/share/doc/{source.package}/copyright"
    files = debian.read_deb_files(deb.path, [*paths.values(), copyright_path])
    binaries = {}
    mtimes = []
    for name, path in paths.items():
        if path not in files:
            raise HubError(f"{deb.path.name}: has no {path} (for {manifest.name}'s `{name}`)")
        data, mtime = files[path]
        machine = elf_machine(data)
        if machine != ELF_MACHINE.get(arch):
            raise HubError(
                f"{deb.path.name}: {path} is not an ELF binary for {arch} "
                f"(e_machine {machine}, expected {ELF_MACHINE.get(arch)})"
            )
        binaries[name] = data
        mtimes.append(mtime)
    if copyright_path in files:
        license_text = files[copyright_path][0]
    else:
        license_text = f"See the copyright file of the Debian package {source.package} " f"{deb.version}.\n".encode()
    mtime = max(mtimes)
    file_name = manifest.archive_name(arch)
    data = pack_archive(file_name, binaries, mtime=mtime, license_text=license_text, layout=source.layout)
    rel = mirror_path(manifest, arch)
    target = out_dir.joinpath(*rel.split("/"))
    write_atomic(target, data)
    return MirrorEntry(
        exporter=manifest.name,
        arch=arch,
        status=STATUS_OK,
        url_path=rel,
        path=target,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mtime=mtime,
        debian_package=source.package,
        debian_version=deb.version,
        detail=source.note,
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def serve(out_dir: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``out_dir`` over HTTP in a background thread; yields the base URL (ends in "/").

    The URL is a valid upstream mirror option value. Port 0 picks a free port.
    """
    root = Path(out_dir)
    if not root.is_dir():
        raise HubError(f"{root}: no such mirror directory")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hub-mirror", daemon=True)
    thread.start()
    try:
        bound_host, bound_port = server.server_address[:2]
        assert isinstance(bound_host, str)  # an IPv4 or IPv6 socket's address
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        yield f"http://{shown}:{bound_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
