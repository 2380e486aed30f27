"""`hub` commands of the manifest layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hub.common.options import add_command
from hub.manifest import exporters_doc, schema_doc
from hub.manifest.exporters_doc import REGENERATE, load_exporters
from hub.manifest.load import lint_errors, lint_warnings, load_manifest, validate_manifest_file


def add_parsers(subparsers: Any) -> None:
    p = add_command(subparsers, "validate", run_validate)
    p.add_argument("files", nargs="+", metavar="FILE", help="manifest.yaml files")

    p = add_command(subparsers, "matrix", run_matrix)
    p.add_argument("file", metavar="FILE", help="a manifest.yaml")

    p = add_command(subparsers, "exporters-doc", run_exporters_doc, description=exporters_doc.__doc__.splitlines()[0])
    p.add_argument("exporters_dir", metavar="EXPORTERS_DIR", help="the exporters/ directory")
    p.add_argument(
        "--check",
        metavar="FILE",
        help="compare FILE with the generated page instead of printing it; exit 1 if it is stale",
    )

    p = add_command(subparsers, "manifest-doc", run_schema_doc)
    p.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from what would be printed")


def run_validate(args: argparse.Namespace) -> int:
    """check manifests against the schema and the semantic rules

    Prints one line per problem (file: field: what was expected); exits 1 if any.
    """
    failed = 0
    for file in args.files:
        errors = validate_manifest_file(file)
        for e in errors:
            print(e.render(file))
        if errors:
            failed += 1
            continue
        manifest = load_manifest(file)
        required = lint_errors(manifest)
        for e in required:
            print(e.render(file))
        if required:
            failed += 1
            continue
        for w in lint_warnings(manifest):
            print(f"warning: {w.render(file)}", file=sys.stderr)
    if failed:
        return 1
    n = len(args.files)
    print(f"{n} manifest{'s' if n != 1 else ''} OK")
    return 0


def run_matrix(args: argparse.Namespace) -> int:
    """print a manifest's artifact ids as JSON"""
    manifest = load_manifest(args.file)
    print(json.dumps([a.id for a in manifest.matrix()]))
    return 0


def run_exporters_doc(args: argparse.Namespace) -> int:
    """print docs/exporters.md (the table of exporters) from the manifests"""
    text = exporters_doc.render(load_exporters(args.exporters_dir))
    if args.check is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.check, encoding="utf-8") as f:
            current = f.read()
    except OSError as e:
        print(f"{args.check}: cannot read: {e.strerror or e}; generate it with `{REGENERATE}`", file=sys.stderr)
        return 1
    if current != text:
        print(f"{args.check} is stale: regenerate it with `{REGENERATE}`", file=sys.stderr)
        return 1
    print(f"{args.check} is up to date")
    return 0


def run_schema_doc(args: argparse.Namespace) -> int:
    """print docs/manifest.md from the manifest schema"""
    text = schema_doc.render()
    if args.check:
        if Path(args.check).read_text() != text:
            print(f"{args.check} is stale: regenerate it with `hub manifest-doc > {args.check}`")
            return 1
        return 0
    print(text, end="")
    return 0
