"""Generates an exporter's targets from its manifest.

Only the fields that shape the matrix are read here (`version`, `build.archs`, and each
format's `enabled`/`targets`). Full validation is the engine's job, in `./pants lint`, because
jsonschema is not available in Pants' own interpreter. A manifest whose matrix cannot be read
yields only `#manifest` and a warning, so one bad exporter never breaks the repository.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import yaml

from hub_plugin.target_types import (
    ARCHES,
    DEB_DISTS,
    ENGINE_ADDRESS,
    MANIFEST_FILE,
    RPM_DISTS,
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

DEFAULT_TARGETS = {"rpm": RPM_DISTS, "deb": DEB_DISTS}


class MatrixError(ValueError):
    pass


def _choices(value: Any, allowed: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise MatrixError(f"{where}: expected a non-empty list of {', '.join(allowed)}")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise MatrixError(f"{where}: {bad[0]!r} is not one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(value))


def read_matrix(text: str) -> tuple[str | None, list[tuple[str, str | None, str | None]]]:
    """Returns the version and the artifacts (kind, arch, dist) a manifest declares.

    The image is one artifact per arch here, `("docker", arch, None)`: one multi-arch target.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise MatrixError(f"not valid YAML ({str(e).splitlines()[0]})")
    if not isinstance(data, dict):
        raise MatrixError("expected a mapping at the top level")
    build = data.get("build") or {}
    artifacts = data.get("artifacts") or {}
    if not isinstance(build, dict) or not isinstance(artifacts, dict):
        raise MatrixError("`build` and `artifacts` must be mappings")
    archs = _choices(build.get("archs", list(ARCHES)), ARCHES, "build.archs")

    matrix: list[tuple[str, str | None, str | None]] = []
    # An absent section means the format's defaults, i.e. enabled, as in the engine's schema.
    for kind in ("rpm", "deb"):
        spec = artifacts.get(kind) or {}
        if not isinstance(spec, dict):
            raise MatrixError(f"artifacts.{kind}: expected a mapping")
        if spec.get("enabled", True) is False:
            continue
        dists = _choices(
            spec.get("targets", list(DEFAULT_TARGETS[kind])),
            DEFAULT_TARGETS[kind],
            f"artifacts.{kind}.targets",
        )
        matrix.extend((kind, arch, dist) for dist in dists for arch in archs)
    docker = artifacts.get("docker") or {}
    if not isinstance(docker, dict):
        raise MatrixError("artifacts.docker: expected a mapping")
    if docker.get("enabled", True) is not False:
        matrix.extend(("docker", arch, None) for arch in archs)
    version = data.get("version")
    return (version if isinstance(version, str) else None), matrix


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
        version, matrix = read_matrix(contents[0].content.decode("utf-8", "replace"))
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
        "version": version,
        ExporterArtifactDependencies.alias: [
            manifest_tgt.address.spec,
            f"//{ENGINE_ADDRESS}",
            *extra_deps,
        ],
    }
    generated = [manifest_tgt]
    image_archs = [arch for kind, arch, _ in matrix if kind == "docker"]
    if image_archs:
        generated.append(
            ExporterImageTarget({**common, "archs": image_archs}, address("docker"), union_membership)
        )
    for kind, arch, dist in matrix:
        if kind != "docker":
            fields = {**common, "format": kind, "arch": arch, "dist": dist}
            generated.append(
                ExporterPackageTarget(fields, address(f"{kind}_{arch}_{dist}"), union_membership)
            )
    return GeneratedTargets(generator, generated)


def rules():
    return (
        *collect_rules(),
        UnionRule(GenerateTargetsRequest, GenerateExporterTargetsRequest),
    )
