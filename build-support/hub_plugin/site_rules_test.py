from __future__ import annotations


from hub_plugin.engine import EngineBuild, HubProcess
from hub_plugin.package_rules import ArchPackages, ArchPackagesRequest, ExporterImageFieldSet, ExporterPackageFieldSet
from hub_plugin.site_rules import (
    SITE_ARTIFACT_GLOBS,
    InferSiteDependencies,
    SiteArtifacts,
    SiteArtifactsRequest,
    SiteDependenciesInferenceFieldSet,
    SiteEntriesRequest,
    SiteFieldSet,
    build_site_artifacts,
    infer_site_dependencies,
    package_site,
    site_entries,
)
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import (
    ExporterImageTarget,
    ExporterManifestTarget,
    ExporterPackageTarget,
    HubSiteTarget,
    SiteDependenciesField,
)
from hub_plugin.testutil import Capture, digest, never, process_result
from pants.base.specs import RawSpecs, RecursiveGlobSpec
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact
from pants.engine.addresses import Address
from pants.engine.fs import (
    EMPTY_DIGEST,
    AddPrefix,
    Digest,
    DigestSubset,
    GlobMatchErrorBehavior,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    Snapshot,
)
from pants.engine.process import ProcessResult
from pants.engine.target import DependenciesRequest, Targets
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

SITE = HubSiteTarget({}, Address("", target_name="site"))
RPM = ExporterPackageTarget(
    {"exporter": "node_exporter", "version": "v1.11.0", "format": "rpm", "arch": "amd64", "dist": "el9"},
    Address("exporters/node_exporter", generated_name="rpm_amd64_el9"),
)
DEB = ExporterPackageTarget(
    {"exporter": "node_exporter", "version": "v1.11.0", "format": "deb", "arch": "arm64", "dist": "debian-12"},
    Address("exporters/node_exporter", generated_name="deb_arm64_debian-12"),
)
IMAGE = ExporterImageTarget(
    {"exporter": "node_exporter", "version": "v1.11.0", "archs": ["amd64"]},
    Address("exporters/node_exporter", generated_name="docker"),
)
MANIFEST = ExporterManifestTarget({}, Address("exporters/node_exporter", generated_name="manifest"))
RPM_FILE = "node_exporter/node_exporter-1.11.0-1.el9.x86_64.rpm"
DEB_FILE = "node_exporter/node-exporter_1.11.0-1+deb12_arm64.deb"


def test_the_site_depends_on_every_artifact_under_exporters() -> None:
    specs = Capture[RawSpecs]()
    inferred = run_rule_with_mocks(
        infer_site_dependencies,
        rule_args=[InferSiteDependencies(SiteDependenciesInferenceFieldSet.create(SITE))],
        mock_gets=[MockGet(Targets, (RawSpecs,), specs.returning(Targets([MANIFEST, RPM, IMAGE, DEB])))],
    )
    assert specs.only.recursive_globs == (RecursiveGlobSpec("exporters"),)
    assert set(inferred.include) == {RPM.address, DEB.address, IMAGE.address}


def built(fs: ExporterPackageFieldSet | ExporterImageFieldSet) -> BuiltPackage:
    if isinstance(fs, ExporterImageFieldSet):
        return BuiltPackage(
            digest(30), (BuiltPackageArtifact("node_exporter/docker.json"), BuiltPackageArtifact("node_exporter/oci"))
        )
    if fs.address == RPM.address:
        return BuiltPackage(
            digest(10), (BuiltPackageArtifact(RPM_FILE), BuiltPackageArtifact("node_exporter/rpm_amd64_el9.json"))
        )
    # An unpinned exporter's package: built as nothing.
    return BuiltPackage(digest(0), ())


RPM_BUILD = EngineBuild(
    digest(40),
    (
        RPM_FILE,
        f"{RPM_FILE}.cdx.json",
        "node_exporter/rpm_amd64_el9.json",
        "node_exporter/entries/yum/node_exporter-1.11.0-1.el9.x86_64.rpm.json",
        "node_exporter/entries/yum/node_exporter-1.11.0-1.el8.x86_64.rpm.json",
    ),
)


def arch_packages(request: ArchPackagesRequest) -> ArchPackages:
    # The DEB's arch (arm64) is not pinned: no build.
    return ArchPackages(RPM_BUILD if request.arch == "amd64" else None)


def test_site_artifacts_are_the_builds_and_the_entries_of_their_arch_builds() -> None:
    deps = Capture[DependenciesRequest]()
    subsets = Capture[DigestSubset]()
    arch_requests = Capture[ArchPackagesRequest]()
    entry_requests = Capture[SiteEntriesRequest]()
    merges = Capture[MergeDigests]()
    prefixes = Capture[AddPrefix]()
    field = SITE[SiteDependenciesField]
    artifacts = run_rule_with_mocks(
        build_site_artifacts,
        rule_args=[SiteArtifactsRequest(field)],
        mock_gets=[
            MockGet(Targets, (DependenciesRequest,), deps.returning(Targets([RPM, DEB, IMAGE]))),
            MockGet(BuiltPackage, (ExporterPackageFieldSet,), built),
            MockGet(BuiltPackage, (ExporterImageFieldSet,), built),
            MockGet(ArchPackages, (ArchPackagesRequest,), arch_requests.answering(arch_packages)),
            MockGet(Digest, (SiteEntriesRequest,), entry_requests.returning(digest(50))),
            MockGet(Digest, (DigestSubset,), subsets.answering(lambda s: digest(100 + len(subsets.values)))),
            MockGet(Digest, (MergeDigests,), merges.answering(lambda _: digest(60 + len(merges.values)))),
            MockGet(Digest, (AddPrefix,), prefixes.returning(digest(70))),
        ],
    )
    assert deps.only == DependenciesRequest(field)
    # The same requests as the package targets make (memoized): one per exporter and arch.
    assert arch_requests.values == [
        ArchPackagesRequest("exporters/node_exporter", "node_exporter", "v1.11.0", arch) for arch in ("amd64", "arm64")
    ]
    assert entry_requests.only == SiteEntriesRequest(RPM_BUILD, (RPM_FILE,))
    # Every build keeps its JSON, SBOMs and packages; the image's OCI layout stays out.
    assert subsets.values == [
        DigestSubset(d, PathGlobs(SITE_ARTIFACT_GLOBS)) for d in (digest(10), digest(0), digest(30))
    ]
    assert merges.values == [MergeDigests([digest(101), digest(102), digest(103)]), MergeDigests([digest(50)])]
    assert prefixes.only == AddPrefix(digest(61), "built")
    assert artifacts == SiteArtifacts(built=digest(70), entries=digest(62), package_count=1)


def test_site_entries_are_those_of_the_packages_the_site_holds() -> None:
    subsets = Capture[DigestSubset]()
    prefixes = Capture[RemovePrefix]()
    entries = run_rule_with_mocks(
        site_entries,
        rule_args=[SiteEntriesRequest(RPM_BUILD, (RPM_FILE, DEB_FILE))],
        mock_gets=[
            MockGet(Digest, (DigestSubset,), subsets.returning(digest(41))),
            MockGet(Digest, (RemovePrefix,), prefixes.returning(digest(42))),
        ],
    )
    # el8's entry is in the build, but its package is not in the site.
    assert subsets.only == DigestSubset(digest(40), PathGlobs([RPM_BUILD.files[3]]))
    assert prefixes.only == RemovePrefix(digest(41), "node_exporter")  # entries/yum/..., as `hub site` reads them
    assert entries == digest(42)


def test_a_build_without_the_sites_packages_gives_no_entries() -> None:
    entries = run_rule_with_mocks(
        site_entries,
        rule_args=[SiteEntriesRequest(RPM_BUILD, (DEB_FILE,))],
        mock_gets=[MockGet(Digest, (DigestSubset,), never), MockGet(Digest, (RemovePrefix,), never)],
    )
    assert entries == EMPTY_DIGEST


def test_the_site_is_one_hub_site_process_over_artifacts_and_exporter_files() -> None:
    globs = Capture[PathGlobs]()
    merges = Capture[MergeDigests]()
    processes = Capture[HubProcess]()
    built = run_rule_with_mocks(
        package_site,
        rule_args=[SiteFieldSet.create(SITE), create_subsystem(HubSubsystem, site_url="https://hub.example.org/")],
        mock_gets=[
            MockGet(SiteArtifacts, (SiteArtifactsRequest,), lambda _: SiteArtifacts(digest(1), digest(2), 3)),
            MockGet(Digest, (PathGlobs,), globs.returning(digest(4))),
            MockGet(Digest, (MergeDigests,), merges.returning(digest(5))),
            MockGet(ProcessResult, (HubProcess,), processes.returning(process_result(output=digest(6)))),
            MockGet(
                Snapshot,
                (Digest,),
                lambda _: Snapshot.create_for_testing(["site/index.html", "site/catalog/index.json"], ["site"]),
            ),
        ],
    )
    assert set(globs.only.globs) == {
        "exporters/*/manifest.yaml",
        "exporters/*/README.md",
        "exporters/*/upstream.lock.json",
        "exporters/*/assets/**",
    }
    assert globs.only.glob_match_error_behavior == GlobMatchErrorBehavior.ignore
    assert merges.only == MergeDigests([digest(1), digest(2), digest(4)])
    assert processes.only == HubProcess(
        argv=(
            "site",
            "--built",
            "built",
            "--entries",
            "entries",
            "--exporters",
            "exporters",
            "--out",
            "site",
            "--base-url",
            "https://hub.example.org/",
        ),
        description="Assemble the site (3 packages)",
        input_digest=digest(5),
        output_directories=("site",),
    )
    assert built == BuiltPackage(digest(6), (BuiltPackageArtifact("site", extra_log_lines=("2 files",)),))
