"""One ``hub image`` request: the JSON the Pants rule writes, checked, then built.

A *request* names the exporter's manifest and lock, one directory of binaries per arch, the
registry and repository the image is for, and the output directory; optionally the tag
(default: the version, ``+`` replaced by ``_``), a base layout and digest, and a CA bundle
(keys in docs/images.md). Relative paths are relative to the caller's base directory. The
outputs, under ``output_dir``: ``oci/`` (the layout), ``<exporter>-<arch>.docker.tar`` (one
``docker load`` archive per platform), the per-platform SBOMs and ``docker.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any, Mapping

from hub.common import files
from hub.common import matrix
from hub.common import schemas
from hub.common.errors import HubError
from hub.image.artifact import docker_artifact, write_image_sbom
from hub.image.build import BuiltImage, build_image, default_ca_bundle
from hub.image.docker_archive import write_docker_archive
from hub.image.registry import REGISTRY_RE, REPOSITORY_RE, TAG_RE

REQUEST_KEYS = ("manifest", "lock", "binaries", "registry", "repository", "output_dir")
OPTIONAL_KEYS = ("tag", "base_layout", "base_digest", "ca_bundle")


def build(request: Mapping[str, Any], *, base_dir: str = ".") -> tuple[BuiltImage, Path]:
    """Runs one ``hub image`` request (keys in docs/images.md); returns the image and the
    path of docker.json. Relative paths in the request are relative to ``base_dir``."""
    from hub.manifest.load import load_manifest
    from hub.upstream.lock import check_lock, read_lock

    missing = [k for k in REQUEST_KEYS if k not in request]
    unknown = sorted(set(request) - set(REQUEST_KEYS) - set(OPTIONAL_KEYS))
    if missing or unknown:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
        raise HubError(f"image request: {'; '.join(problems)}")

    def path(key: str) -> str:
        value = request[key]
        if not isinstance(value, str) or not value:
            raise HubError(f"image request: {key} must be a path")
        return os.path.join(base_dir, value)

    registry, repository = request["registry"], request["repository"]
    if not isinstance(registry, str) or not REGISTRY_RE.match(registry):
        raise HubError(f"image request: registry {registry!r}: expected a host name with an optional :port")
    if not isinstance(repository, str) or not REPOSITORY_RE.match(repository):
        raise HubError(
            f"image request: repository {repository!r}: expected lowercase path components like org/node_exporter"
        )
    manifest = load_manifest(path("manifest"))
    lock = read_lock(path("lock"))
    lock_problems = check_lock(manifest, lock)
    if lock_problems:
        raise HubError("\n".join(e.render(request["lock"]) for e in lock_problems))
    assert lock is not None
    tag = request.get("tag") or manifest.clean_version.replace("+", "_")  # no '+' in a tag
    if not TAG_RE.match(tag):
        raise HubError(f"image request: tag {tag!r} is not a valid tag")
    binaries = request["binaries"]
    if not isinstance(binaries, dict) or not all(isinstance(v, str) for v in binaries.values()):
        raise HubError("image request: binaries must map an arch to a directory")
    unknown_archs = sorted(set(binaries) - set(matrix.ARCHES))
    if unknown_archs:
        raise HubError(f"image request: binaries: unknown arch(es) {', '.join(unknown_archs)}")
    ca_bytes = ca_id = None
    if manifest.docker is not None and manifest.docker.ca_certificates:
        if request.get("ca_bundle"):
            try:
                ca_bytes = Path(path("ca_bundle")).read_bytes()
            except OSError as e:
                raise HubError(f"{request['ca_bundle']}: cannot read the CA bundle ({e.strerror})")
        else:
            ca_bytes = default_ca_bundle()[0]
        if b"-----BEGIN CERTIFICATE-----" not in ca_bytes:
            raise HubError("the CA bundle holds no PEM certificate")
        ca_id = hashlib.sha256(ca_bytes).hexdigest()
    out = Path(path("output_dir"))
    out.mkdir(parents=True, exist_ok=True)
    built = build_image(
        manifest,
        source_date=lock.source_date,
        binaries={a: os.path.join(base_dir, d) for a, d in binaries.items()},
        out_dir=out / "oci",
        tag=tag,
        base_layout=path("base_layout") if request.get("base_layout") else None,
        base_digest=request.get("base_digest"),
        ca_bundle=ca_bytes,
    )
    repo_tag = f"{registry}/{repository}:{tag}"
    archives = {}
    for p in built.platforms:
        archives[p.arch] = write_docker_archive(
            built, p.arch, out / f"{manifest.name}-{p.arch}.docker.tar", repo_tag, mtime=lock.source_date_epoch
        )
    built = dataclasses.replace(built, archives=archives)
    assert manifest.docker is not None  # build_image refuses a manifest without a docker section
    base_ref = manifest.docker.base_image
    sboms = {
        p.arch: write_image_sbom(
            manifest,
            lock,
            p,
            out,
            registry=registry,
            repository=repository,
            tag=tag,
            base_image=base_ref,
            binaries_dir=os.path.join(base_dir, binaries[p.arch]),
        )
        for p in built.platforms
    }
    artifact = docker_artifact(
        manifest,
        lock,
        built,
        registry=registry,
        repository=repository,
        source_date=lock.source_date,
        base_name=base_ref,
        ca_bundle=ca_id,
        sboms=sboms,
    )
    schemas.validate(artifact, "docker", what="docker.json")
    json_path = out / "docker.json"
    files.write_json(json_path, artifact)
    return built, json_path
