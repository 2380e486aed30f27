"""`hub` commands of the site layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from hub.common.options import add_command, add_extra_public_keys
from hub.repos.common import DEFAULT_KEEP
from hub.repos.signing_key import KEY_ENV, PASSPHRASE_ENV
from hub.site.assemble import build_site
from hub.site.portal import PLACEHOLDER_BASE_URL, build_portal
from hub.site.crash_points import CRASH_ENV, CrashPoints
from hub.site.publish import publish


def add_parsers(subparsers: Any) -> None:
    p = add_command(subparsers, "portal", run_portal)
    p.add_argument("--catalog", required=True, metavar="DIR", help="the catalog directory (<site>/catalog)")
    p.add_argument("--readmes", metavar="DIR", help="the exporters directory: <DIR>/<name>/README.md")
    p.add_argument("--out", required=True, metavar="DIR", help="the site directory")
    p.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the site's public URL, used in the .repo/.sources texts (default: {PLACEHOLDER_BASE_URL}, "
        "replaced in the browser by the page's own address when served over http(s))",
    )

    p = add_command(subparsers, "publish", run_publish)
    p.add_argument("--site", required=True, metavar="DIR", help="the unsigned site (./pants package //:site)")
    p.add_argument("--dest", required=True, metavar="DIR", help="the publish directory (HUB_PUBLISH_DIR)")
    p.add_argument(
        "--base-url", required=True, metavar="URL", help="where DEST/current is served (the users' .repo/.sources)"
    )
    p.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        metavar="N",
        help=f"versions kept per package in the cumulative pool (default {DEFAULT_KEEP})",
    )
    p.add_argument(
        "--readmes",
        metavar="DIR",
        help="the exporters directory (<DIR>/<name>/README.md) for the portal; by default the unsigned "
        "site's rendered READMEs are carried over",
    )
    add_extra_public_keys(p)

    p = add_command(subparsers, "site", run_assemble)
    p.add_argument("--built", required=True, metavar="DIR", help="<exporter>/ packages and artifact JSONs")
    p.add_argument("--entries", required=True, metavar="DIR", help="yum/ and apt/ per-package entries")
    p.add_argument("--exporters", required=True, metavar="DIR", help="the exporters directory (manifests, READMEs)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--base-url", required=True, metavar="URL", help="where the site will be served")


def run_portal(args: argparse.Namespace) -> int:
    """render the static portal from the catalog (index.html, exporters/<name>.html, static/)

    Reads index.json, metadata.json and the artifact JSONs (hub catalog's output) and each
    exporter's README.md; writes a static site that works from any host or file://.
    """
    written = build_portal(args.catalog, args.out, readmes=args.readmes, base_url=args.base_url)
    pages = sum(1 for w in written if w.endswith(".html"))
    print(f"{pages} pages -> {args.out}")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    """sign the unsigned site and publish it as a new snapshot of DEST, switching DEST/current atomically

    Signs RPMs and repository metadata (key from $HUB_SIGNING_KEY, or $HUB_GNUPGHOME +
    $HUB_SIGNING_KEY_ID), merges the previously published pool, writes DEST/snapshots/<id> and
    switches DEST/current to it. See docs/repositories.md, 'Publishing: order, atomic switch,
    crash safety'.
    """
    # Read the key once, then drop it from this process's environment: no child inherits it.
    env = dict(os.environ)
    for name in (KEY_ENV, PASSPHRASE_ENV):
        os.environ.pop(name, None)
    extra = [Path(f).read_bytes() for f in args.extra_public_key]
    crash = CrashPoints(env.get(CRASH_ENV), log=sys.stderr)
    report = publish(
        args.site,
        args.dest,
        args.base_url,
        keep=args.keep,
        readmes=args.readmes,
        extra_public_keys=extra,
        env=env,
        crash=crash,
    )
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


def run_assemble(args: argparse.Namespace) -> int:
    """assemble the unsigned site from built artifacts"""
    build_site(Path(args.built), Path(args.entries), Path(args.exporters), Path(args.out), args.base_url)
    return 0
