"""`hub` commands of the catalog layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hub.common import files
from hub.common.options import add_command, add_manifests, add_timeout
from hub.catalog.aggregate import build_catalog, read_artifacts
from hub.catalog.state import (
    DEFAULT_TIMEOUT,
    CatalogReader,
    compare_all,
    format_table,
    report_json,
)
from hub.manifest.load import find_manifests, load_manifest


def add_parsers(subparsers: Any) -> None:
    p = add_command(subparsers, "catalog", run_aggregate)
    add_manifests(p, option=True)
    p.add_argument(
        "--artifacts",
        nargs="*",
        default=[],
        metavar="DIR",
        help="directories searched (recursively) for artifact JSONs; may be the output catalog itself",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="the catalog directory (<site>/catalog)")
    p.add_argument(
        "--require-pinned",
        action="store_true",
        help="an exporter whose upstream is not pinned is an error, not a warning",
    )

    p = add_command(subparsers, "state", run_state)
    add_manifests(p)
    p.add_argument(
        "--catalog",
        required=True,
        metavar="DIR|URL",
        help="the deployed site's root (or its catalog/ directory): a directory or an http(s) URL",
    )
    p.add_argument("--json", action="store_true", help="print the machine-readable report instead of the table")
    p.add_argument("--output", metavar="FILE", help="also write the JSON report to FILE")
    p.add_argument(
        "--allow-downgrade",
        action="store_true",
        help="publish exporters whose manifest is older than the deployed version",
    )
    p.add_argument(
        "--empty-ok",
        action="store_true",
        help="a catalog without index.json is empty (every exporter is new) instead of an error",
    )
    add_timeout(p, DEFAULT_TIMEOUT)


def run_aggregate(args: argparse.Namespace) -> int:
    """aggregate artifact JSONs into the site's catalog (metadata.json per exporter, index.json)

    Compares each manifest's declared matrix with the artifact JSONs found and writes
    <out>/<exporter>/{<artifact id>.json,metadata.json} and <out>/index.json, atomically. A
    declared artifact without a JSON is 'missing'; one built for another version is 'stale'.
    """
    manifests = [load_manifest(p) for p in find_manifests(args.manifests)]
    artifacts = read_artifacts(args.artifacts)
    index = build_catalog(manifests, artifacts, args.out, require_pinned=args.require_pinned)
    t = index["totals"]
    print(
        f"{t['exporters']} exporters, {t['total']} artifacts: {t['success']} success, "
        f"{t['stale']} stale, {t['failed']} failed, {t['missing']} missing -> {args.out}"
    )
    return 0


def run_state(args: argparse.Namespace) -> int:
    """compare manifests with a deployed catalog: what to build and publish

    Per exporter: new, upgrade, downgrade (refused unless --allow-downgrade), rebuild (same
    version, a declared artifact is failed or missing) or up-to-date. Versions are compared as
    semantic versions. Exit codes: 0 fine, 1 a downgrade was refused, 2 bad input or an
    unreachable catalog.
    """
    manifests = [load_manifest(p) for p in find_manifests(args.manifests)]
    reader = CatalogReader(args.catalog, timeout=args.timeout)
    results = compare_all(manifests, reader, allow_downgrade=args.allow_downgrade, empty_ok=args.empty_ok)
    report = report_json(results, args.catalog)
    if args.output:
        files.write_json(args.output, report, durable=True)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_table(results))
        print(f"to build: {', '.join(report['build']) or 'nothing'}")
    for r in results:
        if r.status == "downgrade" and not r.build:
            print(f"error: {r.manifest}: {r.reasons[0]}", file=sys.stderr)
    return 1 if report["refused"] else 0
