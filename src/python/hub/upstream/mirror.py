"""A local stand-in for GitHub release downloads, built from Debian's real exporter binaries.

GitHub is out of reach on air-gapped sites and on the build machines of this project, but
Debian's archive ships real builds of many exporters for amd64 and arm64. This module repacks
them in each exporter's upstream archive layout and naming, under the path GitHub serves them
from::

    <out>/<owner>/<repo>/releases/download/<tag>/<archive file>

so that a URL serving ``<out>/`` can replace the ``https://github.com/`` prefix of every
upstream URL (the ``[hub].upstream_mirror`` option).

Debian's builds are older than the manifests' versions. They are served under the manifest's
file names as they are: nothing rewrites or compares ``--version``. They are also dynamically
linked against glibc, where upstream's release binaries are static.

The archives are reproducible: the same .deb files give byte-identical archives (sorted
members, root ownership, one timestamp taken from the .deb's own data, gzip headers without
time or name), since the tests pin them and compare package digests across runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import os
import posixpath
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from hub.common import elf
from hub.common.errors import HubError
from hub.common.files import write_atomic
from hub.common.matrix import ELF_MACHINE


@dataclass(frozen=True)
class DebianBuild:
    """Where Debian ships an exporter: the binary package and its binaries.

    ``binaries`` maps each upstream binary name to its path inside the .deb; the first entry is
    the exporter's main binary. ``layout`` is how upstream's .tar.gz/.zip is organised: "dir"
    (everything under one top directory named after the archive, the Prometheus/promu way) or
    "flat" (members at the archive root, goreleaser's default).
    """

    package: str
    binaries: Mapping[str, str]
    layout: str = "dir"
    note: str = ""

    @property
    def main_binary(self) -> str:
        return next(iter(self.binaries.values()))


# Exporter name (as in exporters/<name>/manifest.yaml) -> Debian bookworm binary package.
# Every package and path below was checked with `dpkg-deb -c` on both amd64 and arm64 .debs.
DEBIAN_BUILDS: Mapping[str, DebianBuild] = {
    "alertmanager": DebianBuild(
        "prometheus-alertmanager",
        {"alertmanager": "/usr/bin/prometheus-alertmanager", "amtool": "/usr/bin/amtool"},
    ),
    "apache_exporter": DebianBuild(
        "prometheus-apache-exporter", {"apache_exporter": "/usr/bin/prometheus-apache-exporter"}
    ),
    "bind_exporter": DebianBuild(
        "prometheus-bind-exporter", {"bind_exporter": "/usr/bin/prometheus-bind-exporter"}
    ),
    "blackbox_exporter": DebianBuild(
        "prometheus-blackbox-exporter",
        {"blackbox_exporter": "/usr/bin/prometheus-blackbox-exporter"},
    ),
    "elasticsearch_exporter": DebianBuild(
        "prometheus-elasticsearch-exporter",
        {"elasticsearch_exporter": "/usr/bin/prometheus-elasticsearch-exporter"},
    ),
    "frr_exporter": DebianBuild(
        "prometheus-frr-exporter", {"frr_exporter": "/usr/bin/prometheus-frr-exporter"}
    ),
    "ha_cluster_exporter": DebianBuild(
        "prometheus-hacluster-exporter", {"ha_cluster_exporter": "/usr/bin/ha_cluster_exporter"}
    ),
    "ipmi_exporter": DebianBuild(
        "prometheus-ipmi-exporter", {"ipmi_exporter": "/usr/bin/prometheus-ipmi-exporter"}
    ),
    "mongodb_exporter": DebianBuild(
        "prometheus-mongodb-exporter",
        {"mongodb_exporter": "/usr/bin/prometheus-mongodb-exporter"},
        note="Debian packages the older dcu/mongodb_exporter, not percona/mongodb_exporter: "
        "a real exporter binary, but with other flags",
    ),
    "mysqld_exporter": DebianBuild(
        "prometheus-mysqld-exporter", {"mysqld_exporter": "/usr/bin/prometheus-mysqld-exporter"}
    ),
    "nginx_exporter": DebianBuild(
        "prometheus-nginx-exporter",
        {"nginx-prometheus-exporter": "/usr/bin/prometheus-nginx-exporter"},
        layout="flat",
    ),
    "node_exporter": DebianBuild(
        "prometheus-node-exporter", {"node_exporter": "/usr/bin/prometheus-node-exporter"}
    ),
    "process_exporter": DebianBuild(
        "prometheus-process-exporter",
        {"process-exporter": "/usr/bin/prometheus-process-exporter"},
    ),
    "prometheus": DebianBuild(
        "prometheus", {"prometheus": "/usr/bin/prometheus", "promtool": "/usr/bin/promtool"}
    ),
    "redis_exporter": DebianBuild(
        "prometheus-redis-exporter", {"redis_exporter": "/usr/bin/prometheus-redis-exporter"}
    ),
    "snmp_exporter": DebianBuild(
        "prometheus-snmp-exporter", {"snmp_exporter": "/usr/bin/prometheus-snmp-exporter"}
    ),
}

STATUS_OK = "ok"
STATUS_NO_DEBIAN_BUILD = "no-debian-build"
STATUS_LOCAL = "local-source"

# gzip level for repacked .tar.gz/.gz archives: Go's and GNU tar's usual default.
_GZIP_LEVEL = 6
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold


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
class DebFile:
    path: Path
    package: str
    version: str
    arch: str


# --------------------------------------------------------------------------------------------
# Debian side: getting the .deb and reading files out of it


def _run(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        return subprocess.run(list(cmd), env=env, capture_output=True, **kwargs)
    except FileNotFoundError:
        raise HubError(
            f"`{cmd[0]}` was not found: building the upstream mirror needs Debian's apt and dpkg"
        ) from None


def _deb_fields(deb: Path) -> DebFile:
    proc = _run(["dpkg-deb", "--field", str(deb), "Package", "Version", "Architecture"])
    if proc.returncode != 0:
        raise HubError(f"{deb}: not a readable .deb: {_last_error(proc)}")
    fields = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return DebFile(deb, fields.get("Package", ""), fields.get("Version", ""),
                   fields.get("Architecture", ""))


def _last_error(proc: subprocess.CompletedProcess) -> str:
    """The apt/dpkg line that says what went wrong ("E: ..." preferred)."""
    lines = [
        ln.strip()
        for ln in (proc.stderr + proc.stdout).decode("utf-8", "replace").splitlines()
        if ln.strip()
    ]
    errors = [ln for ln in lines if ln.startswith(("E:", "dpkg-deb: error", "dpkg-deb:"))]
    if errors:
        return errors[0]
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _newest(debs: Sequence[Path]) -> Path:
    """The .deb with the highest Debian version (by dpkg's own ordering)."""

    def cmp(a: Path, b: Path) -> int:
        va, vb = _deb_fields(a).version, _deb_fields(b).version
        if va == vb:
            return (a.name > b.name) - (a.name < b.name)
        lt = _run(["dpkg", "--compare-versions", va, "lt", vb]).returncode == 0
        return -1 if lt else 1

    return sorted(debs, key=functools.cmp_to_key(cmp))[-1]


def fetch_deb(package: str, arch: str, cache_dir: Path) -> DebFile:
    """Return ``<package>:<arch>``'s .deb from ``cache_dir``, downloading it with apt if absent.

    The cache makes repeated runs offline: a .deb already there is used without asking apt.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = sorted(cache_dir.glob(f"{package}_*_{arch}.deb"))
    if not cached:
        # Download into a private directory, then rename: concurrent runs never see a partial file.
        tmp = Path(tempfile.mkdtemp(prefix=".apt-download-", dir=cache_dir))
        try:
            os.chmod(tmp, 0o755)  # lets apt's _apt sandbox user write here when possible
            proc = _run(["apt-get", "download", "-q", f"{package}:{arch}"], cwd=str(tmp))
            debs = sorted(tmp.glob("*.deb"))
            if proc.returncode != 0 or not debs:
                hint = ""
                if arch not in _dpkg_architectures():
                    hint = (
                        f" (dpkg does not know the {arch} architecture: run "
                        f"`dpkg --add-architecture {arch} && apt-get update`)"
                    )
                raise HubError(
                    f"apt-get download {package}:{arch} failed: {_last_error(proc)}{hint}"
                )
            for deb in debs:
                os.replace(deb, cache_dir / deb.name)
            cached = [cache_dir / d.name for d in debs]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    deb = _newest(cached) if len(cached) > 1 else cached[0]
    info = _deb_fields(deb)
    if info.package != package or info.arch != arch:
        raise HubError(
            f"{deb}: holds {info.package}:{info.arch}, expected {package}:{arch}"
        )
    return info


@functools.lru_cache(maxsize=None)
def _dpkg_architectures() -> frozenset:
    archs = set()
    for cmd in (["dpkg", "--print-architecture"], ["dpkg", "--print-foreign-architectures"]):
        try:
            proc = _run(cmd)
        except HubError:
            continue
        archs.update(proc.stdout.decode().split())
    return frozenset(archs)


def _norm(path: str) -> str:
    """A tar member name or an absolute path as a plain relative path: ./usr/bin/x -> usr/bin/x."""
    return posixpath.normpath(posixpath.join("/", path)).lstrip("/")


def read_deb_files(deb: Path, paths: Sequence[str]) -> dict:
    """Read regular files out of a .deb's data (no root, no dpkg database).

    Returns ``{path: (data, mtime)}`` for each of ``paths`` found (absolute paths as
    installed); symbolic links inside the package are followed.
    """
    wanted = {_norm(p): p for p in paths}
    found: dict = {}
    pending = dict(wanted)
    for _ in range(8):  # follow at most a few levels of links
        if not pending:
            break
        links = {}
        proc = subprocess.Popen(
            ["dpkg-deb", "--fsys-tarfile", str(deb)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, LC_ALL="C"),
        )
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    name = _norm(member.name)
                    if name not in pending:
                        continue
                    if member.isfile():
                        f = tar.extractfile(member)
                        found[pending[name]] = (f.read() if f else b"", int(member.mtime))
                    elif member.issym() or member.islnk():
                        # a symlink is relative to its directory, a hard link to the root
                        base = posixpath.dirname("/" + name) if member.issym() else "/"
                        links[_norm(posixpath.join(base, member.linkname))] = pending[name]
        finally:
            proc.stdout.close()
            stderr = proc.stderr.read()
            proc.stderr.close()
            rc = proc.wait()
        if rc != 0:
            msg = stderr.decode("utf-8", "replace").strip().splitlines()
            raise HubError(f"{deb}: dpkg-deb --fsys-tarfile failed: {msg[-1] if msg else rc}")
        pending = {k: v for k, v in links.items() if v not in found}
    return found


def elf_machine(data: bytes) -> int | None:
    """ELF e_machine of a binary (62 x86-64, 183 AArch64), or None when not an ELF file."""
    header = elf.read_header(data)
    return header.machine if header else None


# --------------------------------------------------------------------------------------------
# Upstream side: archive layouts


_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".gz")  # as the manifest schema allows


def archive_kind(file_name: str) -> str:
    """"tar.gz", "zip" or "gz" (one gzipped binary), from the file name."""
    lower = file_name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return {".tgz": "tar.gz"}.get(suffix, suffix[1:])
    raise HubError(
        f"{file_name}: unknown archive type (expected one of {', '.join(_SUFFIXES)})"
    )


def _stem(file_name: str) -> str:
    lower = file_name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return file_name[: -len(suffix)]
    return file_name


def _gzip(data: bytes, mtime: int = 0) -> bytes:
    """Deterministic gzip: no file name, and ``mtime`` in the header.

    A .tar.gz keeps 0 there (its members carry the dates). A single-file .gz has no member
    header, so its gzip MTIME is the binary's date: upstream's gzip records it, and `update-lock`
    (hub.upstream.source_date.source_date_of) takes the source date of a .gz from that field."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=mtime,
                       compresslevel=_GZIP_LEVEL) as gz:
        gz.write(data)
    return buf.getvalue()


def _tar(files: Mapping[str, tuple], top_dir: str | None, mtime: int) -> bytes:
    """An uncompressed, deterministic tar: ``files`` maps member name -> (data, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def info(name: str) -> tarfile.TarInfo:
            ti = tarfile.TarInfo(name)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mtime = mtime
            return ti

        if top_dir:
            ti = info(top_dir + "/")
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            tar.addfile(ti)
        for name in sorted(files):
            data, mode = files[name]
            ti = info(f"{top_dir}/{name}" if top_dir else name)
            ti.mode = mode
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: Mapping[str, tuple], top_dir: str | None, mtime: int) -> bytes:
    date_time = time.gmtime(max(mtime, _ZIP_EPOCH))[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:

        def info(name: str, mode: int) -> zipfile.ZipInfo:
            zi = zipfile.ZipInfo(name, date_time=date_time)
            zi.create_system = 3  # Unix: keeps the modes in external_attr
            zi.external_attr = mode << 16
            return zi

        if top_dir:
            zi = info(top_dir + "/", 0o40755)
            zi.external_attr |= 0x10  # MS-DOS directory bit
            zf.writestr(zi, b"")
        for name in sorted(files):
            data, mode = files[name]
            zi = info(f"{top_dir}/{name}" if top_dir else name, 0o100000 | mode)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED,
                        compresslevel=_GZIP_LEVEL)
    return buf.getvalue()


def pack_archive(
    file_name: str,
    binaries: Mapping[str, bytes],
    *,
    mtime: int,
    license_text: bytes | None = None,
    layout: str = "dir",
) -> bytes:
    """The bytes of an upstream-style archive named ``file_name`` holding ``binaries``.

    ``.tar.gz``/``.zip``: the binaries (mode 0755) and a LICENSE, under a top directory named
    after the archive (``node_exporter-1.5.0.linux-amd64/node_exporter``) or at the root for
    the "flat" layout. ``.gz``: the single binary, gzipped.
    """
    kind = archive_kind(file_name)
    if kind == "gz":
        if len(binaries) != 1:
            raise HubError(
                f"{file_name}: a single-file .gz holds one binary, not {len(binaries)} "
                f"({', '.join(sorted(binaries))})"
            )
        return _gzip(next(iter(binaries.values())), mtime)
    files = {name: (data, 0o755) for name, data in binaries.items()}
    if license_text is not None:
        files.setdefault("LICENSE", (license_text, 0o644))
    top_dir = _stem(file_name) if layout == "dir" else None
    if kind == "zip":
        return _zip(files, top_dir, mtime)
    return _gzip(_tar(files, top_dir, mtime))


# --------------------------------------------------------------------------------------------
# The mirror


def mirror_path(manifest, arch: str) -> str:
    """``<owner>/<repo>/releases/download/<tag>/<file>``: the path below the mirror's base URL."""
    return f"{manifest.upstream.repo}/releases/download/{manifest.tag}/{manifest.archive_name(arch)}"


def build_mirror(
    manifests: Sequence,
    out_dir: Path,
    *,
    cache_dir: Path,
    archs: Sequence[str] | None = None,
    table: Mapping[str, DebianBuild] | None = None,
    jobs: int = 1,
) -> list:
    """Write each manifest's upstream archives (per build arch) under ``out_dir``.

    ``archs`` limits the arches (default: each manifest's ``build.archs``); ``table`` replaces
    :data:`DEBIAN_BUILDS`; ``jobs`` repacks that many archives at once. Returns one :class:`MirrorEntry` per (exporter, arch), in order;
    an exporter Debian does not ship gets status "no-debian-build" and no archive.
    """
    table = DEBIAN_BUILDS if table is None else table
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
                    results.append(MirrorEntry(
                        manifest.name, arch, STATUS_LOCAL,
                        detail="local upstream sources: nothing to mirror",
                    ))
                elif source is None:
                    results.append(MirrorEntry(
                        manifest.name, arch, STATUS_NO_DEBIAN_BUILD,
                        url_path=mirror_path(manifest, arch),
                        detail="Debian ships no build of this exporter",
                    ))
                else:
                    results.append(pool.submit(
                        _mirror_one, manifest, arch, source, out_dir, cache_dir, download_lock
                    ))
        # In input order; the first failure is raised as it is (a HubError names its cause).
        return [r.result() if isinstance(r, concurrent.futures.Future) else r for r in results]


def _binary_paths(manifest, source: DebianBuild) -> dict:
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


def _mirror_one(manifest, arch: str, source: DebianBuild, out_dir: Path, cache_dir: Path,
                download_lock: threading.Lock) -> MirrorEntry:
    with download_lock:
        deb = fetch_deb(source.package, arch, cache_dir)
    paths = _binary_paths(manifest, source)
    copyright_path = f"/usr/share/doc/{source.package}/copyright"
    files = read_deb_files(deb.path, [*paths.values(), copyright_path])
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
        license_text = (
            f"See the copyright file of the Debian package {source.package} "
            f"{deb.version}.\n".encode()
        )
    mtime = max(mtimes)
    file_name = manifest.archive_name(arch)
    data = pack_archive(file_name, binaries, mtime=mtime, license_text=license_text,
                        layout=source.layout)
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


# --------------------------------------------------------------------------------------------
# Serving


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
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        yield f"http://{shown}:{bound_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --------------------------------------------------------------------------------------------
# CLI


def _load_manifests(paths: Sequence[str]) -> list:
    from hub.manifest.load import load_manifest

    manifests = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            path = path / "manifest.yaml"
        manifests.append(load_manifest(path))
    return manifests


def _run_build(args: argparse.Namespace) -> int:
    manifests = _load_manifests(args.manifests)
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out.parent / f".{out.name}-deb-cache"
    entries = build_mirror(manifests, out, cache_dir=cache, archs=args.arch or None,
                           jobs=args.jobs)
    written = [e for e in entries if e.ok]
    skipped = [e for e in entries if not e.ok]
    for e in entries:
        if e.ok:
            print(f"{e.exporter}\t{e.arch}\t{e.path}\t{e.sha256}")
        else:
            print(f"{e.exporter}\t{e.arch}\t{e.status}\t{e.detail}")
    summary = f"{len(written)} archive(s) written under {out}"
    if skipped:
        names = sorted({f"{e.exporter} ({e.status})" for e in skipped})
        summary += f"; {len(skipped)} skipped: {', '.join(names)}"
    print(summary)
    return 0


def _stop(signum, frame):
    raise KeyboardInterrupt


def _run_serve(args: argparse.Namespace) -> int:
    with serve(Path(args.dir), host=args.host, port=args.port) as url:
        print(f"serving {args.dir} at {url} (use it as [hub].upstream_mirror); Ctrl-C stops",
              flush=True)
        # SIGTERM and SIGINT both stop cleanly (a background job may have SIGINT ignored).
        previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    return 0
