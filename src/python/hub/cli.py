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

from hub.errors import HubError

# Modules that contribute subcommands, in help order.
COMMAND_MODULES = (
    "hub.manifest",
    "hub.fetch",
    "hub.archive",
    "hub.package",
    "hub.sbom",
    "hub.mirror",
    "hub.oci",
    "hub.aggregate",
    "hub.portal",
    "hub.repo_yum",
    "hub.repo_apt",
    "hub.repo_files",
    "hub.repo_site",
    "hub.sign",
    "hub.publish",
    "hub.site",
    "hub.exporters_doc",
    "hub.schema_doc",
    "hub.state",
    "hub.upstream",
)


# Commands the build runs once per package: import only their module, not every concern
# (that saves about 0.3 s of start-up in each of hundreds of sandboxed processes).
HOT_COMMANDS = {
    "extract": "hub.archive",
    "package": "hub.package",
    "image": "hub.oci",
    "yum-entry": "hub.repo_yum",
    "apt-entry": "hub.repo_apt",
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
