"""`./pants package //:site`: every exporter's artifacts, merged into the unsigned site.

Each package's repository metadata (its createrepo_c entry, its APT stanza) is a cached
process of its own, so after a change only the changed packages are read again; the final
`hub site` process merges entries, aggregates the catalog and renders the portal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub_plugin.engine import HubProcess
from hub_plugin.package_rules import ExporterImageFieldSet, ExporterPackageFieldSet
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import MANIFEST_FILE, SiteDependenciesField, SiteExportersField
from pants.base.specs import RawSpecs, RecursiveGlobSpec
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import (
    AddPrefix,
    Digest,
    DigestSubset,
    MergeDigests,
    PathGlobs,
    GlobMatchErrorBehavior,
    Snapshot,
)
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    DependenciesRequest,
    FieldSet,
    InferDependenciesRequest,
    InferredDependencies,
    Targets,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiteFieldSet(PackageFieldSet):
    required_fields = (SiteExportersField,)

    exporters: SiteExportersField
    dependencies: SiteDependenciesField


@dataclass(frozen=True)
class SiteDependenciesInferenceFieldSet(FieldSet):
    required_fields = (SiteExportersField,)

    exporters: SiteExportersField


class InferSiteDependencies(InferDependenciesRequest):
    infer_from = SiteDependenciesInferenceFieldSet


@rule(desc="Find every exporter artifact of the site", level=LogLevel.DEBUG)
async def infer_site_dependencies(request: InferSiteDependencies) -> InferredDependencies:
    targets = await Get(
        Targets,
        RawSpecs(
            recursive_globs=(RecursiveGlobSpec(request.field_set.exporters.value),),
            description_of_origin="the hub_site target's `exporters` field",
        ),
    )
    return InferredDependencies(
        t.address
        for t in targets
        if ExporterPackageFieldSet.is_applicable(t) or ExporterImageFieldSet.is_applicable(t)
    )


@dataclass(frozen=True)
class RepoEntryRequest:
    """One package's repository metadata, from the package alone (cached per package)."""

    package: Digest
    path: str


@dataclass(frozen=True)
class RepoEntry:
    digest: Digest


@rule(desc="Read one package's repository metadata", level=LogLevel.DEBUG)
async def repo_entry(request: RepoEntryRequest) -> RepoEntry:
    name = request.path.rsplit("/", 1)[-1]
    kind = "yum" if name.endswith(".rpm") else "apt"
    flag = "--rpm" if kind == "yum" else "--deb"
    result = await Get(
        ProcessResult,
        HubProcess(
            argv=(f"{kind}-entry", flag, request.path, "--out", f"entries/{kind}/{name}.json"),
            description=f"Index {name}",
            input_digest=request.package,
            output_files=(f"entries/{kind}/{name}.json",),
            level=LogLevel.DEBUG,
        ),
    )
    return RepoEntry(result.output_digest)


@rule(desc="Build the site", level=LogLevel.DEBUG)
async def package_site(field_set: SiteFieldSet, hub: HubSubsystem) -> BuiltPackage:
    targets = await Get(Targets, DependenciesRequest(field_set.dependencies))
    package_sets = [ExporterPackageFieldSet.create(t) for t in targets if ExporterPackageFieldSet.is_applicable(t)]
    image_sets = [ExporterImageFieldSet.create(t) for t in targets if ExporterImageFieldSet.is_applicable(t)]
    built = await MultiGet(
        *(Get(BuiltPackage, ExporterPackageFieldSet, fs) for fs in package_sets),
        *(Get(BuiltPackage, ExporterImageFieldSet, fs) for fs in image_sets),
    )
    packages = [
        (pkg.digest, artifact.relpath)
        for pkg in built
        for artifact in pkg.artifacts
        if artifact.relpath and artifact.relpath.endswith((".rpm", ".deb"))
    ]
    only_packages = await MultiGet(
        Get(Digest, DigestSubset(digest, PathGlobs([path]))) for digest, path in packages
    )
    entries = await MultiGet(
        Get(RepoEntry, RepoEntryRequest(d, path)) for d, (_, path) in zip(only_packages, packages)
    )
    # Images are published to a registry; the site only needs their docker.json and SBOMs.
    # Packages come with their artifact JSON and SBOM (`<package>.cdx.json`).
    json_only = await MultiGet(
        Get(Digest, DigestSubset(pkg.digest, PathGlobs(["*/*.json", "*/*.cdx.json", "*/*.rpm", "*/*.deb"])))
        for pkg in built
    )
    exporters_dir = field_set.exporters.value
    sources = await Get(
        Digest,
        PathGlobs(
            [
                f"{exporters_dir}/*/{MANIFEST_FILE}",
                f"{exporters_dir}/*/README.md",
                f"{exporters_dir}/*/upstream.lock.json",
                f"{exporters_dir}/*/assets/**",
            ],
            glob_match_error_behavior=GlobMatchErrorBehavior.ignore,
        ),
    )
    built_digest = await Get(Digest, AddPrefix(await Get(Digest, MergeDigests(json_only)), "built"))
    input_digest = await Get(
        Digest, MergeDigests([built_digest, sources, *(e.digest for e in entries)])
    )
    result = await Get(
        ProcessResult,
        HubProcess(
            argv=(
                "site",
                "--built", "built",
                "--entries", "entries",
                "--exporters", exporters_dir,
                "--out", "site",
                "--base-url", hub.site_url,
            ),
            description=f"Assemble the site ({len(packages)} packages)",
            input_digest=input_digest,
            output_directories=("site",),
        ),
    )
    snapshot = await Get(Snapshot, Digest, result.output_digest)
    return BuiltPackage(result.output_digest, (BuiltPackageArtifact("site", extra_log_lines=(f"{len(snapshot.files)} files",)),))


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, SiteFieldSet),
        UnionRule(InferDependenciesRequest, InferSiteDependencies),
    )
