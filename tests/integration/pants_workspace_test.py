"""The real ./pants in a fresh copy of the repository: no warnings, the engine's matrix, list, peek,
lint, bootstrap errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from integration.workspace import copy_workspace, git, run_pants


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_workspace(tmp_path_factory.mktemp("ws") / "repo")
    # As a fresh clone has it: no upstream lock is committed (a developer's pins stay home).
    locks = [str(p.relative_to(repo)) for p in repo.glob("exporters/*/upstream.lock.json")]
    if locks:
        git(repo, "rm", "-q", *locks)
        git(repo, "commit", "-q", "-m", "no locks")
    return repo


def test_a_fresh_clone_prints_no_warning(repo: Path) -> None:
    # `filedeps` expands every target's sources globs, where an unmatched one would warn.
    result = run_pants(repo, "list", "filedeps", "::", check=True)
    assert "exporters/node_exporter#rpm_amd64_el9" in result.stdout
    assert "exporters/node_exporter/manifest.yaml" in result.stdout
    problems = [line for line in result.stderr.splitlines() if "[WARN]" in line or "[ERROR]" in line]
    assert not problems, result.stderr


def engine_matrix(manifest: Path) -> set[str]:
    """The artifact ids the engine declares for a manifest (`hub matrix`)."""
    out = subprocess.run(
        [sys.executable, "-m", "hub", "matrix", str(manifest)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out))


def test_generated_targets_are_the_engine_matrix_for_every_exporter(repo: Path) -> None:
    listed = run_pants(repo, "list", "exporters::", check=True).stdout.split()
    generated: dict[str, set[str]] = {}
    for address in listed:
        if "#" in address:
            spec_path, name = address.split("#", 1)
            generated.setdefault(spec_path, set()).add(name)
    manifests = sorted(repo.glob("exporters/*/manifest.yaml"))
    assert len(manifests) > 30
    assert set(generated) == {str(m.parent.relative_to(repo)) for m in manifests}
    mismatches = {}
    for manifest in manifests:
        spec_path = str(manifest.parent.relative_to(repo))
        plugin = generated[spec_path] - {"manifest"}
        engine = engine_matrix(manifest)
        if plugin != engine:
            mismatches[spec_path] = {"plugin only": sorted(plugin - engine), "engine only": sorted(engine - plugin)}
    assert not mismatches


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
            "exporters/blackbox_exporter/manifest.yaml: artifacts.rpm.targets[1]: " "'el7' is not one of el8, el9, el10"
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


def test_pants_searches_only_the_interpreters_the_build_uses(repo: Path) -> None:
    """The launcher narrows [python-bootstrap].search_path (issue #15): Pants' per-start
    interpreter probe then asks two Pythons, not every pyenv version and shim on PATH."""
    help_text = search_path_help(run_pants(repo, "help-advanced", "python-bootstrap", check=True).stdout)
    current = help_text.split("current value:", 1)[1].split("(from env var PANTS_PYTHON_BOOTSTRAP_SEARCH_PATH)", 1)
    assert len(current) == 2, help_text  # the value comes from the launcher
    dirs = json.loads(current[0])
    assert len(dirs) == 2, dirs
    assert os.access(f"{dirs[0]}/python3.9", os.X_OK), dirs
    assert any(os.access(f"{dirs[1]}/python3.{minor}", os.X_OK) for minor in (11, 12)), dirs
    # Set by the caller, Pants' own option wins.
    mine = search_path_help(
        run_pants(
            repo,
            "help-advanced",
            "python-bootstrap",
            env={"PANTS_PYTHON_BOOTSTRAP_SEARCH_PATH": '["<PATH>"]'},
            check=True,
        ).stdout
    )
    assert '"<PATH>"' in mine.split("current value:", 1)[1].split("overrode", 1)[0]


def search_path_help(help_text: str) -> str:
    """The `search_path` option's part of `./pants help-advanced python-bootstrap`."""
    return help_text.split("--python-bootstrap-search-path=", 1)[1].split("\n  --", 1)[0]
