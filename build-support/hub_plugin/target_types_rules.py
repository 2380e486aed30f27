"""Generates an exporter's targets from its manifest.

Only the fields that shape the matrix are read here (`version`, `build.archs`, and each
format's `enabled`/`targets`). Full validation is the engine's job, in `./pants lint`, because
jsonschema is not available in Pants' own interpreter. A manifest whose matrix cannot be read
yields only `#manifest` and a warning, so one bad exporter never breaks the repository.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import yaml

from hub_plugin.matrix import ARCHES, FORMAT_DISTS, FORMATS, artifact_id
from hub_plugin.target_types import (
    ENGINE_ADDRESS,
    MANIFEST_FILE,
    ExporterArtifactDependencies,
    ExporterImageTarget,
    ExporterManifestTarget,
    ExporterPackageTarget,
    ExporterTargetGenerator,
)
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents, GlobMatchErrorBehavior, PathGlobs
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import GeneratedTargets, GenerateTargetsRequest
from pants.engine.unions import UnionMembership, UnionRule
from pants.util.logging import LogLevel

logger = logging.getLogger(__name__)


class MatrixError(ValueError):
    pass


@dataclass(frozen=True)
class ManifestMatrix:
    """The artifacts a manifest declares, in the engine's order (`Manifest.matrix()`)."""

    version: str | None
    archs: tuple[str, ...]
    # (format, arch, dist): each format's dists in matrix order, then the arches.
    packages: tuple[tuple[str, str, str], ...]
    image: bool

    def artifact_ids(self) -> tuple[str, ...]:
        """What `hub matrix <manifest>` prints for the same manifest."""
        ids = tuple(artifact_id(kind, arch, dist) for kind, arch, dist in self.packages)
        return ids + (("docker",) if self.image else ())


def _choices(value: Any, allowed: tuple[str, ...], where: str) -> tuple[str, ...]:
    """The chosen values in matrix order, as the engine orders them."""
    if not isinstance(value, list) or not value:
        raise MatrixError(f"{where}: expected a non-empty list of {', '.join(allowed)}")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise MatrixError(f"{where}: {bad[0]!r} is not one of {', '.join(allowed)}")
    return tuple(v for v in allowed if v in value)


def _section(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key) or {}
    if not isinstance(value, dict):
        raise MatrixError(f"{where}: expected a mapping")
    return value


def read_matrix(text: str) -> ManifestMatrix:
    """The version and artifacts of a manifest, from the fields that shape the matrix only."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise MatrixError(f"not valid YAML ({str(e).splitlines()[0]})")
    if not isinstance(data, dict):
        raise MatrixError("expected a mapping at the top level")
    build = _section(data, "build", "build")
    artifacts = _section(data, "artifacts", "artifacts")
    archs = _choices(build.get("archs", list(ARCHES)), ARCHES, "build.archs")

    packages: list[tuple[str, str, str]] = []
    # An absent section means the format's defaults, i.e. enabled, as in the engine's schema.
    for fmt in FORMATS:
        spec = _section(artifacts, fmt, f"artifacts.{fmt}")
        if spec.get("enabled", True) is False:
            continue
        allowed = FORMAT_DISTS[fmt]
        dists = _choices(spec.get("targets", list(allowed)), allowed, f"artifacts.{fmt}.targets")
        packages.extend((fmt, arch, dist) for dist in dists for arch in archs)
    image = _section(artifacts, "docker", "artifacts.docker").get("enabled", True) is not False
    version = data.get("version")
    return ManifestMatrix(version if isinstance(version, str) else None, archs, tuple(packages), image)


class GenerateExporterTargetsRequest(GenerateTargetsRequest):
    generate_from = ExporterTargetGenerator


@rule(desc="Generate exporter targets from manifest.yaml", level=LogLevel.DEBUG)
async def generate_exporter_targets(
    request: GenerateExporterTargetsRequest, union_membership: UnionMembership
) -> GeneratedTargets:
    generator = request.generator
    spec_path = request.template_address.spec_path
    exporter = os.path.basename(spec_path)
    manifest_path = os.path.join(spec_path, MANIFEST_FILE)
    contents = await Get(
        DigestContents,
        PathGlobs(
            [manifest_path],
            glob_match_error_behavior=GlobMatchErrorBehavior.ignore,
        ),
    )

    def address(name: str) -> Address:
        return request.template_address.create_generated(name)

    manifest_tgt = ExporterManifestTarget(
        {k: v for k, v in request.template.items() if k != ExporterArtifactDependencies.alias},
        address("manifest"),
        union_membership,
    )
    if not contents:
        logger.warning(f"{manifest_path}: missing; `exporter` at {spec_path} builds nothing.")
        return GeneratedTargets(generator, [manifest_tgt])
    try:
        matrix = read_matrix(contents[0].content.decode("utf-8", "replace"))
    except MatrixError as e:
        logger.warning(
            f"{manifest_path}: {e}. Its artifacts are not generated; "
            f"`./pants lint {spec_path}:` reports every problem."
        )
        return GeneratedTargets(generator, [manifest_tgt])

    extra_deps = list(request.template.get(ExporterArtifactDependencies.alias) or ())
    common = {
        **request.template,
        "exporter": exporter,
        "version": matrix.version,
        ExporterArtifactDependencies.alias: [
            manifest_tgt.address.spec,
            f"//{ENGINE_ADDRESS}",
            *extra_deps,
        ],
    }
    generated: list = [manifest_tgt]
    if matrix.image:
        generated.append(ExporterImageTarget({**common, "archs": matrix.archs}, address("docker"), union_membership))
    for fmt, arch, dist in matrix.packages:
        fields = {**common, "format": fmt, "arch": arch, "dist": dist}
        generated.append(ExporterPackageTarget(fields, address(artifact_id(fmt, arch, dist)), union_membership))
    return GeneratedTargets(generator, generated)


def rules():
    return (
        *collect_rules(),
        UnionRule(GenerateTargetsRequest, GenerateExporterTargetsRequest),
    )
