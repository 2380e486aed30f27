from __future__ import annotations

import json

from hub_plugin.engine import (
    EngineBuild,
    EngineBuildRequest,
    HubEngine,
    HubProcess,
    build_hub_engine,
    hub_process,
    request_json,
    run_engine_build,
)
from hub_plugin.testutil import Capture, digest, process_result
from pants.backend.python.target_types import EntryPoint
from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.backend.python.util_rules.pex_from_targets import PexFromTargetsRequest
from pants.engine.addresses import Address
from pants.engine.fs import AddPrefix, CreateDigest, Digest, MergeDigests, RemovePrefix, Snapshot
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel


def test_the_engine_is_the_hub_pex() -> None:
    pex_requests = Capture[PexFromTargetsRequest]()
    pex_request = PexRequest(output_filename="hub.pex", internal_only=True)
    venv_pexes = Capture[PexRequest]()
    venv_pex = object()
    engine = run_rule_with_mocks(
        build_hub_engine,
        mock_gets=[
            MockGet(PexRequest, (PexFromTargetsRequest,), pex_requests.returning(pex_request)),
            MockGet(VenvPex, (PexRequest,), venv_pexes.returning(venv_pex)),
        ],
    )
    assert engine == HubEngine(venv_pex)  # type: ignore[arg-type]
    assert venv_pexes.only is pex_request
    (request,) = pex_requests.values
    assert tuple(request.addresses) == (Address("src/python/hub", target_name="hub"),)
    assert request.main == EntryPoint("hub.cli", "main")
    assert (request.output_filename, request.internal_only) == ("hub.pex", True)


def run_hub_process(request: HubProcess) -> VenvPexProcess:
    processes = Capture[VenvPexProcess]()
    engine = HubEngine(object())  # type: ignore[arg-type]
    run_rule_with_mocks(
        hub_process,
        rule_args=[request, engine],
        mock_gets=[MockGet(Process, (VenvPexProcess,), processes.returning("process"))],
    )
    (process,) = processes.values
    assert process.venv_pex is engine.pex
    return process


def test_a_hub_process_runs_the_pex_with_its_argv_inputs_and_env() -> None:
    process = run_hub_process(
        HubProcess(
            argv=("extract", "--arch", "arm64"),
            description="Extract",
            input_digest=digest(1),
            output_directories=("binaries/arm64",),
            output_files=("x.json",),
            env=FrozenDict({"SSL_CERT_FILE": "/ca.pem"}),
            level=LogLevel.DEBUG,
        )
    )
    assert process.argv == ("extract", "--arch", "arm64")
    assert process.description == "Extract"
    assert process.input_digest == digest(1)
    assert process.output_directories == ("binaries/arm64",)
    assert process.output_files == ("x.json",)
    assert process.extra_env == FrozenDict({"SSL_CERT_FILE": "/ca.pem"})
    assert process.level == LogLevel.DEBUG
    assert process.cache_scope == ProcessCacheScope.SUCCESSFUL


def test_an_uncacheable_hub_process_runs_once_per_session() -> None:
    process = run_hub_process(HubProcess(argv=("update-lock",), description="Pin", cacheable=False))
    assert process.cache_scope == ProcessCacheScope.PER_SESSION
    assert process.extra_env is None


def test_an_engine_build_writes_its_request_and_returns_the_outputs_under_the_prefix() -> None:
    created = Capture[CreateDigest]()
    merged = Capture[MergeDigests]()
    processes = Capture[HubProcess]()
    removed = Capture[RemovePrefix]()
    added = Capture[AddPrefix]()
    files = ("node_exporter/node_exporter.rpm", "node_exporter/rpm_amd64_el9.json")
    build = run_rule_with_mocks(
        run_engine_build,
        rule_args=[
            EngineBuildRequest(
                command="package",
                request=request_json({"output_dir": "out", "arch": "amd64"}),
                inputs=(digest(1), digest(2)),
                output_prefix="node_exporter",
                description="Build node_exporter rpm_amd64_el9",
            )
        ],
        mock_gets=[
            MockGet(Digest, (CreateDigest,), created.returning(digest(10))),
            MockGet(Digest, (MergeDigests,), merged.returning(digest(11))),
            MockGet(ProcessResult, (HubProcess,), processes.returning(process_result(output=digest(12)))),
            MockGet(Digest, (RemovePrefix,), removed.returning(digest(13))),
            MockGet(Digest, (AddPrefix,), added.returning(digest(14))),
            MockGet(Snapshot, (Digest,), lambda d: Snapshot.create_for_testing(files, ["node_exporter"])),
        ],
    )
    assert build == EngineBuild(digest(14), files)
    (request_file,) = created.only
    assert request_file.path == "request.json"
    assert json.loads(request_file.content) == {"output_dir": "out", "arch": "amd64"}
    # Sorted keys: the same request is the same process, whatever built the dict.
    assert request_file.content == b'{"arch": "amd64", "output_dir": "out"}'
    assert merged.only == MergeDigests([digest(1), digest(2), digest(10)])
    assert processes.only == HubProcess(
        argv=("package", "--request", "request.json"),
        description="Build node_exporter rpm_amd64_el9",
        input_digest=digest(11),
        output_directories=("out",),
    )
    assert removed.only == RemovePrefix(digest(12), "out")
    assert added.only == AddPrefix(digest(13), "node_exporter")
