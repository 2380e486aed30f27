"""The GitHub workflows lint clean with actionlint, and CI runs the README's test command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from integration.workspace import find_repo_root

WORKFLOWS = ("ci.yml", "release.yml", "scan-updates.yml")


def test_workflows_pass_actionlint() -> None:
    root = find_repo_root()
    actionlint = os.environ.get("HUB_ACTIONLINT")
    assert actionlint, "HUB_ACTIONLINT must name the actionlint package (build-support/ci/install-tools.sh)"
    files = [str(root / ".github/workflows" / w) for w in WORKFLOWS]
    result = subprocess.run(
        ["node", str(root / "build-support/ci/actionlint.cjs"), actionlint, *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 workflow(s), 0 problem(s)" in result.stdout


def test_ci_runs_the_readme_test_command() -> None:
    root = find_repo_root()
    readme = (root / "README.md").read_text()
    assert "build-support/ci/test.sh" in readme
    ci = (root / ".ci/run").read_text()
    assert "build-support/ci/test.sh" in ci


def test_actionlint_really_reports_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: ./pants lint ::\n")
    result = subprocess.run(
        ["node", str(find_repo_root() / "build-support/ci/actionlint.cjs"), os.environ["HUB_ACTIONLINT"], str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "could not parse as YAML" in result.stdout


def test_release_signs_without_pantsd() -> None:
    """The signing key goes to a short-lived Pants process only, never to a pantsd that
    outlives the step (docs/security.md)."""
    release = yaml.safe_load((find_repo_root() / ".github/workflows/release.yml").read_text())
    steps = [s for job in release["jobs"].values() for s in job["steps"]]
    signing = [s for s in steps if "HUB_SIGNING_KEY" in (s.get("env") or {})]
    assert signing, "no step of release.yml receives HUB_SIGNING_KEY"
    for step in signing:
        assert step["run"].strip() == "./pants --no-pantsd publish //:site", step
