from __future__ import annotations

import pytest

from hub_plugin.package_rules import SBOM_SUFFIX, EngineOutputError, check_outputs


def test_a_package_comes_with_its_sbom() -> None:
    files = [
        "node_exporter/node_exporter-1.11.0-1.el9.x86_64.rpm",
        "node_exporter/node_exporter-1.11.0-1.el9.x86_64.rpm.cdx.json",
        "node_exporter/rpm_amd64_el9.json",
    ]
    check_outputs(files, "node_exporter#rpm_amd64_el9", (".rpm", ".deb"), SBOM_SUFFIX)
    with pytest.raises(EngineOutputError, match="expected 1 SBOM"):
        check_outputs(files[::2], "node_exporter#rpm_amd64_el9", (".rpm", ".deb"), SBOM_SUFFIX)
    with pytest.raises(EngineOutputError, match="wrote no .rpm or .deb"):
        check_outputs(files[1:], "node_exporter#rpm_amd64_el9", (".rpm", ".deb"), SBOM_SUFFIX)


def test_an_image_comes_with_one_sbom_per_platform() -> None:
    files = [
        "node_exporter/docker.json",
        "node_exporter/oci/index.json",
        "node_exporter/node_exporter-1.11.0-amd64.cdx.json",
        "node_exporter/node_exporter-1.11.0-arm64.cdx.json",
    ]
    check_outputs(files, "node_exporter#docker", ("docker.json",), SBOM_SUFFIX, count=2)
    with pytest.raises(EngineOutputError, match="expected 2 SBOM"):
        check_outputs(files[:3], "node_exporter#docker", ("docker.json",), SBOM_SUFFIX, count=2)
