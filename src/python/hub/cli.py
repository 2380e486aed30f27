"""`hub`: the engine's command line, the same operations the Pants rules run, for debugging.

Each layer keeps its commands in its own ``cli`` module (``hub/<layer>/cli.py``): thin
argparse shims over the layer's library functions, which never see argv. A command is declared
from the function that runs it, whose docstring is its help, with the options several commands
share (hub.common.options). A run imports only the layer that defines its command: hundreds of
sandboxed processes start ``hub``, and each skips the other layers' imports. Bad input
(HubError) prints a clear message and exits 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import time
from typing import Iterable, Sequence

from hub.common.errors import HubError

# Every command and the layer CLI module that defines it, in help order: the one place where
# module names are strings (so that a run imports only its own layer).
COMMANDS = {
    "validate": "hub.manifest.cli",
    "matrix": "hub.manifest.cli",
    "exporters-doc": "hub.manifest.cli",
    "manifest-doc": "hub.manifest.cli",
    "update-lock": "hub.upstream.cli",
    "fetch": "hub.upstream.cli",
    "extract": "hub.upstream.cli",
    "mirror": "hub.upstream.cli",
    "update-upstreams": "hub.upstream.cli",
    "package": "hub.packaging.cli",
    "buildinfo": "hub.packaging.cli",
    "exposure-doc": "hub.packaging.cli",
    "image": "hub.image.cli",
    "image-push": "hub.image.cli",
    "image-validate": "hub.image.cli",
    "image-base": "hub.image.cli",
    "catalog": "hub.catalog.cli",
    "state": "hub.catalog.cli",
    "packages": "hub.repos.cli",
    "yum-entry": "hub.repos.cli",
    "yum-repo": "hub.repos.cli",
    "apt-entry": "hub.repos.cli",
    "apt-repo": "hub.repos.cli",
    "repo-files": "hub.repos.cli",
    "repo-merge": "hub.repos.cli",
    "sign": "hub.repos.cli",
    "sign-site": "hub.repos.cli",
    "portal": "hub.site.cli",
    "site": "hub.site.cli",
    "publish": "hub.site.cli",
}
# Set by benchmarks: print the command's own wall and CPU time (children included) as JSON on
# stderr, without interpreter start-up.
TIMING_ENV = "HUB_REPORT_TIMING"


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``commands`` (default: all), importing only the layers that define them."""
    wanted = COMMANDS if commands is None else commands
    parser = argparse.ArgumentParser(prog="hub", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in dict.fromkeys(COMMANDS[c] for c in wanted):
        importlib.import_module(module).add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser([command] if command else None).parse_args(argv)
    start, cpu = time.perf_counter(), _cpu_with_children()
    try:
        return int(args.run(args) or 0)
    except HubError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if os.environ.get(TIMING_ENV):
            work = {"work_wall": time.perf_counter() - start, "work_cpu": _cpu_with_children() - cpu}
            print(json.dumps(work), file=sys.stderr)


def _cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (forked workers, nfpm)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
