"""`hub` commands of the packaging layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hub.common import files
from hub.common.build_request import read_request
from hub.common.options import add_command, add_request
from hub.manifest.load import find_manifests, load_manifest
from hub.packaging import exposure
from hub.packaging.build import build_all
from hub.packaging.buildinfo import build_info_json, read_build_info


def add_parsers(subparsers: Any) -> None:
    add_request(add_command(subparsers, "package", run_build))
    p = add_command(subparsers, "buildinfo", run_buildinfo)
    p.add_argument("binaries", nargs="+", metavar="BINARY")
    p = add_command(subparsers, "exposure-doc", run_exposure_doc)
    p.add_argument("exporters_dir", metavar="EXPORTERS_DIR", help="the exporters/ directory")


def run_build(args: argparse.Namespace) -> int:
    """build one RPM or DEB with nfpm and write its artifact JSON

    Reads a JSON request (manifest, lock, kind, arch, dist, binaries_dir, nfpm, output_dir) and
    writes <output_dir>/<package file> and <artifact id>.json. For DEBs, `dists` (a list, or
    "all") instead of `dist` builds those dists of the arch, each equal payload compressed once.
    """
    for package, artifact in build_all(read_request(args.request)):
        print(package)
        print(artifact)
    return 0


def run_buildinfo(args: argparse.Namespace) -> int:
    """print the Go build info of binaries (Go version, modules, settings) as JSON

    Reads the Go build info from each ELF binary, like `go version -m`; null for a binary
    without one.
    """
    out = {b: build_info_json(read_build_info(b)) for b in args.binaries}
    sys.stdout.write(files.dumps_json(out))
    return 0


def run_exposure_doc(args: argparse.Namespace) -> int:
    """print docs/unit-exposure.md: systemd-analyze security of every exporter's unit

    Renders each exporter's unit (as its Debian 12 package installs it) and scores it with
    this machine's systemd-analyze (--offline): the page says which systemd scored it.
    """
    manifests = [load_manifest(p) for p in find_manifests([args.exporters_dir])]
    sys.stdout.write(exposure.render(exposure.exposures(manifests), exposure.systemd_version()))
    return 0
