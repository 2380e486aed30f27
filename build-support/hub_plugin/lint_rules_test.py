from __future__ import annotations

from dataclasses import dataclass

from hub_plugin.engine import HubProcess
from hub_plugin.lint_rules import ManifestLintFieldSet, ManifestLintRequest, lint_manifests
from hub_plugin.target_types import ExporterManifestTarget, ExporterSourcesField
from hub_plugin.testutil import Capture, fallible_result
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.addresses import Address
from pants.engine.fs import Snapshot
from pants.engine.process import FallibleProcessResult
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.logging import LogLevel


@dataclass(frozen=True)
class NoMetadata:
    description: str | None = None


def field_set(exporter: str) -> ManifestLintFieldSet:
    tgt = ExporterManifestTarget({}, Address(f"exporters/{exporter}", generated_name="manifest"))
    return ManifestLintFieldSet.create(tgt)


def lint(exit_code: int, stdout: bytes):
    field_sets = (field_set("node_exporter"), field_set("blackbox_exporter"))
    sources = Capture[SourceFilesRequest]()
    processes = Capture[HubProcess]()
    snapshot = Snapshot.create_for_testing(["exporters/blackbox_exporter/manifest.yaml"], ["exporters"])
    result = run_rule_with_mocks(
        lint_manifests,
        rule_args=[ManifestLintRequest.Batch("hub-manifest-lint", field_sets, NoMetadata())],
        mock_gets=[
            MockGet(SourceFiles, (SourceFilesRequest,), sources.returning(SourceFiles(snapshot, ()))),
            MockGet(FallibleProcessResult, (HubProcess,), processes.returning(fallible_result(exit_code, stdout))),
        ],
    )
    assert sources.only.sources_fields == tuple(fs.sources for fs in field_sets)
    assert all(isinstance(f, ExporterSourcesField) for f in sources.only.sources_fields)
    # Sorted, and every exporter's manifest even if missing: the engine reports it.
    assert processes.only == HubProcess(
        argv=(
            "validate",
            "exporters/blackbox_exporter/manifest.yaml",
            "exporters/node_exporter/manifest.yaml",
        ),
        description="Validate 2 exporter manifests",
        input_digest=snapshot.digest,
        level=LogLevel.DEBUG,
    )
    return result


def test_lint_runs_hub_validate_over_every_manifest() -> None:
    result = lint(0, b"2 manifests OK\n")
    assert (result.exit_code, result.stdout, result.linter_name) == (0, "2 manifests OK\n", "hub-manifest-lint")


def test_lint_reports_what_the_engine_found() -> None:
    message = b"exporters/node_exporter/manifest.yaml: missing\n"
    result = lint(1, message)
    assert (result.exit_code, result.stdout) == (1, message.decode())
