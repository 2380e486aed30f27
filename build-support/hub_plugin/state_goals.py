"""Goals that talk to the outside world, so they are never cached:

- `./pants hub-state <targets>`: compare manifests with a deployed catalog (what to publish);
- `./pants update-upstreams <targets>`: bump manifests and locks to new upstream releases.

Both run the engine in a process scoped to the run; `update-upstreams` writes the manifests
and locks it changed back into the workspace.
"""

from __future__ import annotations

import os
from typing import Mapping

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import LOCK_FILE, MANIFEST_FILE, ExporterSourcesField
from hub_plugin.update_lock import NETWORK_ENV
from hub_plugin.upstream import ExporterInputs, ExporterInputsRequest
from pants.base.build_root import BuildRoot
from pants.engine.console import Console
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, DigestContents, MergeDigests, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import FallibleProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule
from pants.engine.target import Targets
from pants.option.option_types import BoolOption, StrOption
from pants.util.frozendict import FrozenDict
from pants.util.strutil import help_text


def exporter_dirs(targets: Targets) -> list[str]:
    return sorted({t.address.spec_path for t in targets if t.has_field(ExporterSourcesField)})


async def exporter_digest(spec_paths: list[str]) -> Digest:
    inputs = await MultiGet(Get(ExporterInputs, ExporterInputsRequest(p)) for p in spec_paths)
    return await Get(Digest, MergeDigests(i.digest for i in inputs))


class HubStateSubsystem(GoalSubsystem):
    name = "hub-state"
    help = help_text(
        """
        Compare the selected exporters' manifests with a deployed catalog, by semantic version:
        each exporter is `new`, `upgrade`, `downgrade` (refused unless allowed), `rebuild` (a
        declared artifact is failed or missing there) or `up-to-date`. The release workflow
        publishes what this reports, never what a git diff suggests.
        Example: `./pants hub-state --catalog=https://example.org/hub exporters::`.
        """
    )

    catalog = StrOption(
        default=None,
        help="The deployed site (or its catalog/ directory): an http(s) URL or a local directory.",
    )
    json = BoolOption(default=False, help="Print the machine-readable JSON report.")
    output = StrOption(default=None, help="Also write the JSON report to this file.")
    allow_downgrade = BoolOption(default=False, help="Publish manifests older than the deployed version.")
    empty_ok = BoolOption(default=False, help="A catalog without index.json counts as empty (a first deployment).")


class HubState(Goal):
    subsystem_cls = HubStateSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


STATE_FILE = "state.json"


def absolute(path: str, build_root: BuildRoot) -> str:
    if "://" in path:
        return path
    return os.path.join(build_root.path, path)


def state_process(
    options: HubStateSubsystem,
    catalog: str,
    spec_paths: list[str],
    input_digest: Digest,
    env: Mapping[str, str],
) -> HubProcess:
    """`hub state`: reads the deployed catalog (maybe over the network), so never cached."""
    argv = [
        "state",
        "--catalog",
        catalog,
        *(["--json"] if options.json else []),
        *(["--allow-downgrade"] if options.allow_downgrade else []),
        *(["--empty-ok"] if options.empty_ok else []),
        *(["--output", STATE_FILE] if options.output else []),
        *(f"{p}/{MANIFEST_FILE}" for p in spec_paths),
    ]
    return HubProcess(
        argv=tuple(argv),
        description="Compare manifests with the deployed catalog",
        input_digest=input_digest,
        output_files=(STATE_FILE,) if options.output else (),
        env=FrozenDict(env),
        cacheable=False,
    )


@goal_rule
async def hub_state(targets: Targets, console: Console, options: HubStateSubsystem, build_root: BuildRoot) -> HubState:
    spec_paths = exporter_dirs(targets)
    if not options.catalog:
        console.print_stderr("hub-state: set the deployed catalog with --hub-state-catalog=<url or directory>.")
        return HubState(exit_code=2)
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(NETWORK_ENV))
    input_digest = await exporter_digest(spec_paths)
    result = await Get(
        FallibleProcessResult,
        HubProcess,
        state_process(options, absolute(options.catalog, build_root), spec_paths, input_digest, env),
    )
    console.print_stdout(result.stdout.decode(), end="")
    console.print_stderr(result.stderr.decode(), end="")
    if options.output and result.exit_code in (0, 1):
        (report,) = await Get(DigestContents, Digest, result.output_digest)
        with open(os.path.join(build_root.path, options.output), "wb") as f:
            f.write(report.content)
    return HubState(exit_code=result.exit_code)


class UpdateUpstreamsSubsystem(GoalSubsystem):
    name = "update-upstreams"
    help = help_text(
        f"""
        Ask the GitHub releases API (`[hub].github_api_url`) for each selected exporter's newest
        stable release, honouring `upstream.strategy`, then bump `version` in
        `{MANIFEST_FILE}` and refresh `{LOCK_FILE}`. Prints a Markdown summary for a pull
        request. Set GITHUB_TOKEN to avoid the anonymous rate limit.
        """
    )

    dry_run = BoolOption(default=False, help="Only report what would change.")
    summary = StrOption(default=None, help="Also write the Markdown summary to this file.")


class UpdateUpstreams(Goal):
    subsystem_cls = UpdateUpstreamsSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


def upstreams_process(
    options: UpdateUpstreamsSubsystem,
    hub: HubSubsystem,
    spec_paths: list[str],
    input_digest: Digest,
    env: Mapping[str, str],
) -> HubProcess:
    """`hub update-upstreams`: asks the GitHub API, so never cached; may rewrite every
    selected manifest and lock."""
    argv = [
        "update-upstreams",
        "--api-url",
        hub.github_api_url,
        *(["--mirror", hub.upstream_mirror] if hub.upstream_mirror else []),
        *(["--dry-run"] if options.dry_run else []),
        *(f"{p}/{MANIFEST_FILE}" for p in spec_paths),
    ]
    return HubProcess(
        argv=tuple(argv),
        description="Look for new upstream releases",
        input_digest=input_digest,
        output_files=tuple(f"{p}/{name}" for p in spec_paths for name in (MANIFEST_FILE, LOCK_FILE)),
        env=FrozenDict(env),
        cacheable=False,
    )


@goal_rule
async def update_upstreams(
    targets: Targets,
    console: Console,
    workspace: Workspace,
    options: UpdateUpstreamsSubsystem,
    hub: HubSubsystem,
    build_root: BuildRoot,
) -> UpdateUpstreams:
    spec_paths = exporter_dirs(targets)
    env = await Get(EnvironmentVars, EnvironmentVarsRequest((*NETWORK_ENV, "GITHUB_TOKEN")))
    input_digest = await exporter_digest(spec_paths)
    result = await Get(
        FallibleProcessResult,
        HubProcess,
        upstreams_process(options, hub, spec_paths, input_digest, env),
    )
    if not options.dry_run:
        # Failures are per exporter: what the engine did bump is kept.
        workspace.write_digest(result.output_digest)
    summary = result.stdout.decode()
    console.print_stdout(summary, end="")
    console.print_stderr(result.stderr.decode(), end="")
    if options.summary:
        with open(os.path.join(build_root.path, options.summary), "w") as f:
            f.write(summary)
    return UpdateUpstreams(exit_code=result.exit_code)


def rules():
    return collect_rules()
