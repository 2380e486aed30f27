"""The manifest model: a typed, frozen view of one exporter's ``manifest.yaml``.

Built by :func:`hub.manifest.load.load_manifest` from validated data with every default
applied, so code that receives a :class:`Manifest` never checks a field again. Placeholders
(``{version}``, ``{arch}``...) are expanded here, from the same values everywhere.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from hub.common import matrix
from hub.common.errors import HubError

MANIFEST_FILE = "manifest.yaml"  # in exporters/<name>/
GITHUB_PREFIX = "https://github.com/"
PLACEHOLDERS = ("name", "version", "clean_version", "arch", "rpm_arch", "upstream_linux_arch")
TAG_PLACEHOLDERS = ("name", "version", "clean_version")
ARCH_PLACEHOLDERS = ("arch", "rpm_arch", "upstream_linux_arch")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


def expand(template: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass(frozen=True)
class Artifact:
    kind: str  # "rpm", "deb" or "docker"
    arch: str | None = None  # None for docker (one multi-arch index)
    dist: str | None = None

    @property
    def id(self) -> str:
        """The generated target's name and the artifact JSON's: rpm_amd64_el9, docker."""
        return matrix.artifact_id(self.kind, self.arch, self.dist)


@dataclass(frozen=True)
class Upstream:
    repo: str | None  # owner/name; None when the archives are local
    tag: str  # the raw pattern, "{version}" by default; Manifest.tag expands it
    strategy: str  # "latest_release" or "pinned"
    archive_name: str  # the raw pattern; Manifest.archive_name(arch) expands it
    arch_names: Mapping[str, Mapping[str, str]]  # arch -> placeholder overrides (read-only)
    local: Mapping[str, str] | None  # arch -> path relative to the exporter directory


@dataclass(frozen=True)
class Build:
    binary_name: str
    extra_binaries: tuple[str, ...]
    archs: tuple[str, ...]  # in hub.common.matrix.ARCHES order

    @property
    def binaries(self) -> tuple[str, ...]:
        return (self.binary_name, *self.extra_binaries)


@dataclass(frozen=True)
class Grant:
    """One thing the service gets beyond the strict sandbox, with its reason.

    ``kind`` is one of hub.manifest.policy.GRANT_KINDS (capability, device, read_path,
    write_path, address_family, system_call, proc); ``access`` only for devices."""

    kind: str
    value: str
    reason: str
    access: str = "r"


@dataclass(frozen=True)
class SystemdSpec:
    enabled: bool
    arguments: tuple[str, ...]  # empty: ExecStart=/usr/bin/<binary> $ARGS
    after: tuple[str, ...]
    restart: str
    type: str
    grants: tuple[Grant, ...] = ()
    run_as_root: str | None = None  # the reason, with system_user root

    def granted(self, kind: str) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.kind == kind)


@dataclass(frozen=True)
class ExtraFile:
    source: str  # relative to the exporter directory
    dest: str  # absolute, normalized
    mode: str  # octal string, e.g. "0644"
    config: bool


@dataclass(frozen=True)
class Directory:
    path: str
    mode: str
    owner: str
    group: str


@dataclass(frozen=True)
class PackageSpec:
    targets: tuple[str, ...]  # dists, in hub.common.matrix order
    summary: str  # defaults to the description
    dependencies: tuple[str, ...]
    system_user: str  # defaults to the exporter's name
    systemd: SystemdSpec
    extra_files: tuple[ExtraFile, ...]
    directories: tuple[Directory, ...]
    conflicts: tuple[str, ...]
    replaces: tuple[str, ...]


@dataclass(frozen=True)
class DockerValidation:
    path: str  # HTTP path, "/metrics" by default
    expect: str | None  # a metric name the response must contain


@dataclass(frozen=True)
class DockerSpec:
    base_image: str  # "scratch" by default
    entrypoint: tuple[str, ...]  # empty: the main binary
    cmd: tuple[str, ...]
    port: int | None  # None: no port exposed
    user: str  # defaults to the packages' system_user (never root unless explicit)
    ca_certificates: bool
    validation: DockerValidation | None


# The distributions whose own packages of an exporter the manifest lists
# (`distribution_packages`), per package family: the DEBs declare Conflicts and Replaces on
# the Debian/Ubuntu ones, the RPMs Conflicts on the Fedora/EPEL ones.
# The Debian/Ubuntu ones are the DEB dists of the build matrix.
DISTRIBUTIONS = {"deb": matrix.DEB_DISTS, "rpm": ("fedora", "epel")}


@dataclass(frozen=True)
class DistributionPackages:
    """One distribution's packages of the same exporter, and where that was checked.

    ``packages`` is None when it could not be checked (``not_checked`` says why); an empty
    tuple states that the distribution has none."""

    packages: tuple[str, ...] | None
    checked: str | None = None
    note: str | None = None
    not_checked: str | None = None


@dataclass(frozen=True)
class Manifest:
    path: str
    name: str
    description: str
    category: str
    version: str
    license: str | None
    homepage: str | None
    upstream: Upstream
    build: Build
    rpm: PackageSpec | None  # None when disabled
    deb: PackageSpec | None
    docker: DockerSpec | None
    # distribution -> its packages (DISTRIBUTIONS); empty when the manifest has no table
    distribution_packages: Mapping[str, DistributionPackages] = field(default_factory=dict)

    def distribution_package_names(self, kind: str) -> tuple[str, ...]:
        """The packages of the family's distributions that ship this exporter, sorted, without
        this exporter's own package name (a package of the same name is upgraded in place)."""
        own = self.name if kind == "rpm" else matrix.deb_package_name(self.name)
        names = {
            p
            for dist in DISTRIBUTIONS[kind]
            for p in (self.distribution_packages.get(dist, DistributionPackages(())).packages or ())
        }
        return tuple(sorted(names - {own}))

    @property
    def directory(self) -> str:
        """The exporter directory (extra_files sources and local archives are relative to it)."""
        return os.path.dirname(self.path)

    @property
    def clean_version(self) -> str:
        return self.version[1:] if self.version.startswith("v") else self.version

    @property
    def tag(self) -> str:
        return expand(self.upstream.tag, self._base_placeholders())

    @property
    def is_local(self) -> bool:
        return self.upstream.local is not None

    def _base_placeholders(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "clean_version": self.clean_version}

    def placeholders(self, arch: str) -> dict[str, str]:
        if arch not in matrix.ARCHES:
            raise HubError(f"unknown arch {arch!r} (expected one of: {', '.join(matrix.ARCHES)})")
        values = self._base_placeholders()
        values.update(
            arch=arch,
            rpm_arch=matrix.RPM_ARCH[arch],
            upstream_linux_arch=matrix.UPSTREAM_LINUX_ARCH[arch],
        )
        values.update(self.upstream.arch_names.get(arch, {}))
        return values

    def archive_name(self, arch: str) -> str:
        """The release asset's file name; for a local upstream, the local file's base name."""
        if self.upstream.local is not None:
            return os.path.basename(self.local_archive(arch))
        return expand(self.upstream.archive_name, self.placeholders(arch))

    def archive_url(self, arch: str) -> str:
        """The canonical upstream URL. A local upstream has none: HubError."""
        if self.upstream.repo is None:
            raise HubError(f"{self.name}: the upstream is local (upstream.local), it has no URL")
        return f"{GITHUB_PREFIX}{self.upstream.repo}/releases/download/{self.tag}/{self.archive_name(arch)}"

    def local_archive(self, arch: str) -> str:
        """For a local upstream: the archive's path relative to the exporter directory."""
        if self.upstream.local is None or arch not in self.upstream.local:
            raise HubError(f"{self.name}: no local archive for arch {arch!r}")
        return self.upstream.local[arch]

    def matrix(self) -> tuple[Artifact, ...]:
        """rpm × targets × archs, then deb × targets × archs, then docker, in hub.common.matrix order."""
        out: list[Artifact] = []
        for kind, spec in (("rpm", self.rpm), ("deb", self.deb)):
            if spec is None:
                continue
            for dist in spec.targets:
                out.extend(Artifact(kind, arch, dist) for arch in self.build.archs)
        if self.docker is not None:
            out.append(Artifact("docker"))
        return tuple(out)
