"""`hub` commands of the repos layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hub.common import matrix
from hub.common.errors import HubError
from hub.common.build_request import read_request
from hub.common.options import add_command, add_extra_public_keys, add_request
from hub.repos import apt, yum
from hub.repos.apt import CODENAMES, apt_entry, build_apt_site
from hub.repos.common import DEFAULT_KEEP, entry_path, load_entries, parallel_map, write_entry
from hub.repos.user_files import write_user_files
from hub.repos.merge import merge_previous
from hub.repos.sign import sign_site
from hub.repos.signer import signer_from_env
from hub.repos.signing_key import GNUPGHOME_ENV, KEY_ENV, KEY_ID_ENV, MIN_RSA_BITS
from hub.repos.yum import build_yum_site, entries_of

Entries = list[dict[str, Any]]


def add_parsers(subparsers: Any) -> None:
    add_request(add_command(subparsers, "packages", run_packages))
    for family in (_YUM, _APT):
        family.add_parsers(subparsers)

    p = add_command(subparsers, "repo-files", run_files)
    p.add_argument("--base-url", required=True, metavar="URL", help="where the site is served (https://...)")
    p.add_argument("--out", required=True, metavar="SITE")

    p = add_command(subparsers, "repo-merge", run_merge)
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

    keys = f"key from ${KEY_ENV} or ${GNUPGHOME_ENV} + ${KEY_ID_ENV} (RSA >= {MIN_RSA_BITS})"
    p = add_command(
        subparsers,
        "sign-site",
        run_sign_site,
        help=f"sign a built site in place: RPMs, YUM metadata, catalog digests, repomd/Release; {keys}",
        description="Publish steps 1-4 (docs/repositories.md). Never run it inside a cached action.",
    )
    p.add_argument("--site", required=True, metavar="DIR")
    add_extra_public_keys(p)

    p = add_command(subparsers, "sign", run_sign, help=f"sign files with the publish key ({keys})")
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


def run_packages(args: argparse.Namespace) -> int:
    """build every RPM and DEB of one exporter and arch, and each one's repository entry

    Reads a `hub package` request (usually `packages: "all"`: every package the manifest
    declares for the arch) with `entries_dir`, and writes the packages and their artifact JSONs
    as `hub package` does, plus <entries_dir>/yum/<rpm>.json and <entries_dir>/apt/<deb>.json
    as `hub yum-entry` and `hub apt-entry` write them: one process instead of one per package.
    """
    from hub.repos.indexed_build import build_and_index  # the packaging layer, only for this command

    for package, artifact, entry in build_and_index(read_request(args.request)):
        print(package)
        print(artifact)
        print(entry)
    return 0


@dataclass(frozen=True)
class _Family:
    """The YUM or the APT commands: `<name>-entry` writes the entries of package files,
    `<name>-repo` merges entries into the site's indexes. Both families are declared and run by
    the same code, from what differs between them."""

    name: str  # yum, apt: the commands' prefix and the entries' kind
    package: str  # rpm, deb: the option naming package files (--rpm, --deb)
    noun: str  # RPM, .deb: a package file in help texts
    article: str  # an, a: before the noun
    entry_texts: tuple[str, str]  # help and description of <name>-entry
    repo_texts: tuple[str, str]  # help and description of <name>-repo
    dist: tuple[str, Sequence[str], str]  # the entries' dist if not from the versions: option, choices, help
    repo_dist_help: str | None  # the same option in <name>-repo (for its package files), if it has it
    pool: str  # where --scan finds the site's packages
    site: str  # what --out holds
    only: tuple[str, str, str]  # the option limiting a merge to some repos: option, metavar, help
    read: Callable[[Sequence[str], str | None], Entries]  # entries of package files, with the given dist
    scan: Callable[[str, Sequence[str] | None], Entries]  # entries of the site's packages, for these repos
    build: Callable[..., dict[str, int]]  # the merge: (site, entries, repos, *, source_date, keep) -> counts
    repo_label: str  # a repo's name in the printed counts

    def add_parsers(self, subparsers: Any) -> None:
        dist_option, dist_choices, dist_help = self.dist
        p = add_command(
            subparsers, f"{self.name}-entry", self.run_entry, help=self.entry_texts[0], description=self.entry_texts[1]
        )
        p.add_argument(
            f"--{self.package}",
            action="append",
            required=True,
            dest="packages",
            metavar="FILE",
            help=f"{self.article} {self.noun} (repeatable)",
        )
        p.add_argument(dist_option, choices=dist_choices, dest="dist", help=dist_help)
        out = p.add_mutually_exclusive_group(required=True)
        out.add_argument("--out", metavar="FILE", help=f"the entry (one --{self.package} only)")
        out.add_argument("--out-dir", metavar="DIR", help=f"writes DIR/<{self.package} file name>.json")

        p = add_command(
            subparsers, f"{self.name}-repo", self.run_repo, help=self.repo_texts[0], description=self.repo_texts[1]
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
            help=f"also read every {self.noun} already in {self.pool} (a full run without cached entries)",
        )
        p.add_argument(
            f"--{self.package}",
            action="append",
            default=[],
            dest="packages",
            metavar="FILE",
            help=f"also read this {self.noun} now (e.g. the new ones, next to cached --entries; repeatable)",
        )
        if self.repo_dist_help:
            p.add_argument(dist_option, choices=dist_choices, dest="dist", help=self.repo_dist_help)
        else:
            p.set_defaults(dist=None)
        p.add_argument(
            "--save-entries", metavar="DIR", help=f"write the entries of --{self.package} files there (the cache)"
        )
        p.add_argument("--out", required=True, metavar="SITE", help=self.site)
        p.add_argument(
            "--source-date",
            metavar="DATE",
            help="2025-06-01T12:00:00Z or epoch seconds (default: the newest package build time)",
        )
        only_option, only_metavar, only_help = self.only
        p.add_argument(only_option, action="append", dest="only", metavar=only_metavar, help=only_help)
        p.add_argument(
            "--keep",
            type=int,
            default=0,
            metavar="N",
            help=f"keep only the newest N versions of each package (publish uses {DEFAULT_KEEP}; default: all)",
        )

    def run_entry(self, args: argparse.Namespace) -> int:
        if args.out and len(args.packages) != 1:
            raise HubError(f"--out takes one --{self.package}; use --out-dir for several")
        for path, entry in zip(args.packages, self.read(args.packages, args.dist)):
            write_entry(args.out or entry_path(args.out_dir, path), entry)
        return 0

    def run_repo(self, args: argparse.Namespace) -> int:
        if not args.entries and not args.scan and not args.packages:
            raise HubError(f"nothing to merge: give --entries, --{self.package} and/or --scan")
        entries = load_entries(args.entries, self.name)
        if args.scan:
            entries += self.scan(args.out, args.only)
        fresh = self.read(args.packages, args.dist)
        if args.save_entries:
            for path, entry in zip(args.packages, fresh):
                write_entry(entry_path(args.save_entries, path), entry)
        entries += fresh
        counts = self.build(args.out, entries, args.only, source_date=args.source_date, keep=args.keep)
        for repo, n in counts.items():
            print(f"{self.repo_label.format(repo)}: {n} packages")
        return 0


_YUM = _Family(
    name="yum",
    package="rpm",
    noun="RPM",
    article="an",
    entry_texts=(
        "one RPM's YUM metadata (cacheable per package) as a JSON entry",
        "Reads RPMs with createrepo_c and writes one hub-yum-entry/1 JSON each.",
    ),
    repo_texts=(
        "merge YUM entries into <dist>/<arch>/repodata under a site directory",
        "Writes repodata for every repo (default: each RPM dist × arch) from entries only.",
    ),
    dist=("--dist", matrix.RPM_DISTS, "default: from the release suffix (1.el9)"),
    repo_dist_help="the dist of --rpm files (default: their release suffix)",
    pool="SITE/<dist>/<arch>/",
    site="the site directory (repos go in <dist>/<arch>/)",
    only=("--repo", "DIST/ARCH", "only these repos (repeatable)"),
    read=lambda rpms, dist: entries_of([(rpm, dist) for rpm in rpms]),
    scan=yum.scan_entries,
    build=lambda site, entries, repos, **merge: build_yum_site(site, entries, repos=repos, **merge),
    repo_label="{}",
)
_APT = _Family(
    name="apt",
    package="deb",
    noun=".deb",
    article="a",
    entry_texts=(
        "one .deb's Packages stanza (cacheable per package) as a JSON entry",
        "Reads .deb control fields and digests; writes one hub-apt-entry/1 JSON each.",
    ),
    repo_texts=(
        "merge APT entries into dists/<codename>/ under a site directory",
        "Writes Packages{,.gz,.xz}, by-hash and Release for every codename from entries only.",
    ),
    dist=("--codename", CODENAMES, "default: from the version suffix (+deb12)"),
    repo_dist_help=None,  # --codename selects the codenames to write there
    pool="SITE/pool/",
    site="the site directory (writes SITE/dists/)",
    only=("--codename", "CODENAME", "only these codenames (repeatable)"),
    read=lambda debs, codename: parallel_map(lambda deb: apt_entry(deb, codename=codename), debs),
    scan=lambda site, codenames: apt.scan_entries(site),  # one pool for every codename
    build=lambda site, entries, codenames, **merge: build_apt_site(site, entries, codenames=codenames, **merge),
    repo_label="dists/{}",
)


def run_files(args: argparse.Namespace) -> int:
    """write the users' .repo and .sources files for a site base URL

    Writes monitoring-hub-<dist>.repo and monitoring-hub-<codename>.sources under SITE.
    """
    for path in write_user_files(args.out, args.base_url):
        print(path)
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """merge the previously published pool into a site, keep the newest N versions, rebuild metadata

    Cumulative repositories (docs/repositories.md). Unsigned: run sign-site afterwards.
    """
    report = merge_previous(args.site, args.previous, keep=args.keep, source_date=args.source_date)
    print(
        f"copied {len(report['copied'])} package(s) from the previous site, kept {len(report['kept_published'])} "
        f"published file(s) over rebuilt ones, removed {len(report['removed'])} beyond the newest {args.keep} versions"
    )
    for name in report["kept_published"]:
        print(f"  kept the published {name} (same name, different bytes: bump the release to publish a change)")
    return 0


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
