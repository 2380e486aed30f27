"""The DEBs of one exporter and arch built as a batch (`dists` in the request): the real nfpm,
checked with the real dpkg-deb and binutils' ar.

What it proves: every DEB of a batch is byte-identical to the same DEB built alone by nfpm
(so every check build_integration_test.py makes on single builds, lintian and dpkg included,
holds for the batch's packages); the batch's DEBs share one data member, byte for byte, and
differ only in their control member; the shared payload names every dist it serves (README
first line, changelog.Debian.gz entry without the dist suffix), as hub.packaging.plan writes it.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from hub.packaging.build_integration_test import (  # noqa: F401 - fixtures: nfpm, tools
    DEB,
    FILES,
    NAME,
    build,
    make_workspace,
    nfpm,
    run,
    sha256,
    tools,
)
from hub.packaging.debs import read_ar

DISTS = ("debian-12", "ubuntu-22.04")  # the test manifest's DEB targets


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, nfpm: str) -> Path:  # noqa: F811 - the fixture
    workspace = make_workspace(tmp_path_factory.mktemp("batch"), nfpm, mtime=1_100_000_000)
    request = json.loads((workspace / "deb_amd64_debian-12.request.json").read_text())
    del request["dist"]
    (workspace / "batch.request.json").write_text(json.dumps({**request, "dists": "all", "output_dir": "batch"}))
    build(workspace, "batch")
    for dist in DISTS:
        build(workspace, f"deb_amd64_{dist}")  # each alone, nfpm's whole package, into out/
    return workspace


def test_batch_packages_equal_whole_nfpm_builds(built: Path) -> None:
    batch, alone = built / "batch", built / "out"
    assert sorted(p.name for p in batch.iterdir()) == sorted(
        n
        for dist in DISTS
        for n in (FILES[f"deb_amd64_{dist}"], FILES[f"deb_amd64_{dist}"] + ".cdx.json", f"deb_amd64_{dist}.json")
    )
    for path in batch.iterdir():
        assert sha256(path) == sha256(alone / path.name), path.name


def test_one_data_member_for_every_dist(built: Path) -> None:
    debs = [built / "batch" / FILES[f"deb_amd64_{dist}"] for dist in DISTS]
    members = [read_ar(d) for d in debs]
    assert [[m.name for m in ms] for ms in members] == [["debian-binary", "control.tar.gz", "data.tar.zst"]] * 2
    assert members[0][2] == members[1][2]  # the data member: name, header fields and bytes
    assert members[0][1].data != members[1][1].data  # the control member: its own version
    # binutils' ar and dpkg-deb read the assembled package (the second one of the batch).
    assert run("ar", "t", str(debs[1])).split() == ["debian-binary", "control.tar.gz", "data.tar.zst"]
    assert run("dpkg-deb", "--field", str(debs[1]), "Version").strip() == "0.19.0-1+ubuntu22.04"
    assert f"./usr/bin/{NAME}" in run("dpkg-deb", "--contents", str(debs[1]))


def test_the_shared_docs_name_every_dist(built: Path) -> None:
    deb = built / "batch" / FILES["deb_amd64_ubuntu-22.04"]
    fsys = run_bytes("dpkg-deb", "--fsys-tarfile", str(deb))
    with tarfile.open(fileobj=io.BytesIO(fsys)) as tar:
        readme = tar.extractfile(f"./usr/share/doc/{DEB}/README.Debian").read().decode()  # type: ignore[union-attr]
        changelog = gzip.decompress(tar.extractfile(f"./usr/share/doc/{DEB}/changelog.Debian.gz").read()).decode()  # type: ignore[union-attr]
    assert readme.splitlines()[0] == f"{NAME} v0.19.0 for debian-12, ubuntu-22.04, packaged by Monitoring Hub"
    assert changelog.splitlines()[0] == f"{DEB} (0.19.0-1) bookworm jammy; urgency=medium"


def run_bytes(*argv: str) -> bytes:
    result = subprocess.run(argv, capture_output=True, check=True)
    return result.stdout
