"""`hub`: the engine's command line, the same operations the Pants rules run, for debugging.

Each subcommand lives in the module of its concern and registers itself through
``add_parser(subparsers)``; the module's ``run(args)`` returns the exit code.
Bad input (HubError) prints a clear message and exits 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from hub.common.errors import HubError

# Modules that contribute subcommands, in help order.
COMMAND_MODULES = (
    "hub.manifest.load",
    "hub.upstream.lock",
    "hub.upstream.archive",
    "hub.packaging.build",
    "hub.packaging.sbom",
    "hub.upstream.mirror",
    "hub.image.build",
    "hub.catalog.aggregate",
    "hub.site.portal",
    "hub.repos.yum",
    "hub.repos.apt",
    "hub.repos.files",
    "hub.repos.merge",
    "hub.repos.sign",
    "hub.site.publish",
    "hub.site.assemble",
    "hub.manifest.exporters_doc",
    "hub.manifest.schema_doc",
    "hub.catalog.state",
    "hub.upstream.bump",
)


# Commands the build runs once per package: import only their module, not every concern
# (that saves about 0.3 s of start-up in each of hundreds of sandboxed processes).
HOT_COMMANDS = {
    "extract": "hub.upstream.archive",
    "package": "hub.packaging.build",
    "image": "hub.image.build",
    "yum-entry": "hub.repos.yum",
    "apt-entry": "hub.repos.apt",
}


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    hot = HOT_COMMANDS.get(argv[0]) if argv else None
    args = build_parser((hot,) if hot else COMMAND_MODULES).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except HubError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
