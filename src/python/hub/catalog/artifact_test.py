"""hub.catalog.artifact: package URLs in the site, and the artifact JSON schema's strictness
(packaging/build_test.py checks the artifact of a planned package)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.catalog import artifact as catalog
from hub.common import schemas

SOURCE_DATE = "2025-06-01T12:00:00Z"


def test_package_urls() -> None:
    assert (
        catalog.package_url("rpm", dist="el9", arch="arm64", package_name="x", filename="x.rpm") == "el9/aarch64/x.rpm"
    )
    assert (
        catalog.package_url("deb", dist="debian-12", arch="amd64", package_name="node-exporter", filename="n.deb")
        == "pool/main/n/node-exporter/n.deb"
    )
    assert catalog.deb_pool_prefix("libfoo") == "libf"
    assert catalog.deb_pool_prefix("lib") == "l"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.update(status="failed"), "status: 'success' was expected"),
        (lambda a: a["package"].update(sha256="AB" * 32), "package.sha256: 'ABAB"),
        (lambda a: a["package"].update(sha256="ab" * 32 + "\n"), "package.sha256"),
        (lambda a: a["package"].update(url="/el9/x86_64/x.rpm"), "package.url"),
        (lambda a: a.update(dist="debian-12"), "dist: 'debian-12' is not one of"),
        (lambda a: a.update(extra=1), "Additional properties are not allowed"),
        (lambda a: a.update(deb_metadata={}), "should not be valid"),
        (lambda a: a.pop("rpm_metadata"), "'rpm_metadata' is a required property"),
        (lambda a: a.update(build_date="2025-06-01 12:00"), "build_date"),
    ],
)
def test_artifact_schema_is_strict(change: Any, message: str) -> None:
    artifact = {
        "format_version": "3.0",
        "artifact_type": "rpm",
        "exporter": "node_exporter",
        "version": "1.11.0",
        "arch": "amd64",
        "dist": "el9",
        "build_date": SOURCE_DATE,
        "status": "success",
        "package": {
            "filename": "node_exporter-1.11.0-1.el9.x86_64.rpm",
            "url": "el9/x86_64/node_exporter-1.11.0-1.el9.x86_64.rpm",
            "sha256": "ab" * 32,
            "size_bytes": 10,
            "unsigned_sha256": "ab" * 32,
        },
        "rpm_metadata": {
            "name": "node_exporter",
            "version": "1.11.0",
            "release": "1.el9",
            "arch": "x86_64",
            "summary": "s",
            "license": "Apache-2.0",
        },
        "source": {"url": "https://github.com/x/y.tar.gz", "sha256": "cd" * 32},
    }
    schemas.validate(artifact, "artifact")
    change(artifact)
    with pytest.raises(schemas.SchemaError, match=message.replace("(", r"\(")):
        schemas.validate(artifact, "artifact", what="rpm_amd64_el9.json")
