"""What the layers' `hub` commands (hub/<layer>/cli.py) declare alike, written once.

`add_command` makes a command's parser from the function that runs it (hub.cli calls
`args.run(args)`) and that function's docstring. The other helpers declare the options that
several commands share, so that one flag keeps one spelling, metavar and help text wherever it
appears.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

Run = Callable[[argparse.Namespace], int]

MANIFESTS_HELP = "manifest.yaml files, exporter directories, or a directory of them (exporters/)"


def add_command(
    subparsers: Any, name: str, run: Run, *, help: str | None = None, description: str | None = None
) -> argparse.ArgumentParser:
    """The parser of the command `name`, which `run` runs.

    Without `help`, the texts come from `run`'s docstring, so that a command is documented once:
    its first line is the help (listed by `hub --help`), the paragraph after it the description
    (`hub <name> --help`, unless `description` is given; argparse wraps it anew)."""
    if help is None:
        summary, _, rest = (run.__doc__ or "").strip().partition("\n")
        help = summary.strip()
        description = description or " ".join(rest.split()) or None
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help, description=description)
    parser.set_defaults(run=run)
    return parser


def add_manifests(parser: argparse.ArgumentParser, *, option: bool = False) -> None:
    """The manifests a command reads (hub.manifest.load.find_manifests): positional arguments,
    or `--manifests` for a command that takes another list of paths too."""
    if option:
        parser.add_argument("--manifests", nargs="+", required=True, metavar="PATH", help=MANIFESTS_HELP)
    else:
        parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help=MANIFESTS_HELP)


def add_request(parser: argparse.ArgumentParser) -> None:
    """`--request FILE` of a build command (hub.common.build_request)."""
    parser.add_argument("--request", required=True, metavar="FILE", help="the request JSON")


def add_timeout(parser: argparse.ArgumentParser, default: float) -> None:
    """`--timeout SECONDS` of a command that talks HTTP."""
    parser.add_argument(
        "--timeout", type=float, default=default, metavar="SECONDS", help=f"per HTTP request (default {default:g})"
    )


def add_extra_public_keys(parser: argparse.ArgumentParser) -> None:
    """`--extra-public-key FILE` of a command that signs a site (repeatable)."""
    parser.add_argument(
        "--extra-public-key",
        action="append",
        default=[],
        metavar="FILE",
        help="another armored public key to ship in monitoring-hub.asc (key rotation)",
    )
