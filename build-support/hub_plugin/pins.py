"""Whether an exporter's upstream is pinned: build it, skip it with a warning, or fail.

Day-to-day builds skip an unpinned exporter (the catalog shows it as `missing`); release CI
sets `[hub].require_pinned`, which turns the warning into an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub_plugin.subsystems import HubSubsystem
from hub_plugin.upstream import ExporterInputs, ExporterInputsRequest, UpstreamError
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

logger = logging.getLogger(__name__)


def unpinned_message(inputs: ExporterInputs, version: str | None, archs: tuple[str, ...]) -> str | None:
    """Why `archs` of the exporter cannot be built from its lock, or None if they can."""
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
    """Once per request (rules are memoized), not once per artifact: one warning each."""
    inputs = await Get(ExporterInputs, ExporterInputsRequest(request.spec_path))
    problem = unpinned_message(inputs, request.version, request.archs)
    if problem is None:
        return PinCheck(True)
    if hub.require_pinned:
        raise UpstreamError(problem + " ([hub].require_pinned is set.)")
    logger.warning(f"Skipping {request.spec_path} (shown as missing): {problem}")
    return PinCheck(False)


def rules():
    return collect_rules()
