"""The `hub` engine as a PEX, and processes that run it.

The plugin never imports the engine (plugin code is loaded when Pants starts); it builds the
engine's sources into a PEX and runs `hub <command>` as a sandboxed, cached Process whose only
inputs are digests.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub_plugin.target_types import ENGINE_ADDRESS
from pants.backend.python.target_types import EntryPoint
from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.backend.python.util_rules.pex_from_targets import PexFromTargetsRequest
from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, Digest
from pants.engine.process import Process, ProcessCacheScope
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
            cache_scope=(
                ProcessCacheScope.SUCCESSFUL if request.cacheable else ProcessCacheScope.PER_SESSION
            ),
        ),
    )


def rules():
    return collect_rules()
