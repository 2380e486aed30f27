"""hub.packaging.sbom: the CycloneDX documents written for synthetic Go and C binaries, checked
against the CycloneDX 1.5 JSON schema, and their purls."""

from __future__ import annotations

import json
from pathlib import Path

from testkit.go_binaries import inline_blob, make_elf

from hub.catalog import artifact as catalog
from hub.common import files
from hub.packaging import sbom

# --- documents -------------------------------------------------------------------------------

SOURCE = {
    "url": "https://github.com/example/exporter/releases/download/v1.2.3/exporter-1.2.3.linux-amd64.tar.gz",
    "sha256": "ab" * 32,
}


def binaries(tmp_path: Path) -> list[sbom.Binary]:
    go = tmp_path / "exporter"
    go.write_bytes(make_elf(inline_blob()))
    c = tmp_path / "helper"
    c.write_bytes(make_elf(b"\x00" * 64, buildinfo=None))  # a C stand-in
    return [sbom.Binary("/usr/bin/exporter", str(go)), sbom.Binary("/usr/bin/helper", str(c))]


def package_doc(tmp_path: Path, **overrides) -> dict:
    args = dict(
        kind="deb",
        name="example-exporter",
        version="1.2.3-1+deb12",
        arch="amd64",
        dist="debian-12",
        summary="Example exporter",
        license="Apache-2.0",
        homepage="https://example.com",
        source=SOURCE,
        source_date="2025-06-01T12:00:00Z",
        binaries=binaries(tmp_path),
    )
    args.update(overrides)
    return sbom.package_sbom(**args)


def components(doc: dict) -> dict:
    return {c["bom-ref"]: c for c in doc["components"]}


def test_package_document(tmp_path: Path) -> None:
    doc = package_doc(tmp_path)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    assert doc["metadata"]["timestamp"] == "2025-06-01T12:00:00Z"
    subject = doc["metadata"]["component"]
    assert subject["purl"] == "pkg:deb/monitoring-hub/example-exporter@1.2.3-1%2Bdeb12?arch=amd64&distro=debian-12"
    assert subject["externalReferences"][0] == {
        "type": "distribution",
        "url": SOURCE["url"],
        "hashes": [{"alg": "SHA-256", "content": SOURCE["sha256"]}],
        "comment": "The pinned upstream release archive the binaries were taken from, unmodified",
    }
    assert subject["licenses"] == [{"expression": "Apache-2.0"}]
    refs = components(doc)
    go_file = refs["file:/usr/bin/exporter"]
    assert go_file["hashes"][0]["content"] == catalog.file_digest(tmp_path / "exporter")[0]
    client = refs["pkg:golang/github.com/prometheus/client_golang@v1.20.5?type=module"]
    assert client["version"] == "v1.20.5" and client["type"] == "library"
    assert client["hashes"] == [{"alg": "SHA-256", "content": bytes([0x04, 0x10, 0x41] * 10 + [0x04, 0x10]).hex()}]
    main = refs["pkg:golang/example.com/exporter@v1.2.3?type=module"]
    assert main["type"] == "application"
    assert refs["pkg:golang/std@go1.22.5?type=module"]["name"] == "std"
    # A replacement is listed as what was compiled, with the original as its pedigree.
    fork = refs["pkg:golang/github.com/fork/thing@v1.0.1?type=module"]
    assert fork["pedigree"]["ancestors"][0]["purl"] == "pkg:golang/github.com/old/thing@v1.0.0?type=module"
    assert "pkg:golang/github.com/old/thing@v1.0.0?type=module" not in refs
    # A local directory replacement keeps the original identity and says so.
    local = refs["pkg:golang/github.com/local/thing@v0.1.0?type=module"]
    assert {"name": "monitoring-hub:go:replaced", "value": "github.com/local/thing v0.1.0 => ../thing"} in local[
        "properties"
    ]
    deps = {d["ref"]: d["dependsOn"] for d in doc["dependencies"]}
    assert deps[subject["bom-ref"]] == ["file:/usr/bin/exporter", "file:/usr/bin/helper"]
    assert client["bom-ref"] in deps["file:/usr/bin/exporter"]
    assert deps["file:/usr/bin/helper"] == []
    # The C stand-in: listed with its hash, no modules, and the document says why.
    helper = refs["file:/usr/bin/helper"]
    assert {"name": "monitoring-hub:go:buildinfo", "value": "absent"} in helper["properties"]
    assert "No Go build info" in helper["description"]
    compositions = {c["aggregate"]: c for c in doc["compositions"]}
    assert compositions["complete"]["dependencies"] == ["file:/usr/bin/exporter"]
    assert compositions["unknown"]["dependencies"] == ["file:/usr/bin/helper"]


def test_documents_are_reproducible_and_the_serial_follows_the_content(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    one, two = package_doc(a), package_doc(b)
    assert files.dumps_json(one) == files.dumps_json(two)
    sbom.write_sbom(a / "x.cdx.json", one, url="pool/x.cdx.json")
    ref = sbom.write_sbom(b / "x.cdx.json", two, url="pool/x.cdx.json")
    assert (a / "x.cdx.json").read_bytes() == (b / "x.cdx.json").read_bytes()
    assert ref == {
        "filename": "x.cdx.json",
        "url": "pool/x.cdx.json",
        "size_bytes": (b / "x.cdx.json").stat().st_size,
        "sha256": catalog.file_digest(b / "x.cdx.json")[0],
        "format": "CycloneDX 1.5",
    }
    other = package_doc(a, source_date="2025-06-02T12:00:00Z")
    assert other["serialNumber"] != one["serialNumber"]
    assert one["serialNumber"].startswith("urn:uuid:")


def test_rpm_and_image_documents(tmp_path: Path) -> None:
    rpm = package_doc(
        tmp_path,
        kind="rpm",
        name="example_exporter",
        version="1.2.3-1.el9",
        arch="x86_64",
        dist="el9",
        license="NOASSERTION",
    )
    assert (
        rpm["metadata"]["component"]["purl"]
        == "pkg:rpm/monitoring-hub/example_exporter@1.2.3-1.el9?arch=x86_64&distro=el9"
    )
    assert "licenses" not in rpm["metadata"]["component"]
    image = sbom.image_sbom(
        exporter="example_exporter",
        registry="ghcr.io",
        repository="org/example_exporter",
        tag="1.2.3",
        arch="arm64",
        digest="sha256:" + "c" * 64,
        base_image="gcr.io/distroless/static@sha256:" + "d" * 64,
        source=SOURCE,
        source_date="2025-06-01T12:00:00Z",
        binaries=binaries(tmp_path),
    )
    subject = image["metadata"]["component"]
    assert subject["type"] == "container"
    assert subject["purl"] == (
        "pkg:oci/example_exporter@sha256%3A"
        + "c" * 64
        + "?arch=arm64&repository_url=ghcr.io%2Forg%2Fexample_exporter&tag=1.2.3"
    )
    base = components(image)[
        "pkg:oci/static@sha256%3A" + "d" * 64 + "?arch=arm64&repository_url=gcr.io%2Fdistroless%2Fstatic"
    ]
    assert base["type"] == "container"
    deps = {d["ref"]: d["dependsOn"] for d in image["dependencies"]}
    assert base["bom-ref"] in deps[subject["bom-ref"]]


def cyclonedx_errors(doc: dict) -> list[str]:
    """Validation with the CycloneDX project's own JSON schema (bundled in cyclonedx-python-lib)."""
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator

    validator = make_schemabased_validator(OutputFormat.JSON, SchemaVersion.V1_5)
    error = validator.validate_str(json.dumps(doc), all_errors=True)
    if error is None:
        return []
    return [str(e) for e in error] if isinstance(error, (list, tuple)) else [str(error)]


def test_documents_match_the_cyclonedx_1_5_schema(tmp_path: Path) -> None:
    docs = [
        package_doc(tmp_path),
        package_doc(tmp_path, kind="rpm", name="example_exporter", version="1.2.3-1.el9", arch="x86_64", dist="el9"),
        sbom.image_sbom(
            exporter="e",
            registry="localhost:5000",
            repository="hub/e",
            tag="1.0.0",
            arch="amd64",
            digest="sha256:" + "c" * 64,
            base_image="scratch",
            source=SOURCE,
            source_date="2025-06-01T12:00:00Z",
            binaries=binaries(tmp_path),
        ),
    ]
    for doc in docs:
        assert cyclonedx_errors(doc) == []
    # The schema is strict enough to catch mistakes: an unknown field, a wrong enum value.
    broken = json.loads(json.dumps(docs[0]))
    broken["components"][0]["sha256"] = "x"
    assert cyclonedx_errors(broken)
    broken = json.loads(json.dumps(docs[0]))
    broken["components"][0]["hashes"][0]["alg"] = "SHA-257"
    assert cyclonedx_errors(broken)


def test_purls_parse_back() -> None:
    from packageurl import (
        PackageURL,  # pants: no-infer-dep (installed with cyclonedx-python-lib)
    )

    p = PackageURL.from_string(sbom.golang_purl("github.com/Masterminds/semver/v3", "v3.2.1"))
    assert (p.type, p.namespace, p.name, p.version) == ("golang", "github.com/Masterminds/semver", "v3", "v3.2.1")
    p = PackageURL.from_string(sbom.package_purl("deb", "node-exporter", "1.11.0-1+deb12", "arm64", "debian-12"))
    assert (p.type, p.namespace, p.name, p.version, p.qualifiers) == (
        "deb",
        "monitoring-hub",
        "node-exporter",
        "1.11.0-1+deb12",
        {"arch": "arm64", "distro": "debian-12"},
    )
    assert PackageURL.from_string(sbom.golang_purl("example.com/x", "(devel)")).version is None
