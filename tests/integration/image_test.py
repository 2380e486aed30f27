"""`hub image` end to end with the real tools, from Debian's real node_exporter binaries.

The engine pipeline as the Pants rules run it: the offline mirror repacks Debian's
prometheus-node-exporter (amd64 and arm64) into upstream's archive layout, the lock pins the
archives, `hub.upstream.archive` extracts the binaries, and `hub.image.request` builds the image. Debian's builds
are dynamically linked (`readelf -d`: NEEDED libc.so.6 only), so the test image uses a base
built from Debian's libc6 package (one layer per arch), pinned by digest in the manifest.

Then, with services started here and stopped by PID (tests/integration/services.py):
skopeo and umoci read the layout; a private dockerd loads the amd64 archive through the
Docker SDK and runs it (host network, 127.0.0.1 only): /metrics answers with
node_exporter_build_info, from a process whose uid is the image's non-root user; the image is
pushed to docker-registry by digest and pulled back by skopeo and dockerd with identical
digests; the arm64 binary is an aarch64 ELF and runs under qemu-aarch64-static.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub import cli
from hub.catalog import artifact as catalog
from hub.image.accounts import NONROOT_GID, NONROOT_UID
from hub.image.build import BuiltImage, write_base_layout
from hub.image.layers import Layer
from hub.image.layout import OCI_INDEX
from hub.image.registry import push_layout
from hub.image.request import build
from hub.image.validate import validate_image
from hub.common.errors import HubError
from hub.upstream.archive import extract_binaries
from hub.upstream.lock import LockedArchive, Lock, write_lock
from hub.common.dates import format_source_date
from hub.manifest.load import load_manifest
from hub.upstream.debian import fetch_deb
from hub.upstream.mirror import build_mirror
from hub.upstream.source_date import source_date_of
from hub.common import schemas

from integration.offline import debian_cache
from integration.roots import ELF_AARCH64, ELF_X86_64, base_env, free_port, run
from integration.services import dockerd, registry
from integration.workspace import find_repo_root

ARCHES = ("amd64", "arm64")
REPOSITORY = "monitoring-hub/node_exporter"
BASE_DATE = "2024-01-01T00:00:00Z"


@dataclass
class Built:
    root: Path
    request: dict[str, Any]
    image: BuiltImage
    doc: dict[str, Any]
    binaries: dict[str, Path]

    @property
    def layout(self) -> Path:
        return self.image.layout_dir

    @property
    def tag(self) -> str:
        return self.image.tag


def libc_root(arch: str, dest: Path) -> Path:
    """Debian's libc6:<arch> unpacked (the dynamic loader and the C library)."""
    deb = fetch_deb("libc6", arch, debian_cache())
    dest.mkdir(parents=True)
    run(["dpkg-deb", "-x", deb.path, dest], env=base_env(), what=f"unpacking libc6:{arch}")
    return dest


def needed_libraries(binary: Path) -> list[str]:
    out = run(["readelf", "-d", binary], env=base_env()).stdout
    return sorted(line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("image")
    real = load_manifest(find_repo_root() / "exporters/node_exporter/manifest.yaml")

    # upstream archives from Debian's builds, pinned like update-lock pins them
    mirror = root / "mirror"
    entries = build_mirror([real], mirror, cache_dir=debian_cache(), jobs=2)
    assert all(e.ok for e in entries), entries
    archives = {e.arch: e for e in entries}
    lock = Lock(
        exporter=real.name,
        version=real.version,
        source_date=format_source_date(max(source_date_of(e.path) for e in entries)),
        archives={a: LockedArchive(real.archive_url(a), e.sha256, e.size) for a, e in sorted(archives.items())},
    )

    binaries = {}
    for arch in ARCHES:
        out = root / "binaries" / arch
        extract_binaries(archives[arch].path, real.build.binaries, out, arch=arch)
        binaries[arch] = out / "node_exporter"
        # Debian's build needs the C library only: the libc6 base is all it takes
        assert needed_libraries(binaries[arch]) == ["libc.so.6"]

    base = root / "base"
    base_digest = write_base_layout(
        base, {a: libc_root(a, root / f"libc6-{a}") for a in ARCHES}, source_date=BASE_DATE, tag="bookworm"
    )

    exporter = root / "ws" / "node_exporter"
    exporter.mkdir(parents=True)
    data = yaml.safe_load((find_repo_root() / "exporters/node_exporter/manifest.yaml").read_text())
    data["artifacts"]["docker"]["base_image"] = f"debian/libc6@{base_digest}"
    (exporter / "manifest.yaml").write_text(yaml.safe_dump(data))
    write_lock(exporter / "upstream.lock.json", lock)
    request = {
        "manifest": str(exporter / "manifest.yaml"),
        "lock": str(exporter / "upstream.lock.json"),
        "binaries": {a: str(root / "binaries" / a) for a in ARCHES},
        "registry": "127.0.0.1",
        "repository": REPOSITORY,
        "base_layout": str(base),
        "base_digest": base_digest,
        "output_dir": str(root / "out"),
    }
    image, doc_path = build(request)
    return Built(root, request, image, json.loads(doc_path.read_text()), binaries)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with dockerd(tmp_path_factory.mktemp("dockerd")) as d:
        yield d


@pytest.fixture
def engine(daemon: Any):  # type: ignore[no-untyped-def]
    client = daemon.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


def skopeo(*args: str) -> subprocess.CompletedProcess:
    return run(["skopeo", "--override-os", "linux", *args], env=base_env(), what="skopeo")


# --- the layout, read by skopeo and umoci ------------------------------------------------------


def test_docker_json_and_determinism(built: Built, tmp_path: Path) -> None:
    schemas.validate(built.doc, "docker")
    (img,) = built.doc["images"]
    assert img["digest"] == built.image.digest
    assert img["platforms"] == ["linux/amd64", "linux/arm64"]
    assert [m["digest"] for m in img["manifests"]] == [p.digest for p in built.image.platforms]
    assert built.doc["base_image"].startswith("debian/libc6@sha256:")
    again, path = build({**built.request, "output_dir": str(tmp_path / "again")})
    assert again.digest == built.image.digest
    assert json.loads(path.read_text()) == built.doc
    for arch in ARCHES:
        name = f"node_exporter-{arch}.docker.tar"
        assert (tmp_path / "again" / name).read_bytes() == built.image.archives[arch].read_bytes()
    # One SBOM per platform, reproducible, naming the real binary and the base image.
    for m, arch in zip(img["manifests"], ARCHES):
        first = Path(built.request["output_dir"]) / m["sbom"]["filename"]
        assert (tmp_path / "again" / first.name).read_bytes() == first.read_bytes()
        assert (m["sbom"]["sha256"], m["sbom"]["size_bytes"]) == catalog.file_digest(first)
        bom = json.loads(first.read_text())
        assert bom["metadata"]["component"]["hashes"][0]["content"] == m["digest"].split(":")[1]
        files = [c for c in bom["components"] if c["type"] == "file"]
        assert [f["name"] for f in files] == ["/usr/bin/node_exporter"]
        assert files[0]["hashes"][0]["content"] == catalog.file_digest(built.binaries[arch])[0]
        bases = [c for c in bom["components"] if c["type"] == "container"]
        assert [b["name"] for b in bases] == ["debian/libc6"]


def test_skopeo_finds_both_platforms(built: Built) -> None:
    ref = f"oci:{built.layout}:{built.tag}"
    raw = skopeo("inspect", "--raw", ref).stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == built.image.digest
    index = json.loads(raw)
    assert index["mediaType"] == OCI_INDEX
    assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]] == [
        ("linux", "amd64"),
        ("linux", "arm64"),
    ]
    for arch, variant in (("amd64", []), ("arm64", ["--override-variant", "v8"])):
        info = json.loads(skopeo("--override-arch", arch, *variant, "inspect", ref).stdout)
        assert info["Architecture"] == arch
        assert info["Labels"]["org.opencontainers.image.title"] == "node_exporter"
        assert info["Labels"]["org.opencontainers.image.created"] == built.doc["build_date"]
        assert len(info["Layers"]) == 3  # libc6 base, system, binaries
        config = json.loads(skopeo("--override-arch", arch, *variant, "inspect", "--config", ref).stdout)
        assert config["config"]["User"] == f"{NONROOT_UID}:{NONROOT_GID}"
        assert config["config"]["ExposedPorts"] == {"9100/tcp": {}}


@pytest.mark.parametrize("arch", ARCHES)
def test_umoci_unpacks_each_platform(built: Built, tmp_path: Path, arch: str) -> None:
    bundle = tmp_path / "bundle"
    rootless = ["--rootless"] if os.geteuid() != 0 else []
    run(
        ["umoci", "unpack", *rootless, "--image", f"{built.layout}:{built.tag}-{arch}", bundle],
        env=base_env(),
        what="umoci unpack",
    )
    rootfs = bundle / "rootfs"
    binary = rootfs / "usr/bin/node_exporter"
    assert binary.read_bytes() == built.binaries[arch].read_bytes()
    assert (binary.stat().st_mode & 0o777) == 0o755
    assert "node_exporter:x:65532:65532:" in (rootfs / "etc/passwd").read_text()
    home = rootfs / "var/lib/node_exporter"
    if not rootless:
        assert (home.stat().st_uid, home.stat().st_gid) == (65532, 65532)
        assert binary.stat().st_uid == 0
    spec = json.loads((bundle / "config.json").read_text())
    assert spec["process"]["user"]["uid"] == 65532
    assert spec["process"]["args"] == ["/usr/bin/node_exporter"]
    libdir = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[arch]
    assert (rootfs / "lib" / libdir / "libc.so.6").is_file()


# --- a real Docker engine ----------------------------------------------------------------------


def wait_for_metrics(url: str, container: Any, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"the container exited:\n{container.logs().decode(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode("utf-8", "replace")
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer:\n{container.logs().decode(errors='replace')[-4000:]}")
            time.sleep(0.3)


def proc_ids(pid: int) -> tuple[list[int], list[int]]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return [int(x) for x in fields["Uid"].split()], [int(x) for x in fields["Gid"].split()]


def test_docker_loads_and_runs_the_amd64_image(built: Built, engine: Any) -> None:
    amd64 = next(p for p in built.image.platforms if p.arch == "amd64")
    with open(built.image.archives["amd64"], "rb") as f:
        (image,) = engine.images.load(f.read())
    assert image.id == amd64.config_digest  # the engine's image id is our config digest
    assert image.tags == [f"127.0.0.1/{REPOSITORY}:{built.tag}"]
    inspected = engine.api.inspect_image(image.id)
    assert inspected["Config"]["User"] == "65532:65532"
    assert inspected["Config"]["Entrypoint"] == ["/usr/bin/node_exporter"]
    assert inspected["Os"] == "linux" and inspected["Architecture"] == "amd64"
    assert inspected["Config"]["Labels"]["org.opencontainers.image.version"] == "1.11.0"

    version = engine.containers.run(image.id, ["--version"], network_mode="none", remove=True, stderr=True)
    assert b"node_exporter, version 1.5.0" in version

    port = free_port()
    container = engine.containers.run(
        image.id,
        [f"--web.listen-address=127.0.0.1:{port}"],
        network_mode="host",
        detach=True,
    )
    try:
        body = wait_for_metrics(f"http://127.0.0.1:{port}/metrics", container)
        assert "node_exporter_build_info{" in body
        container.reload()
        assert container.attrs["Config"]["User"] == "65532:65532"
        uids, gids = proc_ids(container.attrs["State"]["Pid"])
        assert uids == [65532] * 4 and gids == [65532] * 4  # real, effective, saved, fs
        top = container.top(ps_args="-o pid,uid,gid,comm")  # `docker top`
        assert top["Titles"] == ["PID", "UID", "GID", "COMMAND"]
        assert [row[1:3] for row in top["Processes"]] == [["65532", "65532"]]
    finally:
        container.remove(force=True)


def test_the_manifests_smoke_test_through_the_engine_api(built: Built, daemon: Any) -> None:
    """`hub image-validate`: the manifest's validation (GET /metrics, expect
    node_exporter_build_info) and the user check, through the Docker SDK."""
    port = free_port()
    manifest = load_manifest(built.request["manifest"])
    result = validate_image(
        built.image.archives["amd64"],
        manifest,
        docker_url=daemon.url,
        port=port,
        args=[f"--web.listen-address=127.0.0.1:{port}"],
    )
    assert result["user"] == "65532:65532" and result["expect"] == "node_exporter_build_info"
    assert result["architecture"] == "amd64"
    # a failing smoke test is a clear error: the exporter listens elsewhere than asked
    other = free_port()
    with pytest.raises(HubError, match="did not answer"):
        validate_image(
            built.image.archives["amd64"],
            manifest,
            docker_url=daemon.url,
            port=other,
            args=[f"--web.listen-address=127.0.0.1:{free_port()}"],
            timeout=5,
        )


# --- a real registry ---------------------------------------------------------------------------


def test_push_by_digest_and_pull_back(built: Built, local_registry: Any, engine: Any, tmp_path: Path) -> None:
    host = local_registry.host
    # 1 MiB chunks: the 5 MB binaries layers go up in several PATCHes, which the registry reassembles
    digest = push_layout(
        built.layout,
        registry=host,
        repository=REPOSITORY,
        tags=[built.tag, "latest"],
        insecure=True,
        chunk_size=1 << 20,
    )
    assert digest == built.image.digest
    by_digest = f"docker://{host}/{REPOSITORY}@{digest}"
    raw = skopeo("inspect", "--tls-verify=false", "--raw", by_digest).stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == digest
    for tag in (built.tag, "latest"):
        info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{host}/{REPOSITORY}:{tag}").stdout)
        assert info["Digest"] == digest
    pulled = tmp_path / "pulled"
    skopeo("copy", "--all", "--src-tls-verify=false", by_digest, f"oci:{pulled}:copy")
    (entry,) = json.loads((pulled / "index.json").read_text())["manifests"]
    assert entry["digest"] == digest
    for p in built.image.platforms:  # every manifest and blob identical
        for d in (p.digest, p.config_digest):
            assert (pulled / "blobs/sha256" / d.split(":")[1]).read_bytes() == (
                built.layout / "blobs/sha256" / d.split(":")[1]
            ).read_bytes()
    # the engine pulls the index by digest and picks linux/amd64 (127.0.0.0/8 is insecure by default)
    image = engine.images.pull(f"{host}/{REPOSITORY}@{digest}")
    amd64 = next(p for p in built.image.platforms if p.arch == "amd64")
    assert image.id == amd64.config_digest
    assert f"{host}/{REPOSITORY}@{digest}" in image.attrs["RepoDigests"]


def test_push_with_credentials_from_the_environment(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with registry(tmp_path / "auth-registry", auth=("hub", "s3cret")) as reg:
        common = [
            "image-push",
            "--layout",
            str(built.layout),
            "--registry",
            reg.host,
            "--repository",
            REPOSITORY,
            "--insecure",
        ]
        args = [*common, "--tag", built.tag]
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
        monkeypatch.delenv("HUB_REGISTRY_USER", raising=False)
        monkeypatch.delenv("HUB_REGISTRY_PASSWORD", raising=False)
        assert cli.main(args) == 2
        assert "HTTP 401" in capsys.readouterr().err
        monkeypatch.setenv("HUB_REGISTRY_USER", "hub")
        monkeypatch.setenv("HUB_REGISTRY_PASSWORD", "s3cret")
        assert cli.main(args) == 0
        assert capsys.readouterr().out.strip() == f"{reg.host}/{REPOSITORY}@{built.image.digest}"
        info = json.loads(
            skopeo(
                "inspect",
                "--tls-verify=false",
                "--creds",
                "hub:s3cret",
                f"docker://{reg.host}/{REPOSITORY}:{built.tag}",
            ).stdout
        )
        assert info["Digest"] == built.image.digest
        # the docker config's auths work the same way
        monkeypatch.delenv("HUB_REGISTRY_USER")
        monkeypatch.delenv("HUB_REGISTRY_PASSWORD")
        config = tmp_path / "docker-config"
        config.mkdir()
        (config / "config.json").write_text(
            json.dumps({"auths": {reg.host: {"auth": base64.b64encode(b"hub:s3cret").decode()}}})
        )
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        assert cli.main([*common, "--tag", "again"]) == 0
        info = json.loads(
            skopeo(
                "inspect", "--tls-verify=false", "--creds", "hub:s3cret", f"docker://{reg.host}/{REPOSITORY}:again"
            ).stdout
        )
        assert info["Digest"] == built.image.digest


# --- arm64 -------------------------------------------------------------------------------------


def test_arm64_image_holds_an_aarch64_binary_that_runs(built: Built, tmp_path: Path) -> None:
    arm = next(p for p in built.image.platforms if p.arch == "arm64")
    manifest = json.loads((built.layout / "blobs/sha256" / arm.digest.split(":")[1]).read_bytes())
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    for layer in manifest["layers"]:  # apply the layers in order (no whiteouts in these)
        with tarfile.open(built.layout / "blobs/sha256" / layer["digest"].split(":")[1]) as tar:
            tar.extractall(rootfs, numeric_owner=True)  # noqa: S202 - our own, checked layout
    binary = rootfs / "usr/bin/node_exporter"
    head = binary.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1  # 64-bit, little-endian
    assert int.from_bytes(head[18:20], "little") == ELF_AARCH64 != ELF_X86_64
    # the image's own libc6:arm64 base is the sysroot
    out = run(
        ["qemu-aarch64-static", "-L", rootfs, binary, "--version"],
        env=base_env(),
        what="running the arm64 binary under qemu",
    )
    assert "node_exporter, version 1.5.0" in out.stdout + out.stderr


# --- size --------------------------------------------------------------------------------------


def test_static_style_image_size_goal(built: Built, tmp_path: Path) -> None:
    """FROM scratch (as for upstream's static binaries): each platform's image is at most the
    binary's size plus 1 MiB (compressed pull size, and uncompressed layers too)."""
    exporter = tmp_path / "ws" / "node_exporter"
    exporter.mkdir(parents=True)
    shutil.copy(find_repo_root() / "exporters/node_exporter/manifest.yaml", exporter / "manifest.yaml")
    shutil.copy(Path(built.request["lock"]), exporter / "upstream.lock.json")
    request = {k: v for k, v in built.request.items() if not k.startswith("base_")}
    request.update(
        manifest=str(exporter / "manifest.yaml"),
        lock=str(exporter / "upstream.lock.json"),
        output_dir=str(tmp_path / "out"),
    )
    image, doc_path = build(request)
    doc = json.loads(doc_path.read_text())
    for p, entry in zip(image.platforms, doc["images"][0]["manifests"]):
        binary = built.binaries[p.arch].stat().st_size
        assert entry["size_bytes"] <= binary + (1 << 20)
        tar_bytes = sum(layer.tar_size for layer in p.layers if isinstance(layer, Layer))
        assert tar_bytes <= binary + (1 << 20)
