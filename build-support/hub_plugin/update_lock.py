"""`./pants update-lock <targets>`: pin each exporter's upstream archives in upstream.lock.json.

Downloading without a known digest cannot be a cached `DownloadFile`, so the engine downloads
in a process scoped to this run (never cached) and the goal writes the resulting lock into the
workspace. The mirror option applies, and the lock keeps the canonical GitHub URL. The engine
checks every archive against the sha256 its release publishes (hub.upstream.pin).
"""

from __future__ import annotations

from typing import Mapping

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import LOCK_FILE, MANIFEST_FILE, ExporterSourcesField
from hub_plugin.upstream import NETWORK_ENV, ExporterInputs, ExporterInputsRequest
from pants.engine.console import Console
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, MergeDigests, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule
from pants.engine.target import Targets
from pants.util.frozendict import FrozenDict
from pants.util.strutil import help_text


class UpdateLockSubsystem(GoalSubsystem):
    name = "update-lock"
    help = help_text(
        f"""
        Download each selected exporter's upstream archives and pin their url, sha256 and size
        (plus the source date used for reproducible timestamps) in `{LOCK_FILE}`. Each archive
        is checked against the sha256 its release publishes (the GitHub API's digest at
        `[hub].github_api_url`, or a checksums file such as `sha256sums.txt`); a mismatch
        writes nothing. Honours `[hub].upstream_mirror` (then only the checksums files the
        mirror serves). Example: `./pants update-lock exporters/node_exporter::`.
        """
    )


class UpdateLock(Goal):
    subsystem_cls = UpdateLockSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


def lock_process(
    spec_path: str, input_digest: Digest, mirror: str | None, env: Mapping[str, str], api_url: str | None = None
) -> HubProcess:
    """`hub update-lock` for one exporter: downloads, so never cached; writes only the lock.
    Without a mirror, the GitHub API tells the release's digests and checksums files; through a
    mirror (an air-gapped site), the checksums files it serves under their usual names do."""
    where = ("--mirror", mirror) if mirror else (("--api-url", api_url) if api_url else ())
    return HubProcess(
        argv=("update-lock", f"{spec_path}/{MANIFEST_FILE}", *where),
        description=f"Pin the upstream archives of {spec_path}",
        input_digest=input_digest,
        output_files=(f"{spec_path}/{LOCK_FILE}",),
        env=FrozenDict(env),
        cacheable=False,
    )


@goal_rule
async def update_lock(targets: Targets, workspace: Workspace, console: Console, hub: HubSubsystem) -> UpdateLock:
    spec_paths = sorted({t.address.spec_path for t in targets if t.has_field(ExporterSourcesField)})
    if not spec_paths:
        console.print_stderr("update-lock: no exporter among the given targets.")
        return UpdateLock(exit_code=1)
    env = await Get(EnvironmentVars, EnvironmentVarsRequest((*NETWORK_ENV, "GITHUB_TOKEN")))
    inputs = await MultiGet(Get(ExporterInputs, ExporterInputsRequest(p)) for p in spec_paths)
    results = await MultiGet(
        Get(ProcessResult, HubProcess, lock_process(p, i.digest, hub.upstream_mirror, env, hub.github_api_url))
        for p, i in zip(spec_paths, inputs)
    )
    merged = await Get(Digest, MergeDigests(r.output_digest for r in results))
    workspace.write_digest(merged)
    for p, r in zip(spec_paths, results):
        console.print_stdout(r.stdout.decode().rstrip() or f"{p}/{LOCK_FILE} updated")
    return UpdateLock(exit_code=0)


def rules():
    return collect_rules()
