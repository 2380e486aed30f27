from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub_plugin.engine import HubProcess
from hub_plugin.state_goals import (
    HubStateSubsystem,
    UpdateUpstreamsSubsystem,
    hub_state,
    update_upstreams,
)
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import ExporterManifestTarget
from hub_plugin.testutil import Capture, FakeWorkspace, digest, fallible_result, string_console
from hub_plugin.update_lock import NETWORK_ENV
from hub_plugin.upstream import ExporterInputs, ExporterInputsRequest
from pants.engine.addresses import Address
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, DigestContents, FileContent, MergeDigests
from pants.engine.process import FallibleProcessResult
from pants.engine.target import Targets
from pants.testutil.option_util import create_goal_subsystem, create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict

ENV = {"SSL_CERT_FILE": "/etc/ssl/ca.pem"}
TARGETS = Targets(
    [
        ExporterManifestTarget({}, Address(f"exporters/{e}", generated_name="manifest"))
        for e in ("node_exporter", "blackbox_exporter")
    ]
)
MANIFESTS = ("exporters/blackbox_exporter/manifest.yaml", "exporters/node_exporter/manifest.yaml")


def inputs(request: ExporterInputsRequest) -> ExporterInputs:
    return ExporterInputs(digest(1), f"{request.spec_path}/manifest.yaml", "", ("x",), (), None)


def state(tmp_path: Path, exit_code: int = 0, **options: Any):
    options = {"catalog": None, "json": False, "output": None, "allow_downgrade": False, "empty_ok": False, **options}
    env_requests = Capture[EnvironmentVarsRequest]()
    processes = Capture[HubProcess]()
    report = FileContent("state.json", b'{"exporters": []}')
    console = string_console()
    goal = run_rule_with_mocks(
        hub_state,
        rule_args=[
            TARGETS,
            console,
            create_goal_subsystem(HubStateSubsystem, **options),
            SimpleNamespace(path=str(tmp_path)),
        ],
        mock_gets=[
            MockGet(EnvironmentVars, (EnvironmentVarsRequest,), env_requests.returning(EnvironmentVars(ENV))),
            MockGet(ExporterInputs, (ExporterInputsRequest,), inputs),
            MockGet(Digest, (MergeDigests,), lambda _: digest(2)),
            MockGet(
                FallibleProcessResult,
                (HubProcess,),
                processes.returning(fallible_result(exit_code, b"node_exporter: new\n", b"", digest(3))),
            ),
            MockGet(DigestContents, (Digest,), lambda _: DigestContents([report])),
        ],
    )
    return goal.exit_code, console.stdout.getvalue(), console.stderr.getvalue(), env_requests, processes


def test_hub_state_needs_a_catalog(tmp_path: Path) -> None:
    exit_code, _, stderr, env_requests, processes = state(tmp_path)
    assert exit_code == 2
    assert "--hub-state-catalog" in stderr
    assert processes.values == [] and env_requests.values == []


def test_hub_state_compares_every_selected_manifest_with_the_catalog(tmp_path: Path) -> None:
    exit_code, stdout, _, env_requests, processes = state(tmp_path, catalog="https://hub.example.org/")
    assert (exit_code, stdout) == (0, "node_exporter: new\n")
    assert env_requests.only == EnvironmentVarsRequest(NETWORK_ENV)
    assert processes.only == HubProcess(
        argv=("state", "--catalog", "https://hub.example.org/", *MANIFESTS),
        description="Compare manifests with the deployed catalog",
        input_digest=digest(2),
        env=FrozenDict(ENV),
        cacheable=False,
    )
    assert not (tmp_path / "state.json").exists()


@pytest.mark.parametrize("exit_code, written", [(0, True), (1, True), (2, False)])
def test_hub_state_options_and_report(tmp_path: Path, exit_code: int, written: bool) -> None:
    (tmp_path / "deployed").mkdir()
    code, _, _, _, processes = state(
        tmp_path, exit_code, catalog="deployed", json=True, allow_downgrade=True, empty_ok=True, output="report.json"
    )
    assert code == exit_code
    # A local catalog is relative to the build root: the sandbox would not see it otherwise.
    assert processes.only.argv == (
        "state",
        "--catalog",
        f"{tmp_path}/deployed",
        "--json",
        "--allow-downgrade",
        "--empty-ok",
        "--output",
        "state.json",
        *MANIFESTS,
    )
    assert processes.only.output_files == ("state.json",)
    # 0 (nothing to do) and 1 (something to publish) have a report; 2 (an error) has none.
    assert (tmp_path / "report.json").exists() == written


def upstreams(tmp_path: Path, dry_run: bool, summary: str | None = None, **options: Any):
    workspace = FakeWorkspace()
    env_requests = Capture[EnvironmentVarsRequest]()
    processes = Capture[HubProcess]()
    console = string_console()
    goal = run_rule_with_mocks(
        update_upstreams,
        rule_args=[
            TARGETS,
            console,
            workspace,
            create_goal_subsystem(UpdateUpstreamsSubsystem, dry_run=dry_run, summary=summary),
            create_subsystem(
                HubSubsystem, **{"github_api_url": "https://api.github.com", "upstream_mirror": None, **options}
            ),
            SimpleNamespace(path=str(tmp_path)),
        ],
        mock_gets=[
            MockGet(EnvironmentVars, (EnvironmentVarsRequest,), env_requests.returning(EnvironmentVars(ENV))),
            MockGet(ExporterInputs, (ExporterInputsRequest,), inputs),
            MockGet(Digest, (MergeDigests,), lambda _: digest(2)),
            MockGet(
                FallibleProcessResult,
                (HubProcess,),
                processes.returning(fallible_result(1, b"| node_exporter | v1 -> v2 |\n", b"", digest(3))),
            ),
        ],
    )
    return goal.exit_code, console.stdout.getvalue(), workspace, env_requests, processes


def test_update_upstreams_writes_back_what_the_engine_bumped(tmp_path: Path) -> None:
    exit_code, stdout, workspace, env_requests, processes = upstreams(tmp_path, False, summary="summary.md")
    assert (exit_code, stdout) == (1, "| node_exporter | v1 -> v2 |\n")
    assert env_requests.only == EnvironmentVarsRequest((*NETWORK_ENV, "GITHUB_TOKEN"))
    assert processes.only == HubProcess(
        argv=("update-upstreams", "--api-url", "https://api.github.com", *MANIFESTS),
        description="Look for new upstream releases",
        input_digest=digest(2),
        output_files=tuple(
            f"{m.rsplit('/', 1)[0]}/{f}" for m in MANIFESTS for f in ("manifest.yaml", "upstream.lock.json")
        ),
        env=FrozenDict(ENV),
        cacheable=False,
    )
    # Failures are per exporter: what was bumped is kept even when another one failed.
    assert workspace.written == [digest(3)]
    assert (tmp_path / "summary.md").read_text() == stdout


def test_update_upstreams_dry_run_writes_nothing(tmp_path: Path) -> None:
    _, _, workspace, _, processes = upstreams(tmp_path, True, upstream_mirror="http://127.0.0.1:8000/")
    assert processes.only.argv[:6] == (
        "update-upstreams",
        "--api-url",
        "https://api.github.com",
        "--mirror",
        "http://127.0.0.1:8000/",
        "--dry-run",
    )
    assert workspace.written == []
    assert list(tmp_path.iterdir()) == []
