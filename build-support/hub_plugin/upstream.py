"""Pinned upstream archives: read the lock, download through Pants, extract the binaries.

The download is a `DownloadFile` with the sha256 and size from `upstream.lock.json`, so it is
verified and cached forever; the mirror option only changes where the bytes come from.
Extraction runs `hub extract`, which refuses hostile archives and wrong-arch binaries.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import yaml

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import LOCK_FILE, MANIFEST_FILE
from pants.engine.fs import (
    Digest,
    DigestContents,
    DownloadFile,
    FileDigest,
    GlobMatchErrorBehavior,
    PathGlobs,
)
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

logger = logging.getLogger(__name__)


class UpstreamError(Exception):
    pass


@dataclass(frozen=True)
class ExporterInputsRequest:
    spec_path: str


@dataclass(frozen=True)
class ExporterInputs:
    """The exporter directory's build inputs, at their repository paths."""

    digest: Digest
    manifest_path: str
    lock_path: str
    binaries: tuple[str, ...]
    # (arch, url, sha256, size) per pinned arch; empty when the upstream is not pinned.
    pins: tuple[tuple[str, str, str, int], ...]
    lock_version: str | None

    def pin(self, arch: str) -> tuple[str, str, int] | None:
        for a, url, sha256, size in self.pins:
            if a == arch:
                return url, sha256, size
        return None


def parse_lock(text: str, path: str) -> tuple[str | None, tuple[tuple[str, str, str, int], ...]]:
    try:
        data = json.loads(text)
        archives = data.get("archives") or {}
        pins = tuple((arch, str(a["url"]), str(a["sha256"]), int(a["size"])) for arch, a in sorted(archives.items()))
        return data.get("version"), pins
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise UpstreamError(
            f"{path}: not a valid upstream lock ({e!r}); regenerate it with "
            f"`./pants update-lock {os.path.dirname(path)}::`"
        )


def read_binaries(text: str, path: str) -> tuple[str, ...]:
    try:
        build = (yaml.safe_load(text) or {}).get("build") or {}
        return (str(build["binary_name"]), *(str(b) for b in build.get("extra_binaries") or ()))
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as e:
        raise UpstreamError(f"{path}: cannot read build.binary_name ({e}); run `./pants lint`")


@rule(desc="Read exporter inputs", level=LogLevel.DEBUG)
async def exporter_inputs(request: ExporterInputsRequest) -> ExporterInputs:
    manifest_path = os.path.join(request.spec_path, MANIFEST_FILE)
    lock_path = os.path.join(request.spec_path, LOCK_FILE)
    globs = [manifest_path, lock_path, os.path.join(request.spec_path, "assets/**")]
    digest = await Get(
        Digest,
        PathGlobs(
            globs,
            glob_match_error_behavior=GlobMatchErrorBehavior.ignore,
        ),
    )
    contents = {fc.path: fc.content.decode("utf-8", "replace") for fc in await Get(DigestContents, Digest, digest)}
    binaries = read_binaries(contents.get(manifest_path, ""), manifest_path)
    version, pins = (None, ()) if lock_path not in contents else parse_lock(contents[lock_path], lock_path)
    return ExporterInputs(digest, manifest_path, lock_path, binaries, pins, version)


@dataclass(frozen=True)
class UpstreamBinariesRequest:
    spec_path: str
    arch: str


@dataclass(frozen=True)
class UpstreamBinaries:
    """`binaries/<arch>/<name>` for every binary of the manifest, from the pinned archive."""

    digest: Digest
    directory: str


def download_error(lock_path: str, url: str, source: str, sha256: str, size: int, error: Exception) -> UpstreamError:
    via = f" (from {source})" if source != url else ""
    return UpstreamError(
        f"{lock_path}: download of {url}{via} failed; expected sha256 {sha256} ({size} bytes): {error}"
    )


@rule(desc="Fetch and extract an upstream release", level=LogLevel.DEBUG)
async def upstream_binaries(request: UpstreamBinariesRequest, hub: HubSubsystem) -> UpstreamBinaries:
    inputs = await Get(ExporterInputs, ExporterInputsRequest(request.spec_path))
    pin = inputs.pin(request.arch)
    if pin is None:
        raise UpstreamError(f"{inputs.lock_path}: no pinned archive for {request.arch}")
    url, sha256, size = pin
    source = hub.mirrored(url)
    try:
        archive = await Get(Digest, DownloadFile(source, FileDigest(sha256, size)))
    except Exception as e:  # Pants' own message names the digests, not the URL
        raise download_error(inputs.lock_path, url, source, sha256, size, e) from e
    archive_name = url.rsplit("/", 1)[-1]
    out = f"binaries/{request.arch}"
    result = await Get(
        ProcessResult,
        HubProcess(
            argv=(
                "extract",
                "--archive",
                archive_name,
                "--out",
                out,
                "--arch",
                request.arch,
                *(arg for name in inputs.binaries for arg in ("--binary", name)),
            ),
            description=f"Extract {', '.join(inputs.binaries)} ({request.arch}) from {archive_name}",
            input_digest=archive,
            output_directories=(out,),
        ),
    )
    return UpstreamBinaries(result.output_digest, out)


def rules():
    return collect_rules()
