"""`hub packages` (one process per exporter and arch) with the real nfpm and createrepo_c: the
same packages and artifact JSONs as one `hub package` per package, byte for byte, and the same
entries as `hub yum-entry` and `hub apt-entry` write for each package alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hub
from hub.packaging.build_integration_test import (  # noqa: F401 - fixtures: nfpm, tools
    FILES,
    build,
    make_workspace,
    nfpm,
    run,
    sha256,
    tools,
)

AMD64 = sorted(a for a in FILES if a.split("_")[1] == "amd64")  # the test manifest's amd64 packages


CLI = ("-c", "import sys; from hub.cli import main; sys.exit(main())")


def hub_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(hub.__file__).parents[1]), *sys.path])}


def hub_cli(workspace: Path, *argv: str) -> str:
    return run(sys.executable, *CLI, *argv, cwd=workspace, env=hub_env())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, nfpm: str) -> Path:  # noqa: F811 - the fixture
    root = make_workspace(tmp_path_factory.mktemp("indexed"), nfpm, mtime=1_200_000_000)
    request = json.loads((root / "rpm_amd64_el9.request.json").read_text())
    for key in ("kind", "dist"):
        del request[key]
    request.update({"packages": "all", "output_dir": "batch/out", "entries_dir": "batch/entries"})
    (root / "packages.request.json").write_text(json.dumps(request))
    printed = hub_cli(root, "packages", "--request", "packages.request.json").split()
    assert len(printed) == 3 * len(AMD64)
    for artifact_id in AMD64:
        build(root, artifact_id)  # each alone, into out/
    return root


def test_the_packages_are_those_built_one_by_one(workspace: Path) -> None:
    batch, alone = workspace / "batch" / "out", workspace / "out"
    expected = sorted(n for a in AMD64 for n in (FILES[a], FILES[a] + ".cdx.json", f"{a}.json"))
    assert sorted(p.name for p in batch.iterdir()) == expected
    for name in expected:
        assert sha256(batch / name) == sha256(alone / name), name


@pytest.mark.parametrize("artifact_id", AMD64)
def test_each_entry_is_the_one_its_package_alone_gives(workspace: Path, artifact_id: str) -> None:
    package = FILES[artifact_id]
    family, option = ("yum", "--rpm") if package.endswith(".rpm") else ("apt", "--deb")
    alone = workspace / "alone-entries" / f"{package}.json"
    hub_cli(workspace, f"{family}-entry", option, f"out/{package}", "--out", str(alone))
    batch = workspace / "batch" / "entries" / family / f"{package}.json"
    assert batch.read_bytes() == alone.read_bytes()


def test_only_packages_and_entries_are_written(workspace: Path) -> None:
    root = workspace / "batch" / "entries"
    entries = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert entries == sorted(
        {"yum", "apt"} | {f"{'yum' if FILES[a].endswith('.rpm') else 'apt'}/{FILES[a]}.json" for a in AMD64}
    )


def test_a_request_without_an_entries_directory_is_refused(workspace: Path) -> None:
    request = json.loads((workspace / "packages.request.json").read_text())
    del request["entries_dir"]
    request["output_dir"] = "refused"
    (workspace / "bad.request.json").write_text(json.dumps(request))
    argv = [sys.executable, *CLI, "packages", "--request", "bad.request.json"]
    result = subprocess.run(argv, cwd=workspace, env=hub_env(), capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (
        2,
        "error: packages request: entries_dir must name a directory, got None\n",
    )
    assert not (workspace / "refused").exists()  # refused before anything is built
