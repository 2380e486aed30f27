"""Synthetic exporters for the catalog and portal tests and benchmarks: real manifests, real
(small) package files at their ``package.url`` and artifact JSONs that pass the schemas.

Nothing here is used by a build; it makes data of the real shapes without nfpm, so tests of
the downstream layers (aggregation, portal) stay fast and exercise the real formats.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from hub.catalog import artifact as catalog
from hub.common import matrix
from hub.common import files

CATEGORIES = ("Database", "Infrastructure", "Messaging", "Network", "Storage", "System", "Web")
BUILD_DATE = "2025-06-01T12:00:00Z"


@dataclass
class Spec:
    """One synthetic exporter. ``built`` selects which declared artifacts get a JSON (None: all);
    ``stale`` the ones whose JSON is for ``stale_version``."""

    name: str
    category: str = "System"
    description: str = "Synthetic exporter for tests"
    version: str = "v1.2.3"
    archs: Sequence[str] = ("amd64", "arm64")
    rpm: Sequence[str] = matrix.RPM_DISTS
    deb: Sequence[str] = matrix.DEB_DISTS
    docker: bool = True
    port: int | None = 9100
    license: str | None = "Apache-2.0"
    build_date: str = BUILD_DATE
    readme: str | None = None
    pinned: bool = True
    built: Iterable[str] | None = None
    stale: Iterable[str] = ()
    stale_version: str = "1.0.0"
    extra: dict[str, Any] = field(default_factory=dict)
    # Fields added to artifacts.rpm and artifacts.deb when enabled (system_user, systemd);
    # deb_fields, when given, replaces them for the DEB (families that declare different things).
    package_fields: dict[str, Any] = field(default_factory=dict)
    deb_fields: dict[str, Any] | None = None

    @property
    def clean_version(self) -> str:
        return self.version[1:] if self.version.startswith("v") else self.version


def manifest_data(spec: Spec) -> dict[str, Any]:
    deb_fields = spec.package_fields if spec.deb_fields is None else spec.deb_fields
    data: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "category": spec.category,
        "version": spec.version,
        "homepage": f"https://example.org/{spec.name}",
        "upstream": {"repo": f"example/{spec.name}"},
        "build": {"binary_name": spec.name, "archs": list(spec.archs)},
        "artifacts": {
            "rpm": {
                "enabled": bool(spec.rpm),
                **({"targets": list(spec.rpm), **spec.package_fields} if spec.rpm else {}),
            },
            "deb": {
                "enabled": bool(spec.deb),
                **({"targets": list(spec.deb), **deb_fields} if spec.deb else {}),
            },
            "docker": {"enabled": spec.docker, **({"port": spec.port} if spec.port and spec.docker else {})},
        },
    }
    if spec.license:
        data["license"] = spec.license
    data.update(spec.extra)
    return data


def write_manifest(exporters_dir: str | os.PathLike[str], spec: Spec) -> str:
    d = Path(exporters_dir) / spec.name
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.yaml").write_text(yaml.safe_dump(manifest_data(spec), sort_keys=False), encoding="utf-8")
    if spec.readme is not None:
        (d / "README.md").write_text(spec.readme, encoding="utf-8")
    if spec.pinned:
        write_lock(str(d / "manifest.yaml"), spec)
    return str(d / "manifest.yaml")


def write_lock(manifest_path: str, spec: Spec) -> None:
    """An upstream lock that pins the manifest (synthetic digests; nothing is downloaded)."""
    from hub.upstream import lock as fetch
    from hub.manifest.load import load_manifest

    manifest = load_manifest(manifest_path)
    archives = {
        arch: fetch.LockedArchive(manifest.archive_url(arch), _digest(f"{spec.name}-{spec.clean_version}-{arch}"), 1000)
        for arch in manifest.build.archs
    }
    lock = fetch.Lock(exporter=spec.name, version=spec.version, source_date=spec.build_date, archives=archives)
    fetch.write_lock(fetch.lock_path_for(manifest_path), lock)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def package_json(
    spec: Spec, kind: str, arch: str, dist: str, site: str | os.PathLike[str], version: str
) -> dict[str, Any]:
    """Writes a small, unique package file at its package.url under ``site`` and returns its
    artifact JSON (sha256 and size read from the file)."""
    d = matrix.DISTS[dist]
    if kind == "rpm":
        name = spec.name
        filename = f"{name}-{version}-1.{d.release_suffix}.{matrix.RPM_ARCH[arch]}.rpm"
        metadata = {
            "name": name,
            "version": version,
            "release": f"1.{d.release_suffix}",
            "arch": matrix.RPM_ARCH[arch],
            "summary": spec.description,
            "license": spec.license or "NOASSERTION",
        }
    else:
        name = matrix.deb_package_name(spec.name)
        filename = f"{name}_{version}-1+{d.release_suffix}_{arch}.deb"
        metadata = {
            "package": name,
            "version": f"{version}-1+{d.release_suffix}",
            "architecture": arch,
            "section": "net",
            "priority": "optional",
            "maintainer": "Monitoring Hub <hub@example.org>",
            "depends": [],
            "conflicts": [],
            "replaces": [],
        }
    url = catalog.package_url(kind, dist=dist, arch=arch, package_name=name, filename=filename)
    path = Path(site) / url
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"synthetic package {filename}\n".encode() * 3)
    source = {
        "url": f"https://github.com/example/{spec.name}/releases/download/v{version}/{spec.name}-{arch}.tar.gz",
        "sha256": _digest(f"{spec.name}-{version}-{arch}"),
    }
    return catalog.package_artifact(
        kind=kind,
        exporter=spec.name,
        version=version,
        arch=arch,
        dist=dist,
        build_date=spec.build_date,
        path=path,
        package_name=name,
        metadata=metadata,
        source=source,
    )


def docker_json(
    spec: Spec, version: str, registry: str = "registry.example.org", repository_prefix: str = "monitoring-hub"
) -> dict[str, Any]:
    platforms = [f"linux/{a}" for a in spec.archs]
    return {
        "format_version": catalog.FORMAT_VERSION,
        "artifact_type": "docker",
        "exporter": spec.name,
        "version": version,
        "build_date": spec.build_date,
        "status": "success",
        "images": [
            {
                "registry": registry,
                "repository": f"{repository_prefix}/{spec.name}",
                "tag": version,
                "digest": "sha256:" + _digest(f"index {spec.name} {version}"),
                "platforms": platforms,
                "size_bytes": 12_345_678,
                "manifests": [
                    {
                        "platform": p,
                        "digest": "sha256:" + _digest(f"{p} {spec.name} {version}"),
                        "size_bytes": 6_000_000,
                    }
                    for p in platforms
                ],
            }
        ],
        "base_image": "scratch",
        "user": spec.name if len(spec.name) <= 32 else "nobody",
        "ca_bundle_sha256": None,
        "sources": {
            a: {
                "url": f"https://github.com/example/{spec.name}/releases/download/v{version}/{spec.name}-{a}.tar.gz",
                "sha256": _digest(f"{spec.name}-{version}-{a}"),
            }
            for a in spec.archs
        },
    }


def artifact_jsons(spec: Spec, site: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """{artifact id: JSON} for the declared artifacts ``spec.built`` selects."""
    built = None if spec.built is None else set(spec.built)
    stale = set(spec.stale)
    out = {}
    for kind, targets in (("rpm", spec.rpm), ("deb", spec.deb)):
        for dist in targets:
            for arch in spec.archs:
                aid = matrix.artifact_id(kind, arch, dist)
                if built is None or aid in built or aid in stale:
                    version = spec.stale_version if aid in stale else spec.clean_version
                    out[aid] = package_json(spec, kind, arch, dist, site, version)
    if spec.docker and (built is None or "docker" in built or "docker" in stale):
        out["docker"] = docker_json(spec, spec.stale_version if "docker" in stale else spec.clean_version)
    return out


def write_exporters(root: str | os.PathLike[str], specs: Sequence[Spec]) -> dict[str, str]:
    """Writes ``root/exporters/<name>/{manifest.yaml,README.md}``, the artifact JSONs under
    ``root/artifacts/<name>/`` and the package files under ``root/site/``. Returns those paths."""
    root = Path(root)
    paths = {"exporters": str(root / "exporters"), "artifacts": str(root / "artifacts"), "site": str(root / "site")}
    for spec in specs:
        write_manifest(paths["exporters"], spec)
        for aid, doc in artifact_jsons(spec, paths["site"]).items():
            files.write_json(Path(paths["artifacts"]) / spec.name / f"{aid}.json", doc)
    return paths


def many(
    n: int,
    *,
    seed_words: Sequence[str] = (
        "node",
        "redis",
        "mysql",
        "nginx",
        "kafka",
        "snmp",
        "bind",
        "apache",
        "ipmi",
        "elastic",
        "postgres",
        "mongo",
        "haproxy",
    ),
) -> list[Spec]:
    """``n`` varied exporters (names, categories, dates, partial and stale builds)."""
    specs = []
    for i in range(n):
        word = seed_words[i % len(seed_words)]
        name = f"{word}_exporter" if i < len(seed_words) else f"{word}_{i:04d}_exporter"
        cat = CATEGORIES[(i * 5) % len(CATEGORIES)]
        day = 1 + (i * 7) % 28
        built = None
        if i % 5 == 3:
            built = ["rpm_amd64_el9", "deb_amd64_debian-12"]
        specs.append(
            Spec(
                name=name,
                category=cat,
                description=f"Exports {word} metrics number {i} for Prometheus ({cat.lower()})",
                version=f"v{1 + i % 3}.{i % 10}.{i % 7}",
                archs=("amd64",) if i % 11 == 10 else ("amd64", "arm64"),
                build_date=f"2025-{1 + i % 12:02d}-{day:02d}T12:00:00Z",
                port=9100 + i % 800,
                built=built,
                stale=("docker",) if i % 7 == 6 else (),
                readme=f"# {name}\n\nSynthetic exporter **{i}**. Upstream: [example](https://example.org/{name}).\n",
            )
        )
    return specs


def build_site(root: str | os.PathLike[str], specs: Sequence[Spec], *, base_url: str | None = None) -> Path:
    """A whole synthetic site under ``root/site``: package files, catalog (``hub catalog``) and
    portal (``hub portal``), from ``specs``. Returns the site directory."""
    from hub.catalog import aggregate
    from hub.site import portal
    from hub.manifest.load import find_manifests, load_manifest

    paths = write_exporters(root, specs)
    site = Path(paths["site"])
    manifests = [load_manifest(p) for p in find_manifests([paths["exporters"]])]
    artifacts = aggregate.read_artifacts([paths["artifacts"]])
    aggregate.build_catalog(manifests, artifacts, site / "catalog", warn=lambda message: None)
    portal.build_portal(site / "catalog", site, readmes=paths["exporters"], base_url=base_url)
    return site
