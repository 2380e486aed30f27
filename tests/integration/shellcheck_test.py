"""ShellCheck over every shell script we ship or run: the launcher, the build-support scripts,
CI's entry point, and the maintainer scripts rendered for every exporter, family and dist.

ShellCheck is Debian's (installed by build-support/ci/install-tools.sh). Maintainer scripts run
under /bin/sh on every host of a fleet, so they are checked as POSIX sh, at every severity.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hub.common import matrix
from hub.manifest.load import load_manifest
from hub.manifest.model import Manifest
from hub.packaging.plan import plan_package
from hub.upstream.lock import Lock, LockedArchive
from integration.workspace import find_repo_root

ROOT = find_repo_root()
REPOSITORY_SCRIPTS = sorted({ROOT / "pants", ROOT / ".ci" / "run", *(ROOT / "build-support").rglob("*.sh")}, key=str)


def shellcheck(paths: list[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["shellcheck", "--format=gcc", *extra, *map(str, paths)], capture_output=True, text=True)


def test_shellcheck_is_the_pinned_debian_one() -> None:
    version = subprocess.run(["shellcheck", "--version"], capture_output=True, text=True, check=True).stdout
    assert "version: 0.9.0" in version, version


def test_repository_scripts() -> None:
    assert len(REPOSITORY_SCRIPTS) >= 4, REPOSITORY_SCRIPTS
    result = shellcheck(REPOSITORY_SCRIPTS)
    assert result.returncode == 0, result.stdout + result.stderr


def _pinned(manifest: Manifest) -> Lock:
    archives = {
        a: LockedArchive(manifest.archive_url(a) if not manifest.is_local else manifest.local_archive(a), "ab" * 32, 1)
        for a in manifest.build.archs
    }
    return Lock(manifest.name, manifest.version, "2025-06-01T12:00:00Z", archives)


def rendered_scripts(out: Path) -> list[Path]:
    """Every maintainer script of every exporter, for the first dist of each family (the
    scripts differ by family, not by dist)."""
    paths = []
    for manifest_path in sorted((ROOT / "exporters").glob("*/manifest.yaml")):
        manifest = load_manifest(manifest_path)
        for kind, spec in (("rpm", manifest.rpm), ("deb", manifest.deb)):
            if spec is None:
                continue
            arch = manifest.build.archs[0]
            plan = plan_package(
                manifest, _pinned(manifest), kind=kind, arch=arch, dist=spec.targets[0], binaries_dir="bin"
            )
            for key, text in plan.scripts:
                path = out / manifest.name / kind / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                paths.append(path)
    return paths


def test_every_rendered_maintainer_script(tmp_path: Path) -> None:
    paths = rendered_scripts(tmp_path)
    exporters = {p.parent.parent.name for p in paths}
    assert len(exporters) == len(list((ROOT / "exporters").glob("*/manifest.yaml")))
    assert {p.parent.name for p in paths} == {"rpm", "deb"}
    result = shellcheck(paths, "--shell=sh", "--severity=style")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("family", ["rpm", "deb"])
def test_shellcheck_really_reports_problems(tmp_path: Path, family: str) -> None:
    """A positive control: the same invocation flags a classic mistake."""
    bad = tmp_path / f"{family}-postinst"
    bad.write_text("#!/bin/sh\nset -e\nchown $user /var/lib/$user\n")
    result = shellcheck([bad], "--shell=sh", "--severity=style")
    assert result.returncode != 0 and "SC2086" in result.stdout


def test_the_matrix_has_both_families() -> None:
    assert matrix.RPM_DISTS and matrix.DEB_DISTS
