"""Pinned upstream archives: read the lock, download in a cached process, extract the binaries.

The download is a process (`fetch_archive.py`, a PEX of its own) checked against the sha256
and size from `upstream.lock.json`, twice: by the script, and here against the digest of what
the process returned, wherever that came from. Being a cached process, its output goes to the
remote cache too, so a machine that reads the cache never contacts the upstream or the mirror
(Pants' `DownloadFile` keeps its result in the local store only, and downloads again on every
fresh machine). The mirror option only changes where the bytes come from. Extraction runs
`hub extract`, which refuses hostile archives and wrong-arch binaries.
"""

from __future__ import annotations

import json
import logging
import os
import pkgutil
from dataclasses import dataclass
from typing import Mapping

import yaml

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import LOCK_FILE, MANIFEST_FILE
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import EntryPoint
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    FileContent,
    FileDigest,
    FileEntry,
    GlobMatchErrorBehavior,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel

logger = logging.getLogger(__name__)


# What an HTTPS download may need from the caller's environment.
NETWORK_ENV = ("SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")
FETCH_SCRIPT = "fetch_archive.py"


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


def download_error(lock_path: str, url: str, source: str, sha256: str, size: int, error: object) -> UpstreamError:
    via = f" (from {source})" if source != url else ""
    return UpstreamError(
        f"{lock_path}: download of {url}{via} failed; expected sha256 {sha256} ({size} bytes): {error}"
    )


@dataclass(frozen=True)
class ArchiveFetcher:
    """`fetch_archive.py` as a PEX: no requirement, and none of the engine's code."""

    pex: VenvPex


@rule(desc="Build the archive fetcher", level=LogLevel.DEBUG)
async def build_archive_fetcher(python_setup: PythonSetup) -> ArchiveFetcher:
    script = pkgutil.get_data(__name__.rpartition(".")[0], FETCH_SCRIPT)
    assert script is not None, f"{FETCH_SCRIPT} is missing from the plugin"
    sources = await Get(Digest, CreateDigest([FileContent(FETCH_SCRIPT, script)]))
    pex = await Get(
        VenvPex,
        PexRequest(
            output_filename="fetch_archive.pex",
            internal_only=True,
            sources=sources,
            main=EntryPoint("fetch_archive", "main"),
            interpreter_constraints=InterpreterConstraints(python_setup.interpreter_constraints),
            description="Build the archive fetcher PEX",
        ),
    )
    return ArchiveFetcher(pex)


def fetch_process(
    fetcher: ArchiveFetcher, source: str, archive_name: str, pin: FileDigest, env: Mapping[str, str]
) -> VenvPexProcess:
    """Downloads `source` as `archive_name`, checked against `pin`: cached like any process."""
    return VenvPexProcess(
        fetcher.pex,
        argv=(source, pin.fingerprint, str(pin.serialized_bytes_length), archive_name),
        description=f"Download {archive_name}",
        output_files=(archive_name,),
        extra_env=FrozenDict(env),
        level=LogLevel.DEBUG,
    )


@rule(desc="Fetch and extract an upstream release", level=LogLevel.DEBUG)
async def upstream_binaries(
    request: UpstreamBinariesRequest, hub: HubSubsystem, fetcher: ArchiveFetcher
) -> UpstreamBinaries:
    inputs = await Get(ExporterInputs, ExporterInputsRequest(request.spec_path))
    pin = inputs.pin(request.arch)
    if pin is None:
        raise UpstreamError(f"{inputs.lock_path}: no pinned archive for {request.arch}")
    url, sha256, size = pin
    source = hub.mirrored(url)
    archive_name = url.rsplit("/", 1)[-1]
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(NETWORK_ENV))
    pinned = FileDigest(sha256, size)
    fetched = await Get(
        FallibleProcessResult, VenvPexProcess, fetch_process(fetcher, source, archive_name, pinned, env)
    )
    if fetched.exit_code != 0:
        reason = fetched.stderr.decode("utf-8", "replace").strip() or f"exit status {fetched.exit_code}"
        raise download_error(inputs.lock_path, url, source, sha256, size, reason)
    # What the process returned, from the network or from a cache, is exactly the pinned file.
    entries = await Get(DigestEntries, Digest, fetched.output_digest)
    got = [(e.path, e.file_digest) for e in entries if isinstance(e, FileEntry)]
    if got != [(archive_name, pinned)] or len(entries) != 1:
        raise download_error(
            inputs.lock_path,
            url,
            source,
            sha256,
            size,
            f"the download returned {got or 'nothing'}, not the pinned file",
        )
    archive = fetched.output_digest
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
