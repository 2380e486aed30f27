"""The relations with the distributions' own packages of the same exporter (manifest
`distribution_packages`): DEB Conflicts + Replaces, RPM Conflicts only (never Obsoletes), no
Provides; checked on every exporter of the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from testkit.packaging import MANIFEST, plan, write_exporter

from hub.manifest.exporters_doc import load_exporters
from hub.manifest.load import load_manifest
from hub.manifest.model import DISTRIBUTIONS
from hub.packaging.nfpm import nfpm_config

REPO_ROOT = Path(__file__).resolve().parents[4]
EXPORTERS = {m.name: m for m in load_exporters(str(REPO_ROOT / "exporters"))}


def _names(relations: tuple[str, ...]) -> list[str]:
    return [r.split(" ")[0] for r in relations]


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_every_exporter_declares_its_distribution_packages(name: str) -> None:
    m = EXPORTERS[name]
    assert set(m.distribution_packages) == {d for family in DISTRIBUTIONS.values() for d in family}
    if m.deb is not None:
        p = plan(m, "deb", m.deb.targets[0], arch=m.build.archs[0])
        for package in m.distribution_package_names("deb"):
            assert package in _names(p.conflicts) and package in _names(p.replaces), (package, p.conflicts)
        assert len(set(_names(p.conflicts))) == len(p.conflicts)
        assert "provides" not in nfpm_config(p, "/w")
    if m.rpm is not None:
        p = plan(m, "rpm", m.rpm.targets[0], arch=m.build.archs[0])
        fedora = m.distribution_package_names("rpm")
        assert set(fedora) <= set(_names(p.conflicts))
        # Obsoletes (RPM `replaces`) would let a routine `dnf upgrade` switch vendors in silence.
        assert not set(fedora) & set(_names(p.replaces))
        assert "provides" not in nfpm_config(p, "/w")


def test_node_exporter_relations() -> None:
    m = EXPORTERS["node_exporter"]
    deb = plan(m, "deb", "debian-12")
    assert deb.conflicts == deb.replaces == ("prometheus-node-exporter",)
    rpm = plan(m, "rpm", "el9")
    assert rpm.conflicts == ("golang-github-prometheus-node-exporter", "node-exporter") and rpm.replaces == ()
    config = nfpm_config(deb, "/w")
    assert config["conflicts"] == config["replaces"] == ["prometheus-node-exporter"]


def test_a_package_of_our_own_name_is_upgraded_not_conflicted() -> None:
    m = EXPORTERS["prometheus"]
    assert m.distribution_packages["debian-12"].packages == ("prometheus",)
    deb = plan(m, "deb", "debian-13")
    assert "prometheus" not in _names(deb.conflicts)
    assert _names(deb.conflicts) == ["promtool"]  # the manifest's own relation stays


def test_manifest_relations_come_first_and_are_not_repeated(tmp_path: Path) -> None:
    data: Any = json.loads(json.dumps(MANIFEST))
    data["artifacts"]["deb"]["conflicts"] = ["prometheus-foo-exporter (<< 2.0)", "foo-tools"]
    data["artifacts"]["deb"]["replaces"] = []
    data["artifacts"]["rpm"]["replaces"] = ["foo-old"]
    data["artifacts"]["rpm"]["conflicts"] = []
    data["distribution_packages"] = {
        "debian-12": {"packages": ["prometheus-foo-exporter"], "checked": "a"},
        "debian-13": {"packages": ["prometheus-foo-exporter", "foo-exporter"], "checked": "b"},
        "ubuntu-22.04": {"not_checked": "c"},
        "ubuntu-24.04": {"packages": [], "checked": "d"},
        "fedora": {"packages": ["golang-foo"], "checked": "e"},
        "epel": {"not_checked": "f"},
    }
    m = load_manifest(write_exporter(tmp_path, data))
    deb = plan(m, "deb", "debian-12")
    assert deb.conflicts == ("prometheus-foo-exporter (<< 2.0)", "foo-tools", "foo-exporter")
    assert deb.replaces == ("foo-exporter", "prometheus-foo-exporter")
    rpm = plan(m, "rpm", "el9")
    assert rpm.conflicts == ("golang-foo",) and rpm.replaces == ("foo-old",)
