"""hub.packaging.build without running nfpm: the upstream lock checked against the package,
the ELF check of the binaries, and the artifact JSON's metadata (build_integration_test.py
runs the whole step with nfpm)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from testkit.packaging import LOCK, SOURCE_DATE, plan

from hub.catalog import artifact as catalog
from hub.common import schemas
from hub.common.errors import HubError
from hub.packaging.build import _requested_groups, _required_keys, check_elf, metadata, read_pinned_lock


def test_read_pinned_lock(tmp_path: Path, manifest: Any) -> None:
    path = tmp_path / "lock.json"
    lock = LOCK.to_json()
    path.write_text(json.dumps({**lock, "version": "v0.18.0"}))
    with pytest.raises(
        HubError,
        match=re.escape(
            f"{path}: version: stale: the lock pins 'v0.18.0', the manifest is at 'v0.19.0'; run update-lock"
        ),
    ):
        read_pinned_lock(str(path), manifest, "amd64")
    path.write_text(json.dumps({**lock, "source_date": "yesterday"}))
    with pytest.raises(HubError, match=f"{path}: source_date: expected a UTC date like 2025-06-01T12:00:00Z"):
        read_pinned_lock(str(path), manifest, "amd64")
    with pytest.raises(
        HubError, match=re.escape(f"{tmp_path / 'missing.json'}: not pinned: run `./pants update-lock`")
    ):
        read_pinned_lock(str(tmp_path / "missing.json"), manifest, "amd64")
    path.write_text(json.dumps(lock))
    assert read_pinned_lock(str(path), manifest, "arm64") == LOCK


def test_only_the_packaged_arch_must_be_pinned(tmp_path: Path, manifest: Any) -> None:
    """The other archs' archives are not inputs of this package: problems with them are left
    to the builds that use them; problems with this one's are not."""
    path = tmp_path / "lock.json"
    lock = LOCK.to_json()
    del lock["archives"]["arm64"]
    path.write_text(json.dumps(lock))
    assert read_pinned_lock(str(path), manifest, "amd64").archives.keys() == {"amd64"}
    with pytest.raises(HubError, match=re.escape(f"{path}: archives.arm64: not pinned; run update-lock")):
        read_pinned_lock(str(path), manifest, "arm64")
    lock["archives"]["amd64"][
        "url"
    ] = "https://github.com/prometheus/mysqld_exporter/releases/download/v0.18.0/x.tar.gz"
    path.write_text(json.dumps(lock))
    with pytest.raises(HubError, match=re.escape(f"{path}: archives.amd64.url: expected https://github.com/")):
        read_pinned_lock(str(path), manifest, "amd64")


def elf(machine: int, interp: bool) -> bytes:
    """A minimal 64-bit little-endian ELF header with one program header."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5] = 2, 1
    header[18:20] = machine.to_bytes(2, "little")
    header[32:40] = (64).to_bytes(8, "little")  # e_phoff
    header[54:56] = (56).to_bytes(2, "little")  # e_phentsize
    header[56:58] = (1).to_bytes(2, "little")  # e_phnum
    phdr = bytearray(56)
    phdr[:4] = (3 if interp else 1).to_bytes(4, "little")
    return bytes(header + phdr)


def test_check_elf(tmp_path: Path) -> None:
    binary = tmp_path / "b"
    binary.write_bytes(elf(62, interp=True))
    assert check_elf(str(binary), "amd64") is True
    binary.write_bytes(elf(183, interp=False))
    assert check_elf(str(binary), "arm64") is False
    with pytest.raises(HubError, match="ELF machine 183 is not amd64"):
        check_elf(str(binary), "amd64")
    binary.write_bytes(b"#!/bin/sh\n" + bytes(100))
    with pytest.raises(HubError, match="not an ELF executable"):
        check_elf(str(binary), "amd64")


def test_artifact_metadata(manifest: Any) -> None:
    assert metadata(plan(manifest, "rpm", "el8")) == {
        "name": "mysqld_exporter",
        "version": "0.19.0",
        "release": "1.el8",
        "arch": "x86_64",
        "summary": "Prometheus exporter for MySQL server metrics",
        "license": "Apache-2.0",
    }
    deb = metadata(plan(manifest, "deb", "ubuntu-24.04"))
    assert "/bin/sh" not in deb["depends"]
    assert deb["version"] == "0.19.0-1+ubuntu24.04"
    assert deb["depends"] == ["libcap2 (>= 1:2.25)", "passwd", "systemd | systemd-tmpfiles"]


def test_package_artifact_validates(tmp_path: Path, manifest: Any) -> None:
    p = plan(manifest, "deb", "debian-12")
    package = tmp_path / p.filename
    package.write_bytes(b"not really a deb")
    artifact = catalog.package_artifact(
        kind="deb",
        exporter="mysqld_exporter",
        version="0.19.0",
        arch="amd64",
        dist="debian-12",
        build_date=SOURCE_DATE,
        path=package,
        package_name=p.name,
        metadata=metadata(p),
        source={"url": LOCK.archives["amd64"].url, "sha256": LOCK.archives["amd64"].sha256},
    )
    schemas.validate(artifact, "artifact")
    assert artifact["package"]["size_bytes"] == 16
    assert artifact["package"]["url"] == f"pool/main/m/mysqld-exporter/{p.filename}"


BASE_REQUEST = {"manifest": "m", "lock": "l", "arch": "amd64", "binaries_dir": "b", "nfpm": "n", "output_dir": "o"}


@pytest.mark.parametrize(
    "request_keys, required",
    [
        ({"kind": "rpm", "dist": "el9"}, {"kind", "dist"}),
        ({"kind": "deb", "dists": "all"}, {"kind"}),
        ({"packages": "all"}, set()),
    ],
)
def test_what_a_request_must_name(request_keys: dict[str, str], required: set[str]) -> None:
    assert set(_required_keys({**BASE_REQUEST, **request_keys})) == set(BASE_REQUEST) | required


def test_every_package_of_an_arch_is_rpms_one_by_one_then_the_debs_together(manifest: Any) -> None:
    groups = _requested_groups({**BASE_REQUEST, "packages": "all"}, manifest)
    rpm_dists, deb_dists = list(manifest.rpm.targets), list(manifest.deb.targets)
    assert groups == [("rpm", [d], False) for d in rpm_dists] + [("deb", deb_dists, True)]
    # The same packages the manifest's matrix has for the arch, which the plugin's targets are.
    assert sorted((k, d) for k, ds, _ in groups for d in ds) == sorted(
        (a.kind, a.dist) for a in manifest.matrix() if a.kind != "docker" and a.arch == "amd64"
    )


@pytest.mark.parametrize(
    "request_keys, message",
    [
        ({"packages": "some"}, 'packages must be "all"'),
        ({"packages": "all", "kind": "rpm"}, "without kind, dist or dists"),
        ({"packages": "all", "arch": "riscv64"}, "is not built for riscv64"),
        ({"kind": "rpm", "dists": "all"}, "`dists` builds DEBs only"),
        ({"kind": "deb", "dists": []}, "dists must be a non-empty list"),
    ],
)
def test_bad_batch_requests_say_what_was_expected(manifest: Any, request_keys: dict[str, str], message: str) -> None:
    with pytest.raises(HubError, match=re.escape(message)):
        _requested_groups({**BASE_REQUEST, **request_keys}, manifest)
