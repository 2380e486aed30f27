"""`./pants lint`: full manifest validation, run by the engine (jsonschema lives there)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import ManifestLint
from hub_plugin.target_types import MANIFEST_FILE, ExporterSourcesField
from pants.core.goals.lint import LintResult, LintTargetsRequest
from pants.core.util_rules.partitions import PartitionerType
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.process import FallibleProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import FieldSet
from pants.util.logging import LogLevel
from pants.util.strutil import pluralize


@dataclass(frozen=True)
class ManifestLintFieldSet(FieldSet):
    required_fields = (ExporterSourcesField,)

    sources: ExporterSourcesField


class ManifestLintRequest(LintTargetsRequest):
    field_set_type = ManifestLintFieldSet
    tool_subsystem = ManifestLint
    partitioner_type = PartitionerType.DEFAULT_SINGLE_PARTITION


@rule(desc="Validate exporter manifests", level=LogLevel.DEBUG)
async def lint_manifests(request: ManifestLintRequest.Batch[ManifestLintFieldSet, Any]) -> LintResult:
    sources = await Get(SourceFiles, SourceFilesRequest(field_set.sources for field_set in request.elements))
    # Every exporter is expected to have a manifest: a missing one is reported, not skipped.
    manifests = sorted({f"{field_set.address.spec_path}/{MANIFEST_FILE}" for field_set in request.elements})
    result = await Get(
        FallibleProcessResult,
        HubProcess(
            argv=("validate", *manifests),
            description=f"Validate {pluralize(len(manifests), 'exporter manifest')}",
            input_digest=sources.snapshot.digest,
            level=LogLevel.DEBUG,
        ),
    )
    return LintResult.create(request, result)


def rules():
    return (*collect_rules(), *ManifestLintRequest.rules())
