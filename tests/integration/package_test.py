"""`./pants package exporters/node_exporter::` end to end, from a local mirror of real binaries.

Runs the real launcher in a copy of the repository: pins the mirror with `update-lock`, builds
the 14 packages, checks them with rpm and dpkg, rebuilds from an empty store into an empty
dist/ and compares bytes, and checks the failure modes (wrong checksum, unpinned upstream).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.common.schemas import validate
from hub.upstream.mirror import serve

from integration.offline import build_offline_mirror
from integration.workspace import copy_workspace, git, run_pants

RPM_DISTS = ("el8", "el9", "el10")
DEB_DISTS = ("debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04")
ARCHES = ("amd64", "arm64")
ELF_MACHINE = {"amd64": 62, "arm64": 183}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def mirror_url(tmp_path_factory):
    mirror = build_offline_mirror(tmp_path_factory.mktemp("mirror"), ["node_exporter"])
    with serve(mirror) as url:
        yield url


@pytest.fixture(scope="module")
def built(tmp_path_factory, mirror_url):
    repo = copy_workspace(tmp_path_factory.mktemp("ws") / "repo")
    env = {"PANTS_HUB_UPSTREAM_MIRROR": mirror_url}
    out = run_pants(repo, "update-lock", "exporters/node_exporter::", env=env, check=True)
    lock = json.loads((repo / "exporters/node_exporter/upstream.lock.json").read_text())
    assert set(lock["archives"]) == set(ARCHES), out.stdout
    assert lock["archives"]["amd64"]["url"].startswith("https://github.com/prometheus/node_exporter/")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pin the offline mirror")
    run_pants(repo, "package", "exporters/node_exporter::", env=env, check=True)
    return repo, env


def test_fourteen_packages_with_their_artifact_json(built) -> None:
    repo, _ = built
    dist = repo / "dist" / "node_exporter"
    ids = [f"rpm_{a}_{d}" for d in RPM_DISTS for a in ARCHES] + [f"deb_{a}_{d}" for d in DEB_DISTS for a in ARCHES]
    records = [p.name for p in dist.glob("*.json") if not p.name.endswith(".cdx.json")]
    assert sorted(records) == sorted([f"{i}.json" for i in ids] + ["docker.json"])
    packages = sorted(p.name for p in dist.iterdir() if p.suffix in (".rpm", ".deb"))
    assert len(packages) == 14, packages
    assert "node_exporter-1.11.0-1.el9.x86_64.rpm" in packages
    assert "node-exporter_1.11.0-1+deb12_arm64.deb" in packages
    lock = json.loads((repo / "exporters/node_exporter/upstream.lock.json").read_text())
    for artifact_id in ids:
        record = json.loads((dist / f"{artifact_id}.json").read_text())
        validate(record, "artifact")  # the contract: real output against the shipped schema
        package = dist / record["package"]["filename"]
        assert record["package"]["sha256"] == sha256(package)
        assert record["package"]["size_bytes"] == package.stat().st_size
        assert record["build_date"] == lock["source_date"]
        assert record["source"] == {
            "url": lock["archives"][record["arch"]]["url"],
            "sha256": lock["archives"][record["arch"]]["sha256"],
        }
        assert not record["package"]["url"].startswith(("http:", "https:", "/"))
        # The SBOM beside the package, as the artifact JSON describes it.
        bom = dist / record["sbom"]["filename"]
        assert bom.name == package.name + ".cdx.json"
        assert record["sbom"]["url"] == record["package"]["url"] + ".cdx.json"
        assert (record["sbom"]["sha256"], record["sbom"]["size_bytes"]) == (sha256(bom), bom.stat().st_size)
    assert len(list(dist.glob("*.cdx.json"))) == 14 + 2  # packages, and the image's two platforms


@pytest.mark.parametrize("arch", ARCHES)
def test_every_package_holds_binaries_for_its_arch(built, tmp_path: Path, arch: str) -> None:
    repo, _ = built
    dist = repo / "dist" / "node_exporter"
    for package in sorted(dist.glob(f"*{'x86_64' if arch == 'amd64' else 'aarch64'}.rpm")) + sorted(
        dist.glob(f"*_{arch}.deb")
    ):
        root = tmp_path / package.name
        root.mkdir()
        if package.suffix == ".rpm":
            subprocess.run(f"rpm2cpio '{package}' | cpio -idm --quiet", shell=True, cwd=root, check=True)
        else:
            subprocess.run(["dpkg-deb", "-x", str(package), str(root)], check=True)
        header = (root / "usr/bin/node_exporter").read_bytes()[:20]
        assert header[:4] == b"\x7fELF", package.name
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE[arch], package.name
        # Its SBOM names the binary the package installs, and what its Go build info says.
        bom = json.loads((dist / (package.name + ".cdx.json")).read_text())
        (binary,) = [c for c in bom["components"] if c["type"] == "file"]
        assert binary["name"] == "/usr/bin/node_exporter"
        assert binary["hashes"][0]["content"] == sha256(root / "usr/bin/node_exporter"), package.name
        props = {p["name"]: p["value"] for p in binary["properties"]}
        assert props["monitoring-hub:go:build:GOARCH"] == arch
        # The offline mirror holds Debian's builds: GOPATH mode, no module list recorded.
        assert props["monitoring-hub:go:buildinfo"] in ("present", "no-modules")


def test_rpm_and_dpkg_read_the_headers(built) -> None:
    repo, _ = built
    dist = repo / "dist" / "node_exporter"
    info = subprocess.run(
        [
            "rpm",
            "-qp",
            "--qf",
            "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{BUILDHOST}\n",
            str(dist / "node_exporter-1.11.0-1.el8.aarch64.rpm"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert info == ["node_exporter", "1.11.0", "1.el8", "aarch64", "monitoring-hub"]
    control = subprocess.run(
        [
            "dpkg-deb",
            "-f",
            str(dist / "node-exporter_1.11.0-1+ubuntu24.04_amd64.deb"),
            "Package",
            "Version",
            "Architecture",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert control.split() == [
        "Package:",
        "node-exporter",
        "Version:",
        "1.11.0-1+ubuntu24.04",
        "Architecture:",
        "amd64",
    ]


def tree_digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_clean_rebuild_is_byte_identical(built, tmp_path: Path) -> None:
    repo, env = built
    dist = repo / "dist" / "node_exporter"
    first = tree_digests(dist)
    # A fresh local store: every process runs again, nothing comes from the first build's cache;
    # and an empty dist/, so every file compared below was written by the second build.
    shutil.rmtree(repo / "dist")
    run_pants(
        repo,
        f"--local-store-dir={tmp_path / 'store'}",
        "--no-local-cache",
        "package",
        "exporters/node_exporter::",
        env=env,
        check=True,
    )
    second = tree_digests(dist)
    # 14 packages + 14 JSONs + 14 SBOMs, and the image: docker.json, 2 docker-load archives,
    # 2 SBOMs, the OCI layout.
    assert sum(1 for name in first if name.endswith((".rpm", ".deb"))) == 14
    assert sum(1 for name in first if name.endswith(".cdx.json")) == 16
    assert any(name.startswith("oci/blobs/sha256/") for name in first)
    assert second == first


def test_the_site_publishes_every_sbom_its_catalog_lists(built) -> None:
    repo, env = built
    run_pants(repo, "package", "//:site", env=env, check=True)
    site = repo / "dist" / "site"
    refs = []
    for path in sorted((site / "catalog" / "node_exporter").glob("*.json")):
        doc = json.loads(path.read_text())
        refs += [doc["sbom"]] if "sbom" in doc else []
        refs += [m["sbom"] for image in doc.get("images", []) for m in image["manifests"]]
    assert len(refs) == 14 + 2
    page = (site / "exporters" / "node_exporter.html").read_text()
    for ref in refs:
        assert sha256(site / ref["url"]) == ref["sha256"], ref["url"]
        assert f'class="sbom" href="../{ref["url"]}"' in page, ref["url"]
    assert sorted(str(p.relative_to(site)) for p in site.rglob("*.cdx.json")) == sorted(r["url"] for r in refs)


def test_wrong_checksum_fails_and_writes_nothing(built) -> None:
    repo, env = built
    lock_path = repo / "exporters/node_exporter/upstream.lock.json"
    original = lock_path.read_text()
    lock = json.loads(original)
    good = lock["archives"]["amd64"]["sha256"]
    bad = "0" * 64
    lock["archives"]["amd64"]["sha256"] = bad
    lock_path.write_text(json.dumps(lock))
    dist = repo / "dist-checksum"
    try:
        result = run_pants(
            repo,
            "--pants-distdir=dist-checksum",
            "package",
            "exporters/node_exporter#rpm_amd64_el9",
            env=env,
        )
    finally:
        lock_path.write_text(original)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert bad in output and good in output, output
    assert "node_exporter-1.11.0.linux-amd64.tar.gz" in output
    assert not dist.exists() or not any(dist.rglob("*.rpm"))


def test_unpinned_exporter_is_skipped_with_a_hint_or_refused(built) -> None:
    repo, env = built
    dist = repo / "dist-unpinned"
    result = run_pants(
        repo, "--pants-distdir=dist-unpinned", "package", "exporters/blackbox_exporter::", env=env, check=True
    )
    assert "./pants update-lock exporters/blackbox_exporter::" in result.stderr
    assert not dist.exists() or not any(dist.rglob("*.rpm"))
    strict = run_pants(
        repo,
        "--hub-require-pinned",
        "--pants-distdir=dist-unpinned",
        "package",
        "exporters/blackbox_exporter#rpm_amd64_el9",
        env=env,
    )
    assert strict.returncode != 0
    assert "not pinned" in strict.stderr
