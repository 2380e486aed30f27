"""The build matrix vocabulary: distributions, architectures and their per-family names.

The matrix is declared once, in ``hub/matrix.json``, which the Pants plugin reads too (the
two run in different interpreters and resolves, so neither imports the other). Arches use
Go/Debian names (amd64, arm64) everywhere except inside RPMs (x86_64, aarch64).
Compression per dist is the best payload its own package manager can read; see
docs/packaging.md for the minimum client versions behind each choice.
"""

from __future__ import annotations

import json
import pkgutil
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

MATRIX_RESOURCE = "matrix.json"


def _load() -> dict[str, Any]:
    raw = pkgutil.get_data("hub", MATRIX_RESOURCE)
    if raw is None:  # pragma: no cover - a broken installation
        raise RuntimeError(f"hub/{MATRIX_RESOURCE} is not packaged")
    return json.loads(raw.decode("utf-8"))


@dataclass(frozen=True)
class Dist:
    name: str  # as in artifact names: el9, debian-12, ubuntu-24.04
    family: str  # "rpm" or "deb"
    codename: str  # APT suite (bookworm) or the YUM directory (el9)
    release_suffix: str  # RPM release "1.el9" / DEB revision "1+deb12"
    compression: str  # nfpm compression name
    env_dir: str  # where the service's environment file lives


_MATRIX = _load()
ARCHES: tuple[str, ...] = tuple(_MATRIX["arches"])
RPM_ARCH: Mapping[str, str] = MappingProxyType({a: v["rpm_arch"] for a, v in _MATRIX["arches"].items()})
# Some upstreams mix conventions: x86_64 for amd64 but arm64 for arm64.
UPSTREAM_LINUX_ARCH: Mapping[str, str] = MappingProxyType(
    {a: v["upstream_linux_arch"] for a, v in _MATRIX["arches"].items()}
)
# ELF e_machine of each arch's binaries (EM_X86_64, EM_AARCH64), to check what we package.
ELF_MACHINE: Mapping[str, int] = MappingProxyType({a: v["elf_machine"] for a, v in _MATRIX["arches"].items()})
# OCI platform of each arch (arm64 carries variant v8, as containerd normalizes it).
OCI_PLATFORM: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {a: MappingProxyType(v["oci_platform"]) for a, v in _MATRIX["arches"].items()}
)
DISTS: Mapping[str, Dist] = MappingProxyType({name: Dist(name, **d) for name, d in _MATRIX["dists"].items()})
RPM_DISTS: tuple[str, ...] = tuple(n for n, d in DISTS.items() if d.family == "rpm")
DEB_DISTS: tuple[str, ...] = tuple(n for n, d in DISTS.items() if d.family == "deb")
FAMILY_DISTS: Mapping[str, tuple[str, ...]] = MappingProxyType({"rpm": RPM_DISTS, "deb": DEB_DISTS})


def artifact_id(kind: str, arch: str | None = None, dist: str | None = None) -> str:
    """The name shared by a generated target and its artifact JSON: rpm_amd64_el9, docker."""
    if kind == "docker":
        return "docker"
    return f"{kind}_{arch}_{dist}"


def deb_package_name(exporter: str) -> str:
    """Debian names allow no underscore (Policy 5.6.1), so every one becomes a dash."""
    return exporter.replace("_", "-")
