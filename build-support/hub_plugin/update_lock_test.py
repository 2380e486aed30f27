from __future__ import annotations

from typing import Any

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import ExporterManifestTarget, ExporterPackageTarget
from hub_plugin.testutil import Capture, FakeWorkspace, digest, never, process_result, string_console
from hub_plugin.update_lock import NETWORK_ENV, lock_process, update_lock
from hub_plugin.upstream import ExporterInputs, ExporterInputsRequest
from pants.engine.addresses import Address
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, MergeDigests
from pants.engine.process import ProcessResult
from pants.engine.target import Targets
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict

ENV = {"SSL_CERT_FILE": "/etc/ssl/ca.pem"}


def manifest(exporter: str) -> ExporterManifestTarget:
    return ExporterManifestTarget({}, Address(f"exporters/{exporter}", generated_name="manifest"))


def inputs(request: ExporterInputsRequest) -> ExporterInputs:
    n = 1 if request.spec_path.endswith("node_exporter") else 2
    return ExporterInputs(digest(n), f"{request.spec_path}/manifest.yaml", "", ("x",), (), None)


def run_update_lock(targets: list, **options: Any):
    workspace = FakeWorkspace()
    env_requests = Capture[EnvironmentVarsRequest]()
    processes = Capture[HubProcess]()
    merges = Capture[MergeDigests]()

    def pinned(process: HubProcess) -> ProcessResult:
        return process_result(
            stdout=f"{process.output_files[0]}: pinned\n".encode(), output=digest(10 + len(processes.values))
        )

    console = string_console()
    goal = run_rule_with_mocks(
        update_lock,
        rule_args=[Targets(targets), workspace, console, create_subsystem(HubSubsystem, **options)],
        mock_gets=[
            MockGet(EnvironmentVars, (EnvironmentVarsRequest,), env_requests.returning(EnvironmentVars(ENV))),
            MockGet(ExporterInputs, (ExporterInputsRequest,), inputs),
            MockGet(ProcessResult, (HubProcess,), processes.answering(pinned)),
            MockGet(Digest, (MergeDigests,), merges.returning(digest(20))),
        ],
    )
    return (
        goal.exit_code,
        console.stdout.getvalue(),
        console.stderr.getvalue(),
        workspace,
        env_requests,
        processes,
        merges,
    )


def test_each_selected_exporter_gets_its_lock_written_to_the_workspace() -> None:
    package = ExporterPackageTarget(
        {"exporter": "node_exporter", "format": "rpm", "arch": "amd64", "dist": "el9"},
        Address("exporters/node_exporter", generated_name="rpm_amd64_el9"),
    )
    exit_code, stdout, _, workspace, env_requests, processes, merges = run_update_lock(
        [manifest("node_exporter"), package, manifest("blackbox_exporter")],
        upstream_mirror=None,
        github_api_url="https://api.github.com",
    )
    assert exit_code == 0
    assert env_requests.only == EnvironmentVarsRequest((*NETWORK_ENV, "GITHUB_TOKEN"))
    # One process per exporter (not per target), in path order.
    assert processes.values == [
        lock_process("exporters/blackbox_exporter", digest(2), None, ENV, "https://api.github.com"),
        lock_process("exporters/node_exporter", digest(1), None, ENV, "https://api.github.com"),
    ]
    # without a mirror, the API tells what the release publishes
    assert processes.values[0] == HubProcess(
        argv=("update-lock", "exporters/blackbox_exporter/manifest.yaml", "--api-url", "https://api.github.com"),
        description="Pin the upstream archives of exporters/blackbox_exporter",
        input_digest=digest(2),
        output_files=("exporters/blackbox_exporter/upstream.lock.json",),
        env=FrozenDict(ENV),
        cacheable=False,
    )
    assert merges.only == MergeDigests([digest(11), digest(12)])
    assert workspace.written == [digest(20)]
    assert stdout == (
        "exporters/blackbox_exporter/upstream.lock.json: pinned\n"
        "exporters/node_exporter/upstream.lock.json: pinned\n"
    )


def test_the_mirror_is_passed_to_the_engine() -> None:
    """Through a mirror (an air-gapped site), the API is not asked: the engine reads the
    checksums files the mirror serves."""
    _, _, _, _, _, processes, _ = run_update_lock(
        [manifest("node_exporter")], upstream_mirror="http://127.0.0.1:8000/", github_api_url="https://api.github.com"
    )
    assert processes.only.argv == (
        "update-lock",
        "exporters/node_exporter/manifest.yaml",
        "--mirror",
        "http://127.0.0.1:8000/",
    )


def test_no_exporter_selected_is_an_error() -> None:
    workspace = FakeWorkspace()
    console = string_console()
    goal = run_rule_with_mocks(
        update_lock,
        rule_args=[Targets([]), workspace, console, create_subsystem(HubSubsystem)],
        mock_gets=[
            MockGet(EnvironmentVars, (EnvironmentVarsRequest,), never),
            MockGet(ExporterInputs, (ExporterInputsRequest,), never),
            MockGet(ProcessResult, (HubProcess,), never),
            MockGet(Digest, (MergeDigests,), never),
        ],
    )
    assert goal.exit_code == 1
    assert console.stderr.getvalue() == "update-lock: no exporter among the given targets.\n"
    assert workspace.written == []
