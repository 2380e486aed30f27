"""`hub` commands of the packaging layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hub.common import files
from hub.common.errors import HubError
from hub.packaging.build import build
from hub.packaging.buildinfo import build_info_json, read_build_info


def add_parsers(subparsers: Any) -> None:
    _add_build_parsers(subparsers)
    _add_buildinfo_parsers(subparsers)


def _add_build_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "package",
        help="build one RPM or DEB with nfpm and write its artifact JSON",
        description="Reads a JSON request (manifest, lock, kind, arch, dist, binaries_dir, "
        "nfpm, output_dir) and writes <output_dir>/<package file> and <artifact id>.json.",
    )
    p.add_argument("--request", required=True, metavar="FILE", help="the request JSON")
    p.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    try:
        request = json.loads(Path(args.request).read_text())
    except (OSError, ValueError) as e:
        raise HubError(f"{args.request}: cannot read the request ({e})")
    if not isinstance(request, dict):
        raise HubError(f"{args.request}: expected a JSON object")
    package, artifact = build(request)
    print(package)
    print(artifact)
    return 0


def _add_buildinfo_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "buildinfo",
        help="print the Go build info of binaries (Go version, modules, settings) as JSON",
        description="Reads the Go build info from each ELF binary, like `go version -m`; "
        "null for a binary without one.",
    )
    p.add_argument("binaries", nargs="+", metavar="BINARY")
    p.set_defaults(run=run_buildinfo)


def run_buildinfo(args: argparse.Namespace) -> int:
    out = {b: build_info_json(read_build_info(b)) for b in args.binaries}
    sys.stdout.write(files.dumps_json(out))
    return 0
