"""`hub` commands of the upstream layer: argparse shims over the layer's library functions."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from hub.common import files, matrix
from hub.common.errors import HubError
from hub.common.matrix import ARCHES, ELF_MACHINE
from hub.common.options import add_command, add_manifests, add_timeout
from hub.manifest.load import find_manifests, load_manifest
from hub.upstream import mirror
from hub.upstream.archive import extract_binaries
from hub.upstream.bump import update_exporter
from hub.upstream.download import MIRROR_ENV, download, mirror_url, sha256_file
from hub.upstream.github import DEFAULT_API_URL, DEFAULT_TIMEOUT, TOKEN_ENV, GitHubClient
from hub.upstream.lock import LockError, check_lock, lock_path_for, read_lock
from hub.upstream.pin import update_lock
from hub.upstream.report import report_json, summary_markdown


def add_parsers(subparsers: Any) -> None:
    p = add_command(subparsers, "update-lock", run_update_lock)
    p.add_argument("manifests", nargs="+", metavar="MANIFEST", help="manifest.yaml files")
    _add_mirror_option(p)
    p.add_argument("--force", action="store_true", help="download again even if the lock is current")
    p.add_argument(
        "--api-url",
        metavar="URL",
        help="GitHub REST API base URL: without --mirror, the release's digests and checksums files "
        f"are read from there ({TOKEN_ENV} as a Bearer token when set); without it, checksums files "
        "are looked for by their usual names",
    )

    p = add_command(subparsers, "fetch", run_fetch)
    p.add_argument("manifest", metavar="MANIFEST")
    p.add_argument("--arch", required=True, choices=matrix.ARCHES)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--mirror", default=os.environ.get(MIRROR_ENV) or None, metavar="URL")

    p = add_command(subparsers, "extract", run_archive)
    p.add_argument("--archive", required=True, type=Path, help="the upstream archive")
    p.add_argument("--out", required=True, type=Path, help="directory for the binaries")
    p.add_argument(
        "--binary",
        required=True,
        action="append",
        dest="binaries",
        metavar="NAME",
        help="a binary to extract, by basename (repeatable)",
    )
    p.add_argument("--arch", choices=ARCHES, help="check that each binary is an ELF for ARCH")
    p.add_argument("--display-name", help="name of the archive in messages (default: its path)")

    _add_mirror_command(subparsers)

    p = add_command(
        subparsers,
        "update-upstreams",
        run_bump,
        description=(
            "For each manifest with upstream.strategy latest_release, finds the newest stable "
            "release by semantic version, rewrites the manifest's version line in place and pins "
            "the new assets in upstream.lock.json. Prints a Markdown summary (a PR body). "
            f"{TOKEN_ENV} is used as a Bearer token when set. Exit codes: 0 fine, 1 some "
            "exporter failed (the others were still updated), 2 bad input."
        ),
    )
    add_manifests(p)
    p.add_argument(
        "--api-url",
        default=DEFAULT_API_URL,
        metavar="URL",
        help=f"GitHub REST API base URL (default {DEFAULT_API_URL})",
    )
    p.add_argument("--dry-run", action="store_true", help="only ask the API: write nothing, download nothing")
    p.add_argument("--json", action="store_true", help="print a JSON report instead of the Markdown summary")
    p.add_argument("--summary", metavar="FILE", help="also write the Markdown summary to FILE")
    _add_mirror_option(p)
    p.add_argument(
        "--download",
        action="store_true",
        help="download every new archive (verified against the API digest or checksums file) "
        "and take source_date from the bytes, as update-lock does",
    )
    p.add_argument(
        "--max-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait out a rate limit up to this many seconds in total (default 0: report it and go on)",
    )
    add_timeout(p, DEFAULT_TIMEOUT)


def _add_mirror_option(parser: argparse.ArgumentParser) -> None:
    """`--mirror URL` as update-lock and update-upstreams document it."""
    parser.add_argument(
        "--mirror",
        default=os.environ.get(MIRROR_ENV) or None,
        metavar="URL",
        help=f"replaces the https://github.com/ prefix when downloading (default: ${MIRROR_ENV})",
    )


def _add_mirror_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mirror",
        help="build or serve a local stand-in for GitHub release downloads",
        description=mirror.__doc__.splitlines()[0],
    )
    sub = parser.add_subparsers(dest="mirror_command", required=True, metavar="ACTION")

    build = add_command(sub, "build", run_mirror_build)
    build.add_argument("--out", required=True, help="mirror root directory to write")
    build.add_argument(
        "--cache",
        help="where downloaded .deb files are kept (default: .<out name>-deb-cache beside --out)",
    )
    build.add_argument(
        "--arch",
        action="append",
        choices=sorted(ELF_MACHINE),
        help="only this arch (repeatable; default: each manifest's build.archs)",
    )
    build.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="archives repacked at once (default: the number of CPUs)",
    )
    build.add_argument(
        "--relabel",
        action="store_true",
        help="first set each manifest's version to its Debian build's (rewrites the manifest files: "
        "for a scratch copy of the repository, as the offline quick start does)",
    )
    build.add_argument("manifests", nargs="+", metavar="MANIFEST", help="manifest.yaml files (or exporter directories)")

    srv = add_command(sub, "serve", run_mirror_serve)
    srv.add_argument("dir", metavar="DIR")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=0, help="default: a free port")


def run_update_lock(args: argparse.Namespace) -> int:
    """pin the upstream archives of manifests (writes upstream.lock.json next to each)

    Downloads every arch's archive, checks it against the sha256 its release publishes (API
    digest or checksums file) when there is one, records url, sha256, size and the source date.
    """
    github = GitHubClient(args.api_url, os.environ.get(TOKEN_ENV) or None) if args.api_url else None
    for path in args.manifests:
        manifest = load_manifest(path)
        lock_path = lock_path_for(path)
        before = read_lock(lock_path) if os.path.exists(lock_path) else None
        lock = update_lock(
            manifest,
            lock_path,
            mirror=args.mirror,
            force=args.force,
            github=github,
            log=lambda s: print(f"note: {s}", file=sys.stderr),
        )
        note = " (unchanged)" if before == lock else ""
        for arch, a in lock.archives.items():
            print(f"{lock_path}: {arch} sha256={a.sha256} size={a.size} {a.url}{note}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """download an exporter's pinned archive, verified against the lock"""
    manifest = load_manifest(args.manifest)
    lock_path = lock_path_for(args.manifest)
    lock = read_lock(lock_path)
    problems = check_lock(manifest, lock)
    if problems:
        raise LockError(lock_path, problems)
    assert lock is not None
    if args.arch not in lock.archives:
        raise HubError(f"{manifest.path}: {args.arch} is not in build.archs")
    pinned = lock.archives[args.arch]
    if manifest.is_local:
        got = sha256_file(os.path.join(manifest.directory, pinned.url))
        if (got.sha256, got.size) != (pinned.sha256, pinned.size):
            raise HubError(f"sha256 mismatch for {pinned.url}: expected {pinned.sha256}, got {got.sha256}")
        with open(os.path.join(manifest.directory, pinned.url), "rb") as src:
            files.write_atomic(args.out, src.read(), durable=True)
    else:
        download(
            mirror_url(pinned.url, args.mirror), args.out, expected_sha256=pinned.sha256, expected_size=pinned.size
        )
    print(args.out, file=sys.stderr)
    return 0


def run_archive(args: argparse.Namespace) -> int:
    """extract binaries from an upstream archive, refusing hostile archives

    Validate every member of an upstream release archive, then write the requested binaries
    (found by basename) to OUT/<name> with mode 0755.
    """
    written = extract_binaries(args.archive, args.binaries, args.out, arch=args.arch, display_name=args.display_name)
    for path in written.values():
        print(path)
    return 0


def _load_manifests(paths: Sequence[str]) -> list:
    """Manifests from manifest.yaml files or exporter directories."""
    manifests = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            path = path / "manifest.yaml"
        manifests.append(load_manifest(path))
    return manifests


def run_mirror_build(args: argparse.Namespace) -> int:
    """repack Debian's exporter binaries as the manifests' upstream archives"""
    manifests = _load_manifests(args.manifests)
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out.parent / f".{out.name}-deb-cache"
    if args.relabel:
        for r in mirror.relabel_manifests(manifests, cache_dir=cache, archs=args.arch or None):
            print(f"{r.exporter}: version {r.old_version} -> {r.new_version} ({r.debian_package} {r.debian_version})")
        manifests = _load_manifests(args.manifests)
    entries = mirror.build_mirror(manifests, out, cache_dir=cache, archs=args.arch or None, jobs=args.jobs)
    written = [e for e in entries if e.ok]
    skipped = [e for e in entries if not e.ok]
    for e in entries:
        if e.ok:
            print(f"{e.exporter}\t{e.arch}\t{e.path}\t{e.sha256}")
        else:
            print(f"{e.exporter}\t{e.arch}\t{e.status}\t{e.detail}")
    summary = f"{len(written)} archive(s) written under {out}"
    if skipped:
        names = sorted({f"{e.exporter} ({e.status})" for e in skipped})
        summary += f"; {len(skipped)} skipped: {', '.join(names)}"
    print(summary)
    return 0


def _stop(signum, frame):
    raise KeyboardInterrupt


def run_mirror_serve(args: argparse.Namespace) -> int:
    """serve a mirror directory over HTTP until interrupted"""
    with mirror.serve(Path(args.dir), host=args.host, port=args.port) as url:
        print(f"serving {args.dir} at {url} (use it as [hub].upstream_mirror); Ctrl-C stops", flush=True)
        # SIGTERM and SIGINT both stop cleanly (a background job may have SIGINT ignored).
        previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    return 0


def run_bump(args: argparse.Namespace) -> int:
    """bump manifests to their newest upstream release (GitHub API) and refresh the locks"""
    manifests = [load_manifest(p) for p in find_manifests(args.manifests)]
    client = GitHubClient(args.api_url, os.environ.get(TOKEN_ENV) or None, timeout=args.timeout, max_wait=args.max_wait)
    results = []
    for manifest in sorted(manifests, key=lambda m: m.name):
        r = update_exporter(
            manifest, client, mirror=args.mirror, dry_run=args.dry_run, download_all=args.download, timeout=args.timeout
        )
        results.append(r)
        if r.status == "error":
            print(f"error: {r.manifest}: {r.message}", file=sys.stderr)
    summary = summary_markdown(results, dry_run=args.dry_run)
    if args.summary:
        files.write_atomic(args.summary, summary.encode("utf-8"), durable=True)
    if args.json:
        print(json.dumps(report_json(results, dry_run=args.dry_run), indent=2, sort_keys=True))
    else:
        sys.stdout.write(summary)
    return 1 if any(r.status == "error" for r in results) else 0
