"""Debian's builds of the exporters: which package ships each one, and reading its binaries.

Debian's archive ships real builds of many exporters for amd64 and arm64 (older than the
manifests' versions, and dynamically linked against glibc where upstream's release binaries
are static). :data:`DEBIAN_BUILDS` maps an exporter to its **Debian build**: the binary package
and the path of each binary inside it. :func:`fetch_deb` gets a package's ``.deb`` with
``apt-get download`` into a **cache** (a .deb already there is used without asking apt, so
repeated runs are offline); :func:`read_deb_files` reads files out of it with ``dpkg-deb``,
without root and without installing anything.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from hub.common.errors import HubError
from hub.upstream.archive_containers import read_tar_stream
from hub.upstream.archive_limits import DEFAULT_LIMITS, Limits


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
    "bind_exporter": DebianBuild("prometheus-bind-exporter", {"bind_exporter": "/usr/bin/prometheus-bind-exporter"}),
    "blackbox_exporter": DebianBuild(
        "prometheus-blackbox-exporter",
        {"blackbox_exporter": "/usr/bin/prometheus-blackbox-exporter"},
    ),
    "elasticsearch_exporter": DebianBuild(
        "prometheus-elasticsearch-exporter",
        {"elasticsearch_exporter": "/usr/bin/prometheus-elasticsearch-exporter"},
    ),
    "frr_exporter": DebianBuild("prometheus-frr-exporter", {"frr_exporter": "/usr/bin/prometheus-frr-exporter"}),
    "ha_cluster_exporter": DebianBuild(
        "prometheus-hacluster-exporter", {"ha_cluster_exporter": "/usr/bin/ha_cluster_exporter"}
    ),
    "ipmi_exporter": DebianBuild("prometheus-ipmi-exporter", {"ipmi_exporter": "/usr/bin/prometheus-ipmi-exporter"}),
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
    "node_exporter": DebianBuild("prometheus-node-exporter", {"node_exporter": "/usr/bin/prometheus-node-exporter"}),
    "process_exporter": DebianBuild(
        "prometheus-process-exporter",
        {"process-exporter": "/usr/bin/prometheus-process-exporter"},
    ),
    "prometheus": DebianBuild("prometheus", {"prometheus": "/usr/bin/prometheus", "promtool": "/usr/bin/promtool"}),
    "redis_exporter": DebianBuild(
        "prometheus-redis-exporter", {"redis_exporter": "/usr/bin/prometheus-redis-exporter"}
    ),
    "snmp_exporter": DebianBuild("prometheus-snmp-exporter", {"snmp_exporter": "/usr/bin/prometheus-snmp-exporter"}),
}


@dataclass(frozen=True)
class DebFile:
    path: Path
    package: str
    version: str
    arch: str

    @property
    def upstream_version(self) -> str:
        return upstream_version(self.version)


# A repacked upstream tarball's suffix (Debian policy's usual spellings): +ds, +dfsg, +repack.
_REPACK_SUFFIX = re.compile(r"[+~](?:ds|dfsg|repack)\d*$")


def upstream_version(debian_version: str) -> str:
    """The upstream version of a Debian version: without the epoch, the Debian revision and a
    repack suffix. ``1:2.42.0+ds-5+deb12u1`` -> ``2.42.0``, ``1.5.0-1+b6`` -> ``1.5.0``."""
    version = debian_version.partition(":")[2] if ":" in debian_version else debian_version
    version = version.rpartition("-")[0] or version
    return _REPACK_SUFFIX.sub("", version)


def _run(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        return subprocess.run(list(cmd), env=env, capture_output=True, **kwargs)
    except FileNotFoundError:
        raise HubError(f"`{cmd[0]}` was not found: building the upstream mirror needs Debian's apt and dpkg") from None


def _deb_fields(deb: Path) -> DebFile:
    proc = _run(["dpkg-deb", "--field", str(deb), "Package", "Version", "Architecture"])
    if proc.returncode != 0:
        raise HubError(f"{deb}: not a readable .deb: {_last_error(proc)}")
    fields = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return DebFile(deb, fields.get("Package", ""), fields.get("Version", ""), fields.get("Architecture", ""))


def _last_error(proc: subprocess.CompletedProcess) -> str:
    """The apt/dpkg line that says what went wrong ("E: ..." preferred)."""
    lines = [ln.strip() for ln in (proc.stderr + proc.stdout).decode("utf-8", "replace").splitlines() if ln.strip()]
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
                raise HubError(f"apt-get download {package}:{arch} failed: {_last_error(proc)}{hint}")
            for deb in debs:
                os.replace(deb, cache_dir / deb.name)
            cached = [cache_dir / d.name for d in debs]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    deb = _newest(cached) if len(cached) > 1 else cached[0]
    info = _deb_fields(deb)
    if info.package != package or info.arch != arch:
        raise HubError(f"{deb}: holds {info.package}:{info.arch}, expected {package}:{arch}")
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


def _kept(paths: frozenset, member: tarfile.TarInfo) -> bool:
    return _norm(member.name) in paths


def read_deb_files(deb: Path, paths: Sequence[str], *, limits: Limits = DEFAULT_LIMITS) -> dict:
    """Read regular files out of a .deb's data (no root, no dpkg database), under ``limits``
    (those of an upstream archive's extraction: members, header bytes, sizes).

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
        assert proc.stdout is not None and proc.stderr is not None  # both are PIPEs
        try:
            # under the limits of an upstream archive's extraction: a package is big, not huge
            keep = frozenset(pending)  # this pass's paths (links found here are read in the next)
            members = read_tar_stream(proc.stdout, f"{deb} (data)", limits, functools.partial(_kept, keep))
            for member, data in members:
                name = _norm(member.name)
                if name not in pending:
                    continue
                if data is not None:
                    found[pending[name]] = (data, int(member.mtime))
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
