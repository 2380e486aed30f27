"""The build matrix vocabulary: distributions, architectures and their per-family names.

Arches use Go/Debian names (amd64, arm64) everywhere except inside RPMs (x86_64, aarch64).
Compression per dist is the best payload its own package manager can read; see
docs/packaging.md for the minimum client versions behind each choice.
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHES = ("amd64", "arm64")
RPM_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
# Some upstreams mix conventions: x86_64 for amd64 but arm64 for arm64.
UPSTREAM_LINUX_ARCH = {"amd64": "x86_64", "arm64": "arm64"}
# GNU triplet prefix as reported by `file`/ELF e_machine, used to check binaries.
ELF_MACHINE = {"amd64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64


@dataclass(frozen=True)
class Dist:
    name: str  # as in artifact names: el9, debian-12, ubuntu-24.04
    family: str  # "rpm" or "deb"
    codename: str  # APT suite (bookworm) or the YUM directory (el9)
    release_suffix: str  # RPM release "1.el9" / DEB revision "1+deb12"
    compression: str  # nfpm compression name
    env_dir: str  # where the service's environment file lives


DISTS = {
    d.name: d
    for d in (
        # rpm >= 4.14 (el8) reads xz; zstd payloads need rpm >= 4.16 (el9+).
        Dist("el8", "rpm", "el8", "el8", "xz", "/etc/sysconfig"),
        Dist("el9", "rpm", "el9", "el9", "zstd", "/etc/sysconfig"),
        Dist("el10", "rpm", "el10", "el10", "zstd", "/etc/sysconfig"),
        # dpkg reads zstd members since 1.21.18 (Debian 12); Ubuntu patched it in from 21.10.
        Dist("debian-12", "deb", "bookworm", "deb12", "zstd", "/etc/default"),
        Dist("debian-13", "deb", "trixie", "deb13", "zstd", "/etc/default"),
        Dist("ubuntu-22.04", "deb", "jammy", "ubuntu22.04", "zstd", "/etc/default"),
        Dist("ubuntu-24.04", "deb", "noble", "ubuntu24.04", "zstd", "/etc/default"),
    )
}
RPM_DISTS = tuple(n for n, d in DISTS.items() if d.family == "rpm")
DEB_DISTS = tuple(n for n, d in DISTS.items() if d.family == "deb")


def artifact_id(kind: str, arch: str | None = None, dist: str | None = None) -> str:
    """The name shared by a generated target and its artifact JSON: rpm_amd64_el9, docker."""
    if kind == "docker":
        return "docker"
    return f"{kind}_{arch}_{dist}"


def deb_package_name(exporter: str) -> str:
    """Debian names allow no underscore (Policy 5.6.1), so every one becomes a dash."""
    return exporter.replace("_", "-")
