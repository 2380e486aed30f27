"""`hub` commands of the image layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hub.common import matrix
from hub.common.build_request import read_request
from hub.common.errors import HubError
from hub.common.options import add_command, add_request
from hub.image.build import write_base_layout
from hub.image.registry import REGISTRY_RE, REPOSITORY_RE, push_layout, registry_credentials
from hub.image.request import build
from hub.image.validate import validate_image


def add_parsers(subparsers: Any) -> None:
    add_request(add_command(subparsers, "image", run_image))

    p = add_command(subparsers, "image-push", run_push)
    p.add_argument("--layout", required=True, metavar="DIR", help="the OCI image layout (out/oci)")
    p.add_argument("--registry", required=True, help="registry host[:port]")
    p.add_argument("--repository", required=True, help="repository, e.g. monitoring-hub/node_exporter")
    p.add_argument("--tag", action="append", default=[], help="tag to apply after the push (repeatable)")
    p.add_argument("--ref", help="which image of the layout (its ref.name); default: the multi-arch index")
    p.add_argument("--insecure", action="store_true", help="plain HTTP (a local test registry)")

    p = add_command(subparsers, "image-validate", run_validate)
    p.add_argument("--archive", required=True, help="an <exporter>-<arch>.docker.tar for this host's platform")
    p.add_argument("--manifest", required=True, help="the exporter's manifest.yaml")
    p.add_argument("--docker-host", help="e.g. unix:///run/docker.sock")
    p.add_argument("--port", type=int, help="port to fetch from (default: artifacts.docker.port)")
    p.add_argument("--arg", action="append", default=[], help="argument replacing the image's Cmd (repeatable)")

    p = add_command(subparsers, "image-base", run_base)
    p.add_argument("--root", action="append", required=True, metavar="ARCH=DIR", help="e.g. amd64=libc6-amd64")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--source-date", required=True, help="timestamp of every file, e.g. 2023-04-09T00:00:00Z")
    p.add_argument("--tag", default="base")


def run_image(args: argparse.Namespace) -> int:
    """build the multi-arch OCI image of an exporter and its docker.json

    Reads a JSON request (manifest, lock, binaries {arch: dir}, registry, repository,
    output_dir; optional tag, base_layout, base_digest, ca_bundle) and writes <output_dir>/oci/
    (OCI image layout), <exporter>-<arch>.docker.tar (docker load) and docker.json.
    """
    built, json_path = build(read_request(args.request))
    print(f"{built.layout_dir} {built.digest}")
    for path in built.archives.values():
        print(path)
    print(json_path)
    return 0


def run_push(args: argparse.Namespace) -> int:
    """push an OCI layout to a registry by digest, then tag it

    Credentials: HUB_REGISTRY_USER and HUB_REGISTRY_PASSWORD, else the docker config
    ($DOCKER_CONFIG or ~/.docker/config.json: credHelpers, auths, credsStore).
    """
    if not REGISTRY_RE.match(args.registry):
        raise HubError(f"--registry {args.registry!r}: expected host[:port]")
    if not REPOSITORY_RE.match(args.repository):
        raise HubError(f"--repository {args.repository!r}: expected lowercase path components")
    digest = push_layout(
        args.layout,
        registry=args.registry,
        repository=args.repository,
        tags=args.tag,
        ref=args.ref,
        insecure=args.insecure,
        credentials=registry_credentials(args.registry),
        log=lambda s: print(s, file=sys.stderr),
    )
    print(f"{args.registry}/{args.repository}@{digest}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    """load a docker archive into a Docker engine, run it and fetch its metrics (Docker SDK)

    The manifest's artifacts.docker.validation smoke test, with the host network; the engine
    is --docker-host, else DOCKER_HOST.
    """
    from hub.manifest.load import load_manifest

    result = validate_image(
        args.archive, load_manifest(args.manifest), docker_url=args.docker_host, port=args.port, args=args.arg
    )
    print(json.dumps(result, sort_keys=True))
    return 0


def run_base(args: argparse.Namespace) -> int:
    """build a base image OCI layout from unpacked root directories, one per arch"""
    roots = {}
    for item in args.root:
        arch, sep, directory = item.partition("=")
        if not sep or arch not in matrix.ARCHES:
            raise HubError(f"--root {item!r}: expected ARCH=DIR with ARCH one of {', '.join(matrix.ARCHES)}")
        roots[arch] = directory
    print(write_base_layout(args.out, roots, source_date=args.source_date, tag=args.tag))
    return 0
