"""The offline quick start (build-support/quickstart.sh), run as the README says, in a copy of
the repository: its packages are labelled with the version of the binary they hold (Debian's
node_exporter build reports 1.5.0 with `--version`; the manifest says v1.11.0), the real
manifests stay as they are, and a second run gives byte-identical outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.workspace import copy_workspace, git

PACKAGES = 14  # 3 EL dists and 4 Debian/Ubuntu dists, for amd64 and arm64


def tree_digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class Runs:
    repo: Path
    output: str  # the first run's stdout
    outputs: tuple[dict[str, str], dict[str, str]]  # dist/<exporter>/ of each run
    mirrors: tuple[dict[str, str], dict[str, str]]
    locks: tuple[str, str]

    @property
    def dist(self) -> Path:
        return self.repo / "dist/quickstart/dist/node_exporter"


def quickstart(repo: Path) -> subprocess.CompletedProcess:
    # install-tools.sh has run before the tests (the README's test command): not again here.
    env = {**os.environ, "HUB_QUICKSTART_SKIP_TOOLS": "1"}
    env.pop("PANTS_BUILDROOT_OVERRIDE", None)
    env.pop("PANTS_HUB_UPSTREAM_MIRROR", None)
    result = subprocess.run(
        ["build-support/quickstart.sh"], cwd=repo, env=env, capture_output=True, text=True, timeout=1500
    )
    assert result.returncode == 0, f"quickstart.sh exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    repo = copy_workspace(tmp_path_factory.mktemp("ws") / "repo")
    stdouts, outputs, mirrors, locks = [], [], [], []
    for _ in range(2):  # the second run starts again from a new scratch copy and a new mirror
        stdouts.append(quickstart(repo).stdout)
        outputs.append(tree_digests(repo / "dist/quickstart/dist/node_exporter"))
        mirrors.append(tree_digests(repo / "dist/mirror"))
        locks.append((repo / "dist/quickstart/exporters/node_exporter/upstream.lock.json").read_text())
    return Runs(repo, stdouts[0], (outputs[0], outputs[1]), (mirrors[0], mirrors[1]), (locks[0], locks[1]))


def binary_version(package: Path, tmp_path: Path) -> str:
    """What `node_exporter --version` says, run from the package's payload."""
    subprocess.run(f"rpm2cpio '{package}' | cpio -idm --quiet", shell=True, cwd=tmp_path, check=True)
    result = subprocess.run(
        [str(tmp_path / "usr/bin/node_exporter"), "--version"], capture_output=True, text=True, check=True
    )
    match = re.match(r"node_exporter, version (\S+) ", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    return match.group(1)


def test_packages_carry_the_version_the_binary_reports(runs: Runs, tmp_path: Path) -> None:
    version = binary_version(runs.dist / "node_exporter-1.5.0-1.el9.x86_64.rpm", tmp_path)
    assert version == "1.5.0"
    assert "node_exporter: version v1.11.0 -> v1.5.0 (prometheus-node-exporter 1.5.0-" in runs.output
    packages = sorted(p for p in runs.dist.iterdir() if p.suffix in (".rpm", ".deb"))
    assert len(packages) == PACKAGES, packages
    for package in packages:
        assert package.name.startswith((f"node_exporter-{version}-1.", f"node-exporter_{version}-1+")), package.name
        if package.suffix == ".rpm":
            header = ["rpm", "-qp", "--qf", "%{VERSION}", str(package)]
            assert subprocess.run(header, capture_output=True, text=True, check=True).stdout == version
        else:
            control = subprocess.run(["dpkg-deb", "-f", str(package), "Version"], capture_output=True, text=True)
            assert control.stdout.startswith(f"{version}-1+"), control.stdout
    records = [p for p in runs.dist.glob("*.json") if not p.name.endswith(".cdx.json")]
    assert len(records) == PACKAGES + 1  # and docker.json
    for record in records:
        assert json.loads(record.read_text())["version"] == version, record.name
    assert not any("1.11.0" in name for name in runs.outputs[0]), sorted(runs.outputs[0])
    # The lock pins the archives of that version, at their canonical URLs.
    lock = json.loads(runs.locks[0])
    assert lock["version"] == "v1.5.0"
    assert lock["archives"]["amd64"]["url"] == (
        "https://github.com/prometheus/node_exporter/releases/download/v1.5.0/node_exporter-1.5.0.linux-amd64.tar.gz"
    )


def test_only_the_scratch_copy_is_relabelled(runs: Runs) -> None:
    assert git(runs.repo, "status", "--porcelain", "--", "exporters") == ""
    assert "\nversion: v1.11.0\n" in (runs.repo / "exporters/node_exporter/manifest.yaml").read_text()
    scratch = (runs.repo / "dist/quickstart/exporters/node_exporter/manifest.yaml").read_text()
    assert "\nversion: v1.5.0\n" in scratch


def test_two_runs_give_the_same_bytes(runs: Runs) -> None:
    first, second = runs.outputs
    assert sum(1 for name in first if name.endswith((".rpm", ".deb"))) == PACKAGES
    assert second == first
    assert runs.mirrors[1] == runs.mirrors[0]
    assert runs.locks[1] == runs.locks[0]
