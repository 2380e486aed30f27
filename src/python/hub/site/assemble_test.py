"""hub.site.assemble places each SBOM where its artifact JSON says, next to the package or under
images/<exporter>/; hub.site.publish's site check verifies them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.catalog import artifact as catalog
from hub.common.errors import HubError
from hub.site import assemble as site
from hub.site import publish


def ref(path: Path, url: str) -> dict:
    sha256, size = catalog.file_digest(path)
    return {"filename": path.name, "url": url, "sha256": sha256, "size_bytes": size, "format": "CycloneDX 1.5"}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    d = tmp_path / "built" / "node_exporter"
    d.mkdir(parents=True)
    (d / "node_exporter-1.0.0-1.el9.x86_64.rpm").write_bytes(b"rpm")
    bom = d / "node_exporter-1.0.0-1.el9.x86_64.rpm.cdx.json"
    bom.write_text('{"bomFormat": "CycloneDX"}\n')
    package_url = "el9/x86_64/node_exporter-1.0.0-1.el9.x86_64.rpm"
    (d / "rpm_amd64_el9.json").write_text(
        json.dumps(
            {
                "artifact_type": "rpm",
                "build_date": "2025-06-01T12:00:00Z",
                "package": {"filename": "node_exporter-1.0.0-1.el9.x86_64.rpm", "url": package_url},
                "sbom": ref(bom, package_url + ".cdx.json"),
            }
        )
    )
    image_bom = d / "node_exporter-1.0.0-arm64.cdx.json"
    image_bom.write_text("{}\n")
    (d / "docker.json").write_text(
        json.dumps(
            {
                "artifact_type": "docker",
                "images": [
                    {
                        "manifests": [
                            {
                                "platform": "linux/arm64",
                                "sbom": ref(image_bom, "images/node_exporter/node_exporter-1.0.0-arm64.cdx.json"),
                            }
                        ]
                    }
                ],
            }
        )
    )
    return tmp_path / "built"


def test_sboms_are_placed_at_their_urls(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert site.place_packages(built, out) == "2025-06-01T12:00:00Z"
    assert (out / "el9/x86_64/node_exporter-1.0.0-1.el9.x86_64.rpm").read_bytes() == b"rpm"
    assert (out / "el9/x86_64/node_exporter-1.0.0-1.el9.x86_64.rpm.cdx.json").is_file()
    assert (out / "images/node_exporter/node_exporter-1.0.0-arm64.cdx.json").read_text() == "{}\n"


def test_a_missing_sbom_is_an_error(built: Path, tmp_path: Path) -> None:
    (built / "node_exporter" / "node_exporter-1.0.0-1.el9.x86_64.rpm.cdx.json").unlink()
    with pytest.raises(HubError, match="SBOM node_exporter-1.0.0-1.el9.x86_64.rpm.cdx.json is missing"):
        site.place_packages(built, tmp_path / "site")


def test_the_publish_check_verifies_sbom_digests(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    site.place_packages(built, out)
    (out / "catalog" / "node_exporter").mkdir(parents=True)
    for name in ("rpm_amd64_el9.json", "docker.json"):
        doc = json.loads((built / "node_exporter" / name).read_text())
        doc.get("package", {}).update(sha256=None, size_bytes=None)  # the package is not the point here
        (out / "catalog" / "node_exporter" / name).write_text(json.dumps(doc))
    assert publish.check_site(out) == []
    (out / "images/node_exporter/node_exporter-1.0.0-arm64.cdx.json").write_text("{ }\n")
    (problem,) = publish.check_site(out)
    assert "images/node_exporter/node_exporter-1.0.0-arm64.cdx.json has sha256" in problem
