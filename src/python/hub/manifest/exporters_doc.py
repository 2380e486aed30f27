"""`hub exporters-doc`: the table of every exporter in docs/exporters.md, generated from the manifests.

The page is never edited by hand: ``hub exporters-doc exporters > docs/exporters.md`` rewrites
it, and ``hub exporters-doc --check docs/exporters.md exporters`` (run by the engine's tests)
exits 1 when it no longer matches the manifests. The output depends only on the manifests
(sorted by name, no dates, no paths of the machine), so it is stable across machines.
"""

from __future__ import annotations

import os
import textwrap
from typing import Sequence

from hub.common import matrix
from hub.common.errors import HubError
from hub.manifest.load import MANIFEST_FILE, load_manifest
from hub.manifest.model import Manifest

REGENERATE = "hub exporters-doc exporters > docs/exporters.md"
COLUMNS = ("Exporter", "Version", "Category", "Port", "Service user", "Binaries", "Archs", "Artifacts")
NONE = "—"


def load_exporters(exporters_dir: str) -> list[Manifest]:
    """Every ``<exporters_dir>/<name>/manifest.yaml``, sorted by name (a bad one: ManifestError)."""
    try:
        names = sorted(os.listdir(exporters_dir))
    except OSError as e:
        raise HubError(f"{exporters_dir}: cannot list the exporters directory: {e.strerror or e}") from None
    manifests = []
    for name in names:
        path = os.path.join(exporters_dir, name, MANIFEST_FILE)
        if os.path.isfile(path):
            manifests.append(load_manifest(path))
    if not manifests:
        raise HubError(f"{exporters_dir}: no <name>/{MANIFEST_FILE} found")
    return manifests


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _and(words: Sequence[str]) -> str:
    """a, b and c."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else list(words))


def _deb_releases() -> str:
    """The matrix's DEB dists in words: Debian 12, 13 and Ubuntu 22.04, 24.04."""
    releases: dict[str, list[str]] = {}
    for dist in matrix.DEB_DISTS:
        distro, _, release = dist.partition("-")
        releases.setdefault(distro.capitalize(), []).append(release)
    return _and([f"{distro} {', '.join(numbers)}" for distro, numbers in releases.items()])


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def service_user(m: Manifest) -> str | None:
    """The packages' service user (RPM's, else DEB's); None without packages."""
    spec = m.rpm or m.deb
    return spec.system_user if spec is not None else None


def artifacts(m: Manifest) -> str:
    parts = []
    for label, spec in (("RPM", m.rpm), ("DEB", m.deb)):
        if spec is not None:
            parts.append(f"{len(spec.targets) * len(m.build.archs)} {label}")
    if m.docker is not None:
        parts.append("image")
    return ", ".join(parts) or NONE


def row(m: Manifest) -> list[str]:
    port = m.docker.port if m.docker is not None else None
    return [
        f"[{m.name}](../exporters/{m.name}/README.md)",
        f"`{m.version}`",
        m.category,
        str(port) if port is not None else NONE,
        f"`{service_user(m)}`" if service_user(m) else NONE,
        ", ".join(f"`{b}`" for b in m.build.binaries),
        ", ".join(m.build.archs),
        artifacts(m),
    ]


def render(manifests: Sequence[Manifest]) -> str:
    """The whole docs/exporters.md page."""
    manifests = sorted(manifests, key=lambda m: m.name)
    packages = sum(1 for m in manifests for a in m.matrix() if a.kind != "docker")
    images = sum(1 for m in manifests if m.docker is not None)
    amd64_only = [m.name for m in manifests if m.build.archs == ("amd64",)]
    summary = (
        f"{_count(len(manifests), 'exporter')}, {_count(packages, 'package')} and "
        f"{_count(images, 'image')}. Each exporter builds "
        f"RPMs for {_and(matrix.RPM_DISTS)} and DEBs for {_deb_releases()} on each of "
        "its architectures, plus one multi-arch image, unless its manifest says otherwise."
    )
    if amd64_only:
        summary += f" Built for amd64 only: {', '.join(amd64_only)}."
    summary += (
        " Packages are named after the exporter (RPM) or with dashes instead of underscores (DEB);"
        " each exporter's README gives its configuration and install commands."
    )
    lines = [
        "# Exporters",
        "",
        "<!-- Generated from exporters/*/manifest.yaml: do not edit. Regenerate with",
        f"     `{REGENERATE}`",
        "     (the engine CLI: `./pants run src/python/hub:cli -- exporters-doc ...`). -->",
        "",
        *textwrap.wrap(summary, 100, break_long_words=False, break_on_hyphens=False),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row(m)) + " |" for m in manifests]
    return "\n".join(lines) + "\n"
