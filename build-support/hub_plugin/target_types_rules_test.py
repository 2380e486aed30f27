from __future__ import annotations

from textwrap import dedent

import pytest

from hub_plugin.target_types import (
    ArchField,
    DistField,
    ExporterImageTarget,
    ExporterManifestTarget,
    ExporterNameField,
    ExporterPackageTarget,
    ExporterSourcesField,
    ExporterVersionField,
    ImageArchesField,
    PackageFormatField,
    target_types,
)
from hub_plugin.target_types_rules import MatrixError, read_matrix
from hub_plugin import target_types_rules
from pants.base.specs import DirGlobSpec, RawSpecs
from pants.engine.addresses import Address
from pants.engine.fs import GlobMatchErrorBehavior
from pants.option.global_options import UnmatchedBuildFileGlobs
from pants.engine.target import HydratedSources, HydrateSourcesRequest, Targets
from pants.testutil.rule_runner import QueryRule, RuleRunner


@pytest.fixture
def rule_runner() -> RuleRunner:
    return RuleRunner(
        rules=[
            *target_types_rules.rules(),
            QueryRule(Targets, [RawSpecs]),
            QueryRule(HydratedSources, [HydrateSourcesRequest]),
        ],
        target_types=target_types(),
    )


FULL = dedent(
    """\
    name: foo_exporter
    version: v1.2.3
    build: {binary_name: foo_exporter}
    artifacts:
      rpm: {}
      deb: {}
      docker: {}
    """
)


def generated(rule_runner: RuleRunner, manifest: str | None, name: str = "foo_exporter") -> dict:
    files = {f"exporters/{name}/BUILD": "exporter()\n"}
    if manifest is not None:
        files[f"exporters/{name}/manifest.yaml"] = manifest
    rule_runner.write_files(files)
    targets = rule_runner.request(
        Targets, [RawSpecs(dir_globs=(DirGlobSpec(f"exporters/{name}"),), description_of_origin="test")]
    )
    return {t.address.generated_name: t for t in targets}


def test_full_matrix(rule_runner: RuleRunner) -> None:
    tgts = generated(rule_runner, FULL)
    assert len(tgts) == 1 + 6 + 8 + 1
    assert isinstance(tgts["manifest"], ExporterManifestTarget)
    assert isinstance(tgts["docker"], ExporterImageTarget)
    assert tgts["docker"][ImageArchesField].value == ("amd64", "arm64")
    rpm = tgts["rpm_arm64_el9"]
    assert isinstance(rpm, ExporterPackageTarget)
    assert (rpm[PackageFormatField].value, rpm[ArchField].value, rpm[DistField].value) == (
        "rpm",
        "arm64",
        "el9",
    )
    assert rpm[ExporterNameField].value == "foo_exporter"
    assert rpm[ExporterVersionField].value == "v1.2.3"
    assert str(rpm.address) == "exporters/foo_exporter#rpm_arm64_el9"
    assert "deb_amd64_ubuntu-24.04" in tgts


@pytest.mark.parametrize(
    "manifest, expected",
    [
        pytest.param(
            FULL.replace("{binary_name: foo_exporter}", "{binary_name: foo_exporter, archs: [amd64]}"),
            {"manifest", "docker"}
            | {f"rpm_amd64_{d}" for d in ("el8", "el9", "el10")}
            | {f"deb_amd64_{d}" for d in ("debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04")},
            id="amd64-only",
        ),
        pytest.param(
            FULL.replace("rpm: {}", "rpm: {targets: [el9]}")
            .replace("deb: {}", "deb: {targets: [debian-12]}")
            .replace("docker: {}", "docker: {enabled: false}"),
            {"manifest", "rpm_amd64_el9", "rpm_arm64_el9", "deb_amd64_debian-12", "deb_arm64_debian-12"},
            id="restricted-dists-no-docker",
        ),
        pytest.param(
            FULL.replace("deb: {}", "deb: {enabled: false}"),
            {"manifest", "docker"} | {f"rpm_{a}_{d}" for a in ("amd64", "arm64") for d in ("el8", "el9", "el10")},
            id="rpm-only",
        ),
        pytest.param(
            "name: foo_exporter\nversion: v1.0.0\nbuild: {binary_name: foo_exporter, archs: [arm64]}\n",
            {"manifest", "docker"}
            | {f"rpm_arm64_{d}" for d in ("el8", "el9", "el10")}
            | {f"deb_arm64_{d}" for d in ("debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04")},
            id="absent-sections-are-enabled",
        ),
        pytest.param("name: [unclosed", {"manifest"}, id="broken-yaml"),
        pytest.param(FULL.replace("rpm: {}", "rpm: {targets: [el7]}"), {"manifest"}, id="bad-dist"),
        pytest.param(None, {"manifest"}, id="missing-manifest"),
    ],
)
def test_matrix_variants(rule_runner: RuleRunner, manifest: str | None, expected: set[str]) -> None:
    assert set(generated(rule_runner, manifest)) == expected


def test_broken_manifest_does_not_break_others(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "exporters/good/BUILD": "exporter()\n",
            "exporters/good/manifest.yaml": FULL,
            "exporters/bad/BUILD": "exporter()\n",
            "exporters/bad/manifest.yaml": "- just\n- a list\n",
        }
    )
    targets = rule_runner.request(
        Targets,
        [
            RawSpecs(
                recursive_globs=(),
                dir_globs=(DirGlobSpec("exporters/good"), DirGlobSpec("exporters/bad")),
                description_of_origin="test",
            )
        ],
    )
    by_dir: dict[str, int] = {}
    for t in targets:
        by_dir[t.address.spec_path] = by_dir.get(t.address.spec_path, 0) + 1
    assert by_dir == {"exporters/good": 16, "exporters/bad": 1}


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2]", "expected a mapping at the top level"),
        ("build: {archs: [s390x]}", "build.archs: 's390x' is not one of amd64, arm64"),
        ("artifacts: {deb: {targets: [debian-11]}}", "artifacts.deb.targets: 'debian-11' is not one of"),
        ("artifacts: {rpm: {targets: []}}", "artifacts.rpm.targets: expected a non-empty list"),
        ("artifacts: [rpm]", "artifacts: expected a mapping"),
        ("artifacts: {docker: [yes]}", "artifacts.docker: expected a mapping"),
    ],
)
def test_read_matrix_errors(text: str, message: str) -> None:
    with pytest.raises(MatrixError, match=None) as exc:
        read_matrix(text)
    assert message in str(exc.value)


def test_read_matrix_orders_as_the_engine() -> None:
    """Manifest order does not matter: dists then arches in matrix.json order, docker last."""
    text = FULL.replace("{binary_name: foo_exporter}", "{binary_name: foo_exporter, archs: [arm64, amd64]}")
    text = text.replace("rpm: {}", "rpm: {targets: [el10, el8]}").replace("deb: {}", "deb: {enabled: false}")
    matrix = read_matrix(text)
    assert matrix.version == "v1.2.3"
    assert matrix.archs == ("amd64", "arm64")
    assert matrix.artifact_ids() == (
        "rpm_amd64_el8",
        "rpm_arm64_el8",
        "rpm_amd64_el10",
        "rpm_arm64_el10",
        "docker",
    )


@pytest.mark.parametrize(
    "files, expected",
    [
        # No lock (unpinned, as in a fresh clone) and no assets: the defaults still match.
        ({"manifest.yaml": FULL}, ["manifest.yaml"]),
        (
            {"manifest.yaml": FULL, "upstream.lock.json": "{}", "assets/a.yml": ""},
            ["assets/a.yml", "manifest.yaml", "upstream.lock.json"],
        ),
        # No manifest: the generator says so; no second, vaguer glob warning.
        ({}, []),
    ],
)
def test_default_sources_never_warn(rule_runner: RuleRunner, files: dict, expected: list) -> None:
    rule_runner.write_files(
        {"exporters/foo_exporter/BUILD": "exporter()\n", **{f"exporters/foo_exporter/{k}": v for k, v in files.items()}}
    )
    tgt = rule_runner.get_target(Address("exporters/foo_exporter", generated_name="manifest"))
    field = tgt[ExporterSourcesField]
    hydrated = rule_runner.request(HydratedSources, [HydrateSourcesRequest(field)])
    assert list(hydrated.snapshot.files) == [f"exporters/foo_exporter/{f}" for f in expected]
    # Engine warnings do not reach caplog: check how the globs are expanded instead. Whatever
    # [GLOBAL].unmatched_build_file_globs says, the defaults neither warn nor fail.
    globs = field.path_globs(UnmatchedBuildFileGlobs.error())
    assert globs.glob_match_error_behavior == GlobMatchErrorBehavior.ignore
