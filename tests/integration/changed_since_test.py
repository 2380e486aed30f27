"""`--changed-since` selects exactly what a change affects (real ./pants, a throwaway git repo).

`list` with the same flags as CI's `package` shows the selection without building it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.workspace import copy_workspace, git, run_pants, stop_pantsd

ARTIFACT_TYPES = "--filter-target-type=exporter_package,exporter_image"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    # Many quick `list` runs: one pantsd for the module keeps each run to a few seconds.
    repo = copy_workspace(tmp_path_factory.mktemp("ws") / "repo")
    yield repo
    stop_pantsd(repo)


def selected(repo: Path) -> set[str]:
    out = run_pants(
        repo,
        "--changed-since=HEAD",
        "--changed-dependents=transitive",
        ARTIFACT_TYPES,
        "list",
        check=True,
        pantsd=True,
    ).stdout
    return set(out.split())


def all_artifacts(repo: Path) -> set[str]:
    return set(run_pants(repo, ARTIFACT_TYPES, "list", "exporters::", check=True, pantsd=True).stdout.split())


def exporters_of(addresses: set[str]) -> set[str]:
    return {a.split("#")[0].split("/")[1] for a in addresses}


def edit(repo: Path, path: str, text: str = "\n# touched by a test\n") -> None:
    """Appends to an existing file: a stale path must fail, not create a new file."""
    target = repo / path
    assert target.is_file(), f"{path} does not exist: update the test"
    with open(target, "a") as f:
        f.write(text)


@pytest.fixture
def clean(repo: Path):
    yield repo
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "clean", "-qfd")


@pytest.mark.parametrize(
    "path, exporter",
    [
        pytest.param("exporters/node_exporter/manifest.yaml", "node_exporter", id="manifest"),
        pytest.param("exporters/blackbox_exporter/assets/blackbox.yml", "blackbox_exporter", id="asset"),
        pytest.param("exporters/redis_exporter/upstream.lock.json", "redis_exporter", id="new-lock"),
    ],
)
def test_an_exporter_input_selects_that_exporter_only(clean: Path, path: str, exporter: str) -> None:
    if path.endswith(".json"):
        (clean / path).write_text('{"lock_version": 1, "archives": {}}\n')
    else:
        edit(clean, path)
    picked = selected(clean)
    assert exporters_of(picked) == {exporter}
    assert f"exporters/{exporter}#docker" in picked
    assert len(picked) == (8 if exporter in ("artifactory_exporter", "dellhw_exporter", "gpfs_exporter") else 15)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("src/python/hub/common/matrix.py", id="engine"),
        pytest.param("src/python/hub/templates/common/unit.service.j2", id="shared-template"),
        # The matrix is an engine resource (and the plugin reads it: pantsd restarts).
        pytest.param("src/python/hub/matrix.json", id="matrix"),
        # The engine's lockfile is owned by Pants' synthetic lockfile target, which every
        # third-party requirement depends on: a new lock means a new engine, so everything.
        pytest.param("build-support/lockfiles/engine.lock", id="engine-lockfile"),
    ],
)
def test_engine_or_template_selects_every_artifact(clean: Path, path: str) -> None:
    edit(clean, path, "\n" if path.endswith((".j2", ".lock", ".json")) else "\n# touched\n")
    picked = selected(clean)
    assert picked == all_artifacts(clean)
    assert len(picked) == 455 + 34


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("docs/architecture.md", id="docs"),
        pytest.param("README.md", id="readme"),
        # No artifact depends on these: Pants selects nothing, so CI rebuilds everything itself
        # when they change (see .github/workflows/ci.yml).
        pytest.param("pants.toml", id="pants-toml"),
        pytest.param("build-support/lockfiles/pants-plugins.lock", id="plugin-lockfile"),
        pytest.param("build-support/hub_plugin/package_rules.py", id="plugin"),
    ],
)
def test_unowned_paths_select_nothing(clean: Path, path: str) -> None:
    edit(clean, path, "\n" if path.endswith(".lock") else "\n# touched\n")
    assert selected(clean) == set()


@pytest.mark.parametrize(
    "path",
    [
        # Tests and their support are owned by test targets, but no artifact depends on them:
        # editing them must never rebuild a package.
        pytest.param("src/python/hub/manifest/load_test.py", id="engine-test"),
        pytest.param("src/python/hub/packaging/build_integration_test.py", id="engine-integration-test"),
        pytest.param("tests/testkit/synthetic.py", id="testkit"),
        pytest.param("tests/testkit/packages.py", id="testkit-packages"),
        pytest.param("tests/integration/workspace.py", id="integration-helper"),
        pytest.param("tests/integration/changed_since_test.py", id="integration-test"),
        pytest.param("tests/e2e/mirror.py", id="e2e-helper"),
        pytest.param("build-support/hub_plugin/package_rules_test.py", id="plugin-test"),
        pytest.param("build-support/hub_plugin/testutil.py", id="plugin-testutil"),
    ],
)
def test_tests_and_test_support_select_no_artifact(clean: Path, path: str) -> None:
    edit(clean, path)
    assert selected(clean) == set()
