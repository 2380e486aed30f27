from __future__ import annotations

import pytest

from hub_plugin.engine import HubProcess
from hub_plugin.package_rules import ExporterImageFieldSet, ExporterPackageFieldSet
from hub_plugin.site_rules import (
    SITE_ARTIFACT_GLOBS,
    InferSiteDependencies,
    RepoEntry,
    RepoEntryRequest,
    SiteArtifacts,
    SiteArtifactsRequest,
    SiteDependenciesInferenceFieldSet,
    SiteFieldSet,
    build_site_artifacts,
    infer_site_dependencies,
    package_site,
    repo_entry,
)
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import (
    ExporterImageTarget,
    ExporterManifestTarget,
    ExporterPackageTarget,
    HubSiteTarget,
    SiteDependenciesField,
)
from hub_plugin.testutil import Capture, digest, process_result
from pants.base.specs import RawSpecs, RecursiveGlobSpec
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact
from pants.engine.addresses import Address
from pants.engine.fs import (
    AddPrefix,
    Digest,
    DigestSubset,
    GlobMatchErrorBehavior,
    MergeDigests,
    PathGlobs,
    Snapshot,
)
from pants.engine.process import ProcessResult
from pants.engine.target import DependenciesRequest, Targets
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.logging import LogLevel

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


@pytest.mark.parametrize(
    "path, argv, out",
    [
        (RPM_FILE, ("yum-entry", "--rpm", RPM_FILE), "entries/yum/node_exporter-1.11.0-1.el9.x86_64.rpm.json"),
        (DEB_FILE, ("apt-entry", "--deb", DEB_FILE), "entries/apt/node-exporter_1.11.0-1+deb12_arm64.deb.json"),
    ],
)
def test_a_repo_entry_indexes_one_package_alone(path: str, argv: tuple[str, ...], out: str) -> None:
    processes = Capture[HubProcess]()
    entry = run_rule_with_mocks(
        repo_entry,
        rule_args=[RepoEntryRequest(digest(1), path)],
        mock_gets=[MockGet(ProcessResult, (HubProcess,), processes.returning(process_result(output=digest(2))))],
    )
    assert entry == RepoEntry(digest(2))
    assert processes.only == HubProcess(
        argv=(*argv, "--out", out),
        description=f"Index {path.split('/')[1]}",
        input_digest=digest(1),
        output_files=(out,),
        level=LogLevel.DEBUG,
    )


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


def test_site_artifacts_are_the_builds_and_one_repo_entry_per_package() -> None:
    deps = Capture[DependenciesRequest]()
    subsets = Capture[DigestSubset]()
    entry_requests = Capture[RepoEntryRequest]()
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
            MockGet(Digest, (DigestSubset,), subsets.answering(lambda s: digest(100 + len(subsets.values)))),
            MockGet(RepoEntry, (RepoEntryRequest,), entry_requests.returning(RepoEntry(digest(50)))),
            MockGet(Digest, (MergeDigests,), merges.answering(lambda _: digest(60 + len(merges.values)))),
            MockGet(Digest, (AddPrefix,), prefixes.returning(digest(70))),
        ],
    )
    assert deps.only == DependenciesRequest(field)
    # The RPM alone goes to its entry, so the entry stays cached while the package is unchanged.
    assert subsets.values[0] == DigestSubset(digest(10), PathGlobs([RPM_FILE]))
    assert entry_requests.only == RepoEntryRequest(digest(101), RPM_FILE)
    # Every build keeps its JSON, SBOMs and packages; the image's OCI layout stays out.
    assert subsets.values[1:] == [
        DigestSubset(d, PathGlobs(SITE_ARTIFACT_GLOBS)) for d in (digest(10), digest(0), digest(30))
    ]
    assert merges.values == [MergeDigests([digest(102), digest(103), digest(104)]), MergeDigests([digest(50)])]
    assert prefixes.only == AddPrefix(digest(61), "built")
    assert artifacts == SiteArtifacts(built=digest(70), entries=digest(62), package_count=1)


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
