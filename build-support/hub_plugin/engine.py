"""The `hub` engine as a PEX, and processes that run it.

The plugin never imports the engine (plugin code is loaded when Pants starts); it builds the
engine's sources into a PEX and runs `hub <command>` as a sandboxed, cached Process whose only
inputs are digests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from hub_plugin.target_types import ENGINE_ADDRESS
from pants.backend.python.target_types import EntryPoint
from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.backend.python.util_rules.pex_from_targets import PexFromTargetsRequest
from pants.engine.addresses import Address
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
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel


@dataclass(frozen=True)
class HubEngine:
    pex: VenvPex


@rule(desc="Build the hub engine", level=LogLevel.DEBUG)
async def build_hub_engine() -> HubEngine:
    spec_path, name = ENGINE_ADDRESS.split(":")
    pex_request = await Get(
        PexRequest,
        PexFromTargetsRequest(
            [Address(spec_path, target_name=name)],
            output_filename="hub.pex",
            internal_only=True,
            main=EntryPoint("hub.cli", "main"),
            description="Build the hub engine PEX",
        ),
    )
    return HubEngine(await Get(VenvPex, PexRequest, pex_request))


@dataclass(frozen=True)
class HubProcess:
    """`hub <argv...>` in a sandbox holding only `input_digest`."""

    argv: tuple[str, ...]
    description: str
    input_digest: Digest = EMPTY_DIGEST
    output_directories: tuple[str, ...] = ()
    output_files: tuple[str, ...] = ()
    env: FrozenDict[str, str] = FrozenDict()
    # Uncached processes (e.g. downloads without a known digest) run once per session.
    cacheable: bool = True
    level: LogLevel = LogLevel.INFO


@rule
async def hub_process(request: HubProcess, engine: HubEngine) -> Process:
    return await Get(
        Process,
        VenvPexProcess(
            engine.pex,
            argv=request.argv,
            description=request.description,
            input_digest=request.input_digest,
            output_directories=request.output_directories,
            output_files=request.output_files,
            extra_env=request.env,
            level=request.level,
            cache_scope=(ProcessCacheScope.SUCCESSFUL if request.cacheable else ProcessCacheScope.PER_SESSION),
        ),
    )


REQUEST_FILE = "request.json"
OUTPUT_DIR = "out"


def request_json(request: Mapping[str, Any]) -> str:
    """The request document as written to `request.json` (sorted keys: a stable cache key)."""
    return json.dumps(request, sort_keys=True)


@dataclass(frozen=True)
class EngineBuildRequest:
    """`hub <command> --request request.json` over `inputs`, for a build command (`package`,
    `image`) whose request names `out` as its `output_dir`."""

    command: str
    # The request document, from `request_json`.
    request: str
    inputs: tuple[Digest, ...]
    # Where the outputs go in the result, e.g. the exporter's name: `dist/<exporter>/...`.
    output_prefix: str
    description: str


@dataclass(frozen=True)
class EngineBuild:
    digest: Digest
    # Every file of `digest`, under `output_prefix`.
    files: tuple[str, ...]


@rule(desc="Run an engine build", level=LogLevel.DEBUG)
async def run_engine_build(request: EngineBuildRequest) -> EngineBuild:
    request_digest = await Get(Digest, CreateDigest([FileContent(REQUEST_FILE, request.request.encode())]))
    input_digest = await Get(Digest, MergeDigests([*request.inputs, request_digest]))
    result = await Get(
        ProcessResult,
        HubProcess(
            argv=(request.command, "--request", REQUEST_FILE),
            description=request.description,
            input_digest=input_digest,
            output_directories=(OUTPUT_DIR,),
        ),
    )
    output = await Get(Digest, RemovePrefix(result.output_digest, OUTPUT_DIR))
    output = await Get(Digest, AddPrefix(output, request.output_prefix))
    snapshot = await Get(Snapshot, Digest, output)
    return EngineBuild(output, snapshot.files)


def rules():
    return collect_rules()
