"""`hub package`: one RPM or DEB of one exporter, built by nfpm, and its artifact JSON.

The step reads the request (docs/contracts.md, "Packaging"), the manifest and the upstream
lock, checks the extracted binaries (ELF, right architecture), plans the package
(`hub.packaging.plan`), builds it with nfpm (`hub.packaging.nfpm`) and writes the artifact JSON
(`hub.catalog.artifact`). Timestamps come from the lock's `source_date` and rpm's Buildhost is a
constant, so two builds of the same inputs are byte-identical.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from hub.catalog import artifact as catalog
from hub.common import elf, files, matrix, schemas
from hub.common.errors import FieldError, HubError
from hub.manifest.model import Manifest
from hub.packaging import debs, sbom
from hub.packaging.nfpm import run_nfpm, stage
from hub.packaging.plan import (
    DEB_PRIORITY,
    DEB_SECTION,
    MAINTAINER,
    UPSTREAM_LICENSE_FILES,
    UPSTREAM_NOTICE_FILE,
    PackagePlan,
    plan_package,
)
from hub.upstream.lock import Lock, check_lock, read_lock

__all__ = ["build", "build_all", "check_elf", "metadata", "read_pinned_lock", "upstream_docs", "write_package_sbom"]

REQUEST_KEYS = ("manifest", "lock", "kind", "arch", "dist", "binaries_dir", "nfpm", "output_dir")


def check_elf(path: str, arch: str) -> bool:
    """Checks that the binary is an ELF executable for `arch` (an amd64 binary once shipped
    in an arm64 image) and returns whether it is dynamically linked (has PT_INTERP)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = elf.read_header(f.read(elf.HEAD_SIZE))
            if header is None:
                raise HubError(f"{path}: not an ELF executable")
            if not header.is_64bit:
                raise HubError(f"{path}: not a 64-bit ELF file")
            if header.machine != matrix.ELF_MACHINE[arch]:
                raise HubError(f"{path}: ELF machine {header.machine} is not {arch} ({matrix.ELF_MACHINE[arch]})")
            return elf.ElfFile.open(f, path, size).is_dynamic
    except OSError as e:
        raise HubError(f"{path}: cannot read the binary ({e.strerror})")


def read_pinned_lock(path: str, manifest: Manifest, arch: str) -> Lock:
    """The upstream lock at `path`, which must pin what this package is built from.

    `check_lock` judges it against the manifest (its exporter and version, each arch's archive
    and URL), but only the archive of `arch` is an input of this package: problems with the
    other archs' are left to the builds that use them. Every problem names the file and field."""
    lock = read_lock(path)
    problems = [e for e in check_lock(manifest, lock) if _concerns_arch(e, arch)]
    if problems:
        raise HubError("\n".join(e.render(path) for e in problems))
    assert lock is not None  # check_lock refuses a missing lock
    return lock


def _concerns_arch(error: FieldError, arch: str) -> bool:
    """False for a problem with another arch's archive (`archives.<other arch>...`)."""
    parts = error.field.split(".")
    return parts[0] != "archives" or len(parts) < 2 or parts[1] == arch


def upstream_docs(binaries_dir: str) -> dict[str, bytes]:
    names = (*UPSTREAM_LICENSE_FILES, UPSTREAM_NOTICE_FILE)
    return {n: Path(binaries_dir, n).read_bytes() for n in names if Path(binaries_dir, n).is_file()}


def metadata(plan: PackagePlan) -> dict[str, Any]:
    """rpm_metadata / deb_metadata of the artifact JSON: what the package's header says."""
    if plan.kind == "rpm":
        return {
            "name": plan.name,
            "version": plan.version,
            "release": plan.release,
            "arch": plan.pkg_arch,
            "summary": plan.summary,
            "license": plan.license,
        }
    return {
        "package": plan.name,
        "version": plan.full_version,
        "architecture": plan.pkg_arch,
        "section": DEB_SECTION,
        "priority": DEB_PRIORITY,
        "maintainer": MAINTAINER,
        "depends": list(plan.depends),
        "conflicts": list(plan.conflicts),
        "replaces": list(plan.replaces),
    }


def write_package_sbom(
    plan: PackagePlan, manifest: Manifest, binaries_dir: str, source: Mapping[str, str], package: Path
) -> dict[str, Any]:
    """`<package file>.cdx.json` beside the package: its executables and the Go modules in
    them (`hub.packaging.sbom`); returns the artifact JSON's reference to it."""
    doc = sbom.package_sbom(
        kind=plan.kind,
        name=plan.name,
        version=plan.full_version,
        arch=plan.pkg_arch,
        dist=plan.dist.name,
        summary=plan.summary,
        license=plan.license,
        homepage=plan.homepage,
        source=source,
        source_date=plan.source_date,
        binaries=[sbom.Binary(f"/usr/bin/{b}", os.path.join(binaries_dir, b)) for b in manifest.build.binaries],
    )
    url = catalog.sbom_url(
        catalog.package_url(
            plan.kind, dist=plan.dist.name, arch=plan.arch, package_name=plan.name, filename=package.name
        )
    )
    return sbom.write_sbom(package.parent / (package.name + sbom.SUFFIX), doc, url=url)


def build(request: Mapping[str, Any]) -> tuple[Path, Path]:
    """Runs a request for one package (see docs/contracts.md); returns (package file, artifact JSON)."""
    built = build_all(request)
    if len(built) != 1:
        raise HubError(f"package request: {len(built)} packages built, expected one")
    return built[0]


def build_all(request: Mapping[str, Any]) -> list[tuple[Path, Path]]:
    """Runs a request for one package (`kind` and `dist`), for several DEB dists of one arch
    (`kind: deb` and `dists`: a list, or "all" for every DEB dist the manifest declares), or for
    every package the manifest declares for the arch (`packages: "all"`: its RPMs one by one, then
    its DEBs). The DEBs' equal payloads are compressed once (`hub.packaging.debs`). Returns
    (package file, artifact JSON) for each, in that order."""
    from hub.manifest.load import load_manifest  # the manifest model, with its YAML dependency

    missing = [k for k in _required_keys(request) if k not in request]
    if missing:
        raise HubError(f"package request: missing {', '.join(missing)}")
    arch = request["arch"]
    if arch not in matrix.ARCHES:
        raise HubError(f"arch {arch!r}: expected one of {', '.join(matrix.ARCHES)}")
    manifest = load_manifest(request["manifest"])
    lock = read_pinned_lock(request["lock"], manifest, arch)
    binaries_dir = request["binaries_dir"]
    dynamic = [b for b in manifest.build.binaries if check_elf(os.path.join(binaries_dir, b), arch)]
    docs = upstream_docs(binaries_dir)
    out = Path(request["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    built: list[tuple[PackagePlan, Path]] = []
    with tempfile.TemporaryDirectory(prefix="hub-nfpm-") as workdir:
        for kind, dists, shared in _requested_groups(request, manifest):
            plans = [
                plan_package(
                    manifest,
                    lock,
                    kind=kind,
                    arch=arch,
                    dist=dist,
                    binaries_dir=binaries_dir,
                    upstream_docs=docs,
                    dynamic_binaries=dynamic,
                )
                for dist in dists
            ]
            if shared:
                packages = debs.build_debs(plans, request["nfpm"], out, os.path.join(os.path.abspath(workdir), kind))
            else:
                packages = [_build_one(plan, request["nfpm"], out, os.path.abspath(workdir)) for plan in plans]
            built.extend(zip(plans, packages))
    return [_describe(plan, package, manifest, lock, binaries_dir, out) for plan, package in built]


def _required_keys(request: Mapping[str, Any]) -> list[str]:
    """REQUEST_KEYS, where `dists` may stand for `dist` and `packages` for both `kind` and `dist`."""
    if "packages" in request:
        return [k for k in REQUEST_KEYS if k not in ("kind", "dist")]
    return [k for k in REQUEST_KEYS if not (k == "dist" and "dists" in request)]


def _build_one(plan: PackagePlan, nfpm: str, out: Path, workdir: str) -> Path:
    directory = os.path.join(workdir, plan.kind, plan.dist.name)
    os.makedirs(directory, exist_ok=True)
    config = stage(plan, directory)
    return run_nfpm(nfpm, config, plan.kind, str(out / plan.filename), plan.source_date_epoch)


def _requested_groups(request: Mapping[str, Any], manifest: Manifest) -> list[tuple[str, list[str], bool]]:
    """What to build, as (kind, dists, whether their equal payloads are shared) groups."""
    if "packages" in request:
        if request["packages"] != "all" or "kind" in request or "dist" in request or "dists" in request:
            raise HubError(
                f'package request: packages must be "all", without kind, dist or dists, got {request["packages"]!r}'
            )
        if request["arch"] not in manifest.build.archs:
            raise HubError(
                f"package request: {manifest.name} is not built for {request['arch']} "
                f"(build.archs: {', '.join(manifest.build.archs)})"
            )
        rpm_dists = list(manifest.rpm.targets) if manifest.rpm is not None else []
        deb_dists = list(manifest.deb.targets) if manifest.deb is not None else []
        groups = [("rpm", [dist], False) for dist in rpm_dists]
        return groups + ([("deb", deb_dists, True)] if deb_dists else [])
    kind = request["kind"]
    if "dists" not in request:
        return [(kind, [request["dist"]], False)]
    if kind != "deb":
        raise HubError("package request: `dists` builds DEBs only (RPMs are one package per request)")
    dists = request["dists"]
    if dists == "all":
        dists = list(manifest.deb.targets) if manifest.deb is not None else []
    if not isinstance(dists, list) or not dists or not all(isinstance(d, str) for d in dists):
        raise HubError(f'package request: dists must be a non-empty list of dist names or "all", got {dists!r}')
    return [("deb", dists, True)]


def _describe(
    plan: PackagePlan, package: Path, manifest: Manifest, lock: Lock, binaries_dir: str, out: Path
) -> tuple[Path, Path]:
    """The package's SBOM and artifact JSON, beside it."""
    kind, arch, dist = plan.kind, plan.arch, plan.dist.name
    pin = lock.archives[arch]
    source = {"url": pin.url, "sha256": pin.sha256}
    sbom_ref = write_package_sbom(plan, manifest, binaries_dir, source, package)
    artifact = catalog.package_artifact(
        kind=kind,
        exporter=manifest.name,
        version=manifest.clean_version,
        arch=arch,
        dist=dist,
        build_date=plan.source_date,
        path=package,
        package_name=plan.name,
        metadata=metadata(plan),
        source=source,
        sbom=sbom_ref,
    )
    schemas.validate(artifact, "artifact")
    json_path = out / f"{matrix.artifact_id(kind, arch, dist)}.json"
    files.write_json(json_path, artifact)
    return package, json_path
