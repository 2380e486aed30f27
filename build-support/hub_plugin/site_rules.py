"""`./pants package //:site`: every exporter's artifacts, merged into the unsigned site.

Each package's repository metadata (its createrepo_c entry, its APT stanza) comes from the
build of its exporter and arch (package_rules: `hub packages` writes it beside the package), so
after a change only the changed exporter's builds run again; the final `hub site` process
merges entries, aggregates the catalog and renders the portal.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub_plugin.engine import EngineBuild, HubProcess
from hub_plugin.package_rules import (
    ENTRIES_DIR,
    ArchPackages,
    ArchPackagesRequest,
    ExporterImageFieldSet,
    ExporterPackageFieldSet,
    arch_packages_request,
    entry_path,
)
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import LOCK_FILE, MANIFEST_FILE, SiteDependenciesField, SiteExportersField
from pants.base.specs import RawSpecs, RecursiveGlobSpec
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import (
    EMPTY_DIGEST,
    AddPrefix,
    Digest,
    DigestSubset,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
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
        t.address for t in targets if ExporterPackageFieldSet.is_applicable(t) or ExporterImageFieldSet.is_applicable(t)
    )


# What the site keeps of each build: artifact JSON, SBOMs and packages. Images are published
# to a registry; the site needs only their docker.json and SBOMs.
SITE_ARTIFACT_GLOBS = ("*/*.json", "*/*.cdx.json", "*/*.rpm", "*/*.deb")


@dataclass(frozen=True)
class SiteArtifactsRequest:
    dependencies: SiteDependenciesField


@dataclass(frozen=True)
class SiteArtifacts:
    """Every exporter artifact the site shows, built."""

    # `built/<exporter>/...`: each build's files kept by SITE_ARTIFACT_GLOBS.
    built: Digest
    # `entries/{yum,apt}/<package>.json`: each package's repository metadata.
    entries: Digest
    package_count: int


@dataclass(frozen=True)
class SiteEntriesRequest:
    build: EngineBuild
    # `<exporter>/<file>` of every package the site holds.
    packages: tuple[str, ...]


@rule(desc="Take the site's entries from an arch's build", level=LogLevel.DEBUG)
async def site_entries(request: SiteEntriesRequest) -> Digest:
    """`entries/{yum,apt}/<file>.json` (what `hub site --entries entries` reads) of the build's
    packages that the site holds."""
    wanted = {entry_path(*p.split("/", 1)) for p in request.packages}
    paths = [f for f in request.build.files if f in wanted]
    if not paths:
        return EMPTY_DIGEST
    exporter = paths[0].split("/", 1)[0]
    subset = await Get(Digest, DigestSubset(request.build.digest, PathGlobs(paths)))
    return await Get(Digest, RemovePrefix(subset, exporter))


@rule(desc="Build every artifact of the site", level=LogLevel.DEBUG)
async def build_site_artifacts(request: SiteArtifactsRequest) -> SiteArtifacts:
    targets = await Get(Targets, DependenciesRequest(request.dependencies))
    package_sets = [ExporterPackageFieldSet.create(t) for t in targets if ExporterPackageFieldSet.is_applicable(t)]
    image_sets = [ExporterImageFieldSet.create(t) for t in targets if ExporterImageFieldSet.is_applicable(t)]
    built = await MultiGet(
        *(Get(BuiltPackage, ExporterPackageFieldSet, fs) for fs in package_sets),
        *(Get(BuiltPackage, ExporterImageFieldSet, fs) for fs in image_sets),
    )
    # Unpinned exporters built nothing: they are simply absent here (`missing` in the catalog).
    packages = [
        artifact.relpath
        for pkg in built
        for artifact in pkg.artifacts
        if artifact.relpath and artifact.relpath.endswith((".rpm", ".deb"))
    ]
    # The packages' entries, from the same (memoized) builds of each exporter and arch.
    arch_requests = sorted(set(map(arch_packages_request, package_sets)), key=lambda r: (r.spec_path, r.arch))
    arch_builds = [
        a.build
        for a in await MultiGet(Get(ArchPackages, ArchPackagesRequest, r) for r in arch_requests)
        if a.build is not None
    ]
    entries = await MultiGet(Get(Digest, SiteEntriesRequest(b, tuple(packages))) for b in arch_builds)
    kept = await MultiGet(Get(Digest, DigestSubset(pkg.digest, PathGlobs(SITE_ARTIFACT_GLOBS))) for pkg in built)
    built_digest, entries_digest = await MultiGet(Get(Digest, MergeDigests(kept)), Get(Digest, MergeDigests(entries)))
    return SiteArtifacts(await Get(Digest, AddPrefix(built_digest, "built")), entries_digest, len(packages))


def site_sources(exporters_dir: str) -> PathGlobs:
    """The exporters' own files the site reads (manifests, READMEs, locks, assets)."""
    return PathGlobs(
        [
            f"{exporters_dir}/*/{MANIFEST_FILE}",
            f"{exporters_dir}/*/README.md",
            f"{exporters_dir}/*/{LOCK_FILE}",
            f"{exporters_dir}/*/assets/**",
        ],
        # An unpinned exporter has no lock, and most have no assets.
        glob_match_error_behavior=GlobMatchErrorBehavior.ignore,
    )


def site_process(exporters_dir: str, base_url: str, input_digest: Digest, package_count: int) -> HubProcess:
    return HubProcess(
        argv=(
            "site",
            "--built",
            "built",
            "--entries",
            ENTRIES_DIR,
            "--exporters",
            exporters_dir,
            "--out",
            "site",
            "--base-url",
            base_url,
        ),
        description=f"Assemble the site ({package_count} packages)",
        input_digest=input_digest,
        output_directories=("site",),
    )


@rule(desc="Build the site", level=LogLevel.DEBUG)
async def package_site(field_set: SiteFieldSet, hub: HubSubsystem) -> BuiltPackage:
    exporters_dir = field_set.exporters.value
    artifacts, sources = await MultiGet(
        Get(SiteArtifacts, SiteArtifactsRequest(field_set.dependencies)),
        Get(Digest, PathGlobs, site_sources(exporters_dir)),
    )
    input_digest = await Get(Digest, MergeDigests([artifacts.built, artifacts.entries, sources]))
    result = await Get(
        ProcessResult, HubProcess, site_process(exporters_dir, hub.site_url, input_digest, artifacts.package_count)
    )
    snapshot = await Get(Snapshot, Digest, result.output_digest)
    return BuiltPackage(
        result.output_digest,
        (BuiltPackageArtifact("site", extra_log_lines=(f"{len(snapshot.files)} files",)),),
    )


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, SiteFieldSet),
        UnionRule(InferDependenciesRequest, InferSiteDependencies),
    )
