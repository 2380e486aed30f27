"""hub.repos.sign: the publish order on a small built site (RPMs signed, YUM metadata from the
signed files, the catalog following the signed bytes, repomd.xml and Release signatures
checked by gpgv with the shipped public key).

The key is generated here (gpg batch, a throwaway GNUPGHOME); RPMs and DEBs are made by nfpm.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from testkit.packages import (
    SOURCE_DATE,
    export_secret_key,
    generate_key,
    gpgv,
    make_package,
    stop_agent,
)

from hub.catalog import artifact as catalog
from hub.common import files
from hub.common import schemas
from hub.repos import apt, yum
from hub.repos.sign import sign_site
from hub.repos.signer import signer_from_env
from hub.repos.signing_key import KEY_ENV


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A good key (RSA-3072), ASCII-armored, as HUB_SIGNING_KEY holds it."""
    home = Path(tmp_path_factory.mktemp("key"))
    fpr = generate_key(home, email="sign-site@example.org")
    try:
        yield export_secret_key(home, fpr)
    finally:
        stop_agent(home)


def small_site(root: Path) -> Path:
    """A built (unsigned) site: two RPMs and a DEB, their artifact JSONs, YUM and APT metadata."""
    site = root / "site"
    yum_entries, apt_entries = [], []
    for dist, arch in (("el9", "amd64"), ("el8", "arm64")):
        rpm = make_package(
            "rpm",
            root / "build",
            name="node_exporter",
            version="1.11.0",
            release=f"1.{dist}",
            arch=arch,
            payload=os.urandom(1024),
        )
        url = catalog.package_url("rpm", dist=dist, arch=arch, package_name="node_exporter", filename=rpm.name)
        (site / url).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(rpm, site / url)
        yum_entries.append(yum.yum_entry(site / url))
        artifact = catalog.package_artifact(
            kind="rpm",
            exporter="node_exporter",
            version="1.11.0",
            arch=arch,
            dist=dist,
            build_date="2025-06-01T12:00:00Z",
            path=site / url,
            package_name="node_exporter",
            metadata={
                "name": "node_exporter",
                "version": "1.11.0",
                "release": f"1.{dist}",
                "arch": rpm.name.split(".")[-2],
                "summary": "Synthetic node_exporter",
                "license": "Apache-2.0",
            },
            source={"url": "https://example.org/x", "sha256": "0" * 64},
        )
        files.write_json(site / "catalog" / "node_exporter" / f"rpm_{arch}_{dist}.json", artifact)
    deb = make_package("deb", root / "build", name="node-exporter", version="1.11.0", release="1+deb12")
    e = apt.apt_entry(deb)
    (site / e["filename"]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(deb, site / e["filename"])
    apt_entries.append(e)
    yum.build_yum_site(site, yum_entries)
    apt.build_apt_site(site, apt_entries)
    return site


def test_sign_site_runs_the_publish_order(secret: str, tmp_path: Path) -> None:
    site = small_site(tmp_path)
    rpm_json = site / "catalog/node_exporter/rpm_amd64_el9.json"
    before = json.loads(rpm_json.read_text())
    with signer_from_env({KEY_ENV: secret}) as signer:
        report = sign_site(site, signer)
    assert report["rpms_signed"] == 2 and report["catalog_rewritten"] == 2
    assert report["apt_suites"] == ["bookworm", "jammy", "noble", "trixie"]
    assert len(report["repos"]) == 6
    # 3. the catalog follows the signed bytes and keeps the digest as built
    after = json.loads(rpm_json.read_text())
    rpm = site / after["package"]["url"]
    assert (after["package"]["sha256"], after["package"]["size_bytes"]) == catalog.file_digest(rpm)
    assert after["package"]["unsigned_sha256"] == before["package"]["sha256"] != after["package"]["sha256"]
    schemas.validate(after, "artifact")
    # 2. the YUM metadata lists the signed file (its sha256 and size), same revision as built
    repo = rpm.parent
    entry = yum.yum_entry(rpm)
    assert entry["sha256"] == after["package"]["sha256"]
    import createrepo_c

    md = createrepo_c.Metadata()
    md.locate_and_load_xml(str(repo))
    (pkg,) = [md.get(k) for k in md.keys()]
    assert (pkg.pkgId, pkg.size_package) == (after["package"]["sha256"], after["package"]["size_bytes"])
    assert f"<revision>{SOURCE_DATE}</revision>" in (repo / "repodata/repomd.xml").read_text()
    # 4. signatures over the final metadata, with the shipped public key
    public = (site / "monitoring-hub.asc").read_bytes()
    assert (
        gpgv(
            tmp_path / "k", public, str(repo / "repodata/repomd.xml.asc"), str(repo / "repodata/repomd.xml")
        ).returncode
        == 0
    )
    for codename in ("bookworm", "noble"):
        d = site / "dists" / codename
        assert gpgv(tmp_path / "k", public, str(d / "InRelease")).returncode == 0
        assert gpgv(tmp_path / "k", public, str(d / "Release.gpg"), str(d / "Release")).returncode == 0
    # publishing again signs nothing twice, and no private key material is anywhere in the site
    with signer_from_env({KEY_ENV: secret}) as signer:
        assert sign_site(site, signer)["rpms_signed"] == 0
    for path in site.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path
