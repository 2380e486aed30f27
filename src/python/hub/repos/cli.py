"""`hub` commands of the repos layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from hub.common import matrix
from hub.common.errors import HubError
from hub.repos import apt, yum
from hub.repos.apt import CODENAMES, apt_entry, build_apt_site
from hub.repos.common import DEFAULT_KEEP, load_entries, parallel_map, write_entry
from hub.repos.user_files import write_user_files
from hub.repos.merge import merge_previous
from hub.repos.sign import sign_site
from hub.repos.signer import signer_from_env
from hub.repos.signing_key import GNUPGHOME_ENV, KEY_ENV, KEY_ID_ENV, MIN_RSA_BITS
from hub.repos.yum import build_yum_site, entries_of


def add_parsers(subparsers: Any) -> None:
    _add_yum_parsers(subparsers)
    _add_apt_parsers(subparsers)
    _add_files_parsers(subparsers)
    _add_merge_parsers(subparsers)
    _add_sign_parsers(subparsers)


def _add_yum_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "yum-entry",
        help="one RPM's YUM metadata (cacheable per package) as a JSON entry",
        description="Reads RPMs with createrepo_c and writes one hub-yum-entry/1 JSON each.",
    )
    p.add_argument("--rpm", action="append", required=True, metavar="FILE", help="an RPM (repeatable)")
    p.add_argument("--dist", choices=matrix.RPM_DISTS, help="default: from the release suffix (1.el9)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="FILE", help="the entry (one --rpm only)")
    out.add_argument("--out-dir", metavar="DIR", help="writes DIR/<rpm file name>.json")
    p.set_defaults(run=run_yum_entry)

    p = subparsers.add_parser(
        "yum-repo",
        help="merge YUM entries into <dist>/<arch>/repodata under a site directory",
        description="Writes repodata for every repo (default: each RPM dist × arch) from entries only.",
    )
    p.add_argument(
        "--entries",
        action="append",
        default=[],
        metavar="PATH",
        help="an entry JSON or a directory of them (repeatable)",
    )
    p.add_argument(
        "--scan",
        action="store_true",
        help="also read every RPM already in SITE/<dist>/<arch>/ (a full run without cached entries)",
    )
    p.add_argument(
        "--rpm",
        action="append",
        default=[],
        metavar="FILE",
        help="also read this RPM now (e.g. the new ones, next to cached --entries; repeatable)",
    )
    p.add_argument("--dist", choices=matrix.RPM_DISTS, help="the dist of --rpm files (default: their release suffix)")
    p.add_argument("--save-entries", metavar="DIR", help="write the entries of --rpm files there (the cache)")
    p.add_argument("--out", required=True, metavar="SITE", help="the site directory (repos go in <dist>/<arch>/)")
    p.add_argument(
        "--source-date",
        metavar="DATE",
        help="2025-06-01T12:00:00Z or epoch seconds (default: the newest package build time)",
    )
    p.add_argument("--repo", action="append", metavar="DIST/ARCH", help="only these repos (repeatable)")
    p.add_argument(
        "--keep",
        type=int,
        default=0,
        metavar="N",
        help=f"keep only the newest N versions of each package (publish uses {DEFAULT_KEEP}; default: all)",
    )
    p.set_defaults(run=run_yum_repo)


def run_yum_entry(args: argparse.Namespace) -> int:
    if args.out and len(args.rpm) != 1:
        raise HubError("--out takes one --rpm; use --out-dir for several")
    for rpm, entry in zip(args.rpm, entries_of([(rpm, args.dist) for rpm in args.rpm])):
        write_entry(args.out or os.path.join(args.out_dir, os.path.basename(rpm) + ".json"), entry)
    return 0


def run_yum_repo(args: argparse.Namespace) -> int:
    if not args.entries and not args.scan and not args.rpm:
        raise HubError("nothing to merge: give --entries, --rpm and/or --scan")
    entries = load_entries(args.entries, "yum")
    if args.scan:
        entries += yum.scan_entries(args.out, args.repo)
    fresh = entries_of([(rpm, args.dist) for rpm in args.rpm])
    if args.save_entries:
        for rpm, entry in zip(args.rpm, fresh):
            write_entry(os.path.join(args.save_entries, os.path.basename(rpm) + ".json"), entry)
    entries += fresh
    counts = build_yum_site(args.out, entries, source_date=args.source_date, repos=args.repo, keep=args.keep)
    for repo, n in counts.items():
        print(f"{repo}: {n} packages")
    return 0


def _add_apt_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "apt-entry",
        help="one .deb's Packages stanza (cacheable per package) as a JSON entry",
        description="Reads .deb control fields and digests; writes one hub-apt-entry/1 JSON each.",
    )
    p.add_argument("--deb", action="append", required=True, metavar="FILE", help="a .deb (repeatable)")
    p.add_argument("--codename", choices=CODENAMES, help="default: from the version suffix (+deb12)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="FILE", help="the entry (one --deb only)")
    out.add_argument("--out-dir", metavar="DIR", help="writes DIR/<deb file name>.json")
    p.set_defaults(run=run_apt_entry)

    p = subparsers.add_parser(
        "apt-repo",
        help="merge APT entries into dists/<codename>/ under a site directory",
        description="Writes Packages{,.gz,.xz}, by-hash and Release for every codename from entries only.",
    )
    p.add_argument(
        "--entries",
        action="append",
        default=[],
        metavar="PATH",
        help="an entry JSON or a directory of them (repeatable)",
    )
    p.add_argument(
        "--scan",
        action="store_true",
        help="also read every .deb already in SITE/pool/ (a full run without cached entries)",
    )
    p.add_argument(
        "--deb",
        action="append",
        default=[],
        metavar="FILE",
        help="also read this .deb now (e.g. the new ones, next to cached --entries; repeatable)",
    )
    p.add_argument("--save-entries", metavar="DIR", help="write the entries of --deb files there (the cache)")
    p.add_argument("--out", required=True, metavar="SITE", help="the site directory (writes SITE/dists/)")
    p.add_argument(
        "--source-date",
        metavar="DATE",
        help="2025-06-01T12:00:00Z or epoch seconds (default: the newest package build time)",
    )
    p.add_argument("--codename", action="append", metavar="CODENAME", help="only these codenames (repeatable)")
    p.add_argument(
        "--keep",
        type=int,
        default=0,
        metavar="N",
        help=f"keep only the newest N versions of each package (publish uses {DEFAULT_KEEP}; default: all)",
    )
    p.set_defaults(run=run_apt_repo)


def run_apt_entry(args: argparse.Namespace) -> int:
    if args.out and len(args.deb) != 1:
        raise HubError("--out takes one --deb; use --out-dir for several")

    def one(deb: str) -> None:
        entry = apt_entry(deb, codename=args.codename)
        write_entry(args.out or os.path.join(args.out_dir, os.path.basename(deb) + ".json"), entry)

    parallel_map(one, args.deb)
    return 0


def run_apt_repo(args: argparse.Namespace) -> int:
    if not args.entries and not args.scan and not args.deb:
        raise HubError("nothing to merge: give --entries, --deb and/or --scan")
    entries = load_entries(args.entries, "apt")
    if args.scan:
        entries += apt.scan_entries(args.out)
    fresh = parallel_map(apt_entry, args.deb)
    if args.save_entries:
        for deb, entry in zip(args.deb, fresh):
            write_entry(os.path.join(args.save_entries, os.path.basename(deb) + ".json"), entry)
    entries += fresh
    counts = build_apt_site(args.out, entries, source_date=args.source_date, codenames=args.codename, keep=args.keep)
    for codename, n in counts.items():
        print(f"dists/{codename}: {n} packages")
    return 0


def _add_files_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "repo-files",
        help="write the users' .repo and .sources files for a site base URL",
        description="Writes monitoring-hub-<dist>.repo and monitoring-hub-<codename>.sources under SITE.",
    )
    p.add_argument("--base-url", required=True, metavar="URL", help="where the site is served (https://...)")
    p.add_argument("--out", required=True, metavar="SITE")
    p.set_defaults(run=run_files)


def run_files(args: argparse.Namespace) -> int:
    for path in write_user_files(args.out, args.base_url):
        print(path)
    return 0


def _add_merge_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "repo-merge",
        help="merge the previously published pool into a site, keep the newest N versions, rebuild metadata",
        description="Cumulative repositories (docs/repositories.md). Unsigned: run sign-site afterwards.",
    )
    p.add_argument("--site", required=True, metavar="DIR", help="the new site (packages at their package.url)")
    p.add_argument("--previous", metavar="DIR", help="the published site to merge (none on a first publish)")
    p.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        metavar="N",
        help=f"versions kept per package (default {DEFAULT_KEEP})",
    )
    p.add_argument("--source-date", metavar="DATE", help="default: the newest package build time")
    p.set_defaults(run=run_merge)


def run_merge(args: argparse.Namespace) -> int:
    report = merge_previous(args.site, args.previous, keep=args.keep, source_date=args.source_date)
    print(
        f"copied {len(report['copied'])} package(s) from the previous site, kept {len(report['kept_published'])} "
        f"published file(s) over rebuilt ones, removed {len(report['removed'])} beyond the newest {args.keep} versions"
    )
    for name in report["kept_published"]:
        print(f"  kept the published {name} (same name, different bytes: bump the release to publish a change)")
    return 0


def _add_sign_parsers(subparsers: Any) -> None:
    keys = f"key from ${KEY_ENV} or ${GNUPGHOME_ENV} + ${KEY_ID_ENV} (RSA >= {MIN_RSA_BITS})"
    p = subparsers.add_parser(
        "sign-site",
        help=f"sign a built site in place: RPMs, YUM metadata, catalog digests, repomd/Release; {keys}",
        description="Publish steps 1-4 (docs/repositories.md). Never run it inside a cached action.",
    )
    p.add_argument("--site", required=True, metavar="DIR")
    p.add_argument(
        "--extra-public-key",
        action="append",
        default=[],
        metavar="FILE",
        help="another armored public key to ship in monitoring-hub.asc (key rotation)",
    )
    p.set_defaults(run=run_sign_site)

    p = subparsers.add_parser("sign", help=f"sign files with the publish key ({keys})")
    p.add_argument("--rpm", action="append", default=[], metavar="FILE", help="add a header signature (repeatable)")
    p.add_argument(
        "--detach",
        nargs=2,
        action="append",
        default=[],
        metavar=("FILE", "OUT"),
        help="armored detached signature of FILE in OUT",
    )
    p.add_argument(
        "--clearsign",
        nargs=2,
        action="append",
        default=[],
        metavar=("FILE", "OUT"),
        help="clearsigned copy of FILE in OUT",
    )
    p.add_argument("--export-public-key", metavar="OUT", help="write the armored public key")
    p.set_defaults(run=run_sign)


def run_sign_site(args: argparse.Namespace) -> int:
    extra = [Path(f).read_bytes() for f in args.extra_public_key]
    with signer_from_env() as signer:
        report = sign_site(args.site, signer, extra_public_keys=extra)
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


def run_sign(args: argparse.Namespace) -> int:
    with signer_from_env() as signer:
        print(f"signing key {signer.fingerprint}")
        if args.rpm:
            signed = signer.sign_rpms(args.rpm)
            print(f"signed {len(signed)} RPM(s)")
        for path, out in args.detach:
            signer.detach_sign(path, out)
        for path, out in args.clearsign:
            signer.clearsign(path, out)
        if args.export_public_key:
            signer.export_public_key(args.export_public_key)
    return 0
