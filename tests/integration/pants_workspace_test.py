"""The real ./pants in a fresh copy of the repository: list, peek, lint, bootstrap errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from integration.workspace import copy_workspace, run_pants


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return copy_workspace(tmp_path_factory.mktemp("ws") / "repo")


def test_list_shows_the_real_matrix(repo: Path) -> None:
    out = run_pants(repo, "list", "exporters/node_exporter::", check=True).stdout.split()
    generated = sorted(a.split("#", 1)[1] for a in out if "#" in a)
    expected = sorted(
        [f"rpm_{a}_{d}" for a in ("amd64", "arm64") for d in ("el8", "el9", "el10")]
        + [
            f"deb_{a}_{d}"
            for a in ("amd64", "arm64")
            for d in ("debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04")
        ]
        + ["docker", "manifest"]
    )
    assert generated == expected


def test_peek_shows_fields(repo: Path) -> None:
    out = run_pants(repo, "peek", "exporters/prometheus#deb_arm64_debian-12", check=True).stdout
    (tgt,) = json.loads(out)
    assert tgt["target_type"] == "exporter_package"
    assert (tgt["exporter"], tgt["format"], tgt["arch"], tgt["dist"]) == (
        "prometheus",
        "deb",
        "arm64",
        "debian-12",
    )


def test_lint_passes_then_reports_a_broken_manifest(repo: Path) -> None:
    run_pants(repo, "lint", "::", check=True)

    manifest = repo / "exporters/blackbox_exporter/manifest.yaml"
    original = manifest.read_text()
    try:
        data = yaml.safe_load(original)
        data["artifacts"]["rpm"]["targets"] = ["el8", "el7"]
        manifest.write_text(yaml.safe_dump(data))
        result = run_pants(repo, "lint", "::")
        assert result.returncode != 0
        assert (
            "exporters/blackbox_exporter/manifest.yaml: artifacts.rpm.targets[1]: "
            "'el7' is not one of el8, el9, el10"
        ) in result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        # A broken manifest never breaks the rest of the repository.
        listed = run_pants(repo, "list", "::", check=True).stdout
        assert "exporters/node_exporter#rpm_amd64_el9" in listed
        assert "exporters/blackbox_exporter#manifest" in listed
    finally:
        manifest.write_text(original)


def test_launcher_names_what_to_install_without_python39(repo: Path, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "HOME": str(tmp_path),
        "PANTS_BOOTSTRAP_CACHE": str(tmp_path / "cache"),
    }
    env.pop("PANTS_BOOTSTRAP_PYTHON", None)
    result = subprocess.run(
        ["./pants", "--version"],
        cwd=repo,
        env={k: v for k, v in {**os.environ, **env}.items() if k != "PANTS_BOOTSTRAP_PYTHON"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "needs CPython 3.9" in result.stderr
    assert "pyenv install 3.9" in result.stderr
