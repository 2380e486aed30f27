#!/usr/bin/env python3
"""Repository metadata benchmark: our YUM and APT generation against the standard tools.

    PYTHONPATH=src/python HUB_NFPM=<nfpm> python3 build-support/bench/repo_bench.py [--write-docs]

Needs an interpreter with createrepo-c (PyPI) for the engine, and the Debian tools
`createrepo_c` and `apt-ftparchive` (build-support/ci/install-tools.sh installs them).

Synthetic data of the real shape: `--exporters` exporters (default 34, like the catalog), each
with the real matrix of 6 RPMs (el8/el9/el10 x amd64/arm64) and 8 DEBs (4 codenames x 2
arches), made by nfpm with a `--payload-kib` random binary. Then, side by side in one run
(each measurement a fresh process, tools interleaved, `--runs` runs, medians):

- YUM full: `hub yum-entry` for every RPM + `hub yum-repo` (6 repos), vs `createrepo_c` on
  each of the 6 repo directories (with and without its sqlite databases, which dnf never reads).
- YUM incremental, after adding one more exporter: entries for its 6 new RPMs only (the
  others are cached entries) + the merge; `createrepo_c --update` shown for reference.
- APT full: `hub apt-entry` for every DEB + `hub apt-repo` (4 codenames x 2 arches, Packages,
  .gz, .xz, by-hash, Release), vs `apt-ftparchive packages` over the pool (one Packages file).
- APT incremental: entries for the 8 new DEBs + the merge; `apt-ftparchive --db` (its cache)
  shown for reference.

With --write-docs the "Repository metadata" section of docs/benchmarks.md is replaced (or
appended) with the results. Machines here are shared and noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "src" / "python"))

from hub.catalog import artifact as catalog  # noqa: E402
from hub.common import matrix
from testkit.packages import make_package as _make_package  # noqa: E402

SECTION = "## Repository metadata"


def exporter_packages(out: Path, index: int, payload_kib: int) -> tuple[list[Path], list[Path]]:
    """One synthetic exporter's 6 RPMs and 8 DEBs, placed where the site keeps them (kept from
    an earlier run in the same --workdir)."""
    name = f"bench{index:03d}_exporter"
    debname = matrix.deb_package_name(name)
    payload = os.urandom(payload_kib * 1024)
    rpms, debs = [], []

    def make_package(kind: str, directory: Path, *, filename: str, **kwargs: object) -> Path:
        if (directory / filename).is_file():
            return directory / filename
        return _make_package(kind, directory, filename=filename, **kwargs)

    for dist in matrix.RPM_DISTS:
        for arch in matrix.ARCHES:
            filename = f"{name}-1.0.{index}-1.{dist}.{matrix.RPM_ARCH[arch]}.rpm"
            url = catalog.package_url("rpm", dist=dist, arch=arch, package_name=name, filename=filename)
            rpms.append(make_package("rpm", out / os.path.dirname(url), name=name, version=f"1.0.{index}",
                                     release=f"1.{dist}", arch=arch, payload=payload, files=6, filename=filename))
    for dist in matrix.DEB_DISTS:
        suffix = matrix.DISTS[dist].release_suffix
        for arch in matrix.ARCHES:
            filename = f"{debname}_1.0.{index}-1+{suffix}_{arch}.deb"
            url = catalog.package_url("deb", dist=dist, arch=arch, package_name=debname, filename=filename)
            debs.append(make_package("deb", out / os.path.dirname(url), name=debname, version=f"1.0.{index}",
                                     release=f"1+{suffix}", arch=arch, payload=payload, files=6, filename=filename))
    return rpms, debs


Measure = tuple[float, float, float, float]  # wall, cpu, work wall, work cpu


def timed(cmd: list[str], *, cwd: Path | None = None, stdout: Path | None = None) -> Measure:
    """One process: (wall s, CPU s of the child, and the same for the work itself: what our
    modules report with HUB_REPORT_TIMING, i.e. without interpreter start-up and imports; a
    C tool's work is its whole process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(stdout, "wb") if stdout else open(os.devnull, "wb") as out:
        result = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.PIPE, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd[:4])}...\n{result.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    work = [json.loads(line) for line in result.stderr.decode().splitlines() if line.startswith('{"work_wall"')]
    if work:
        return wall, cpu, work[-1]["work_wall"], work[-1]["work_cpu"]
    return wall, cpu, wall, cpu


def total(*measures: Measure) -> Measure:
    return tuple(sum(m[i] for m in measures) for i in range(4))  # type: ignore[return-value]


ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src" / "python"), "LC_ALL": "C", "HUB_REPORT_TIMING": "1"}
# The modules' own entry points (`python -m hub.repos.yum`): `python -m hub` imports every
# concern of the engine first, which is start-up time, not metadata generation.
YUM = [sys.executable, "-m", "hub.repos.yum"]
APT = [sys.executable, "-m", "hub.repos.apt"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporters", type=int, default=34)
    parser.add_argument("--payload-kib", type=int, default=2048,
                        help="random payload per package (default 2 MiB, as docs measure the reference tools)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", help="default: a temporary directory, deleted afterwards")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    for tool in ("createrepo_c", "apt-ftparchive"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed: run build-support/ci/install-tools.sh")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="hub-repo-bench-"))
    try:
        return bench(work, args)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def bench(work: Path, args: argparse.Namespace) -> int:
    pool = work / f"pool-src-{args.payload_kib}k"
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        made = list(ex.map(lambda i: exporter_packages(pool, i, args.payload_kib), range(args.exporters + 1)))
    base_rpms = [p for rpms, _ in made[:-1] for p in rpms]
    base_debs = [p for _, debs in made[:-1] for p in debs]
    new_rpms, new_debs = made[-1]
    print(f"made {len(base_rpms)}+{len(new_rpms)} RPMs and {len(base_debs)}+{len(new_debs)} DEBs "
          f"({args.payload_kib} KiB payload) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    repos = sorted({p.parent.relative_to(pool) for p in base_rpms})

    results: dict[str, list[tuple[float, float]]] = {}

    def record(key: str, m: tuple[float, float]) -> None:
        results.setdefault(key, []).append(m)

    def site_with(packages: list[Path], dest: Path) -> Path:
        for p in packages:
            target = dest / p.relative_to(pool)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(p, target)
        return dest

    def rel(paths: list[Path], site: Path, flag: str) -> list[str]:
        return [a for p in paths for a in (flag, str(site / p.relative_to(pool)))]

    for run in range(args.runs):
        r = work / f"run{run}"
        shutil.rmtree(r, ignore_errors=True)  # left by an interrupted run in the same --workdir
        # --- YUM -------------------------------------------------------------------------------
        ref = site_with(base_rpms, r / "ref-yum")
        record("createrepo_c", total(*(timed(["createrepo_c", "--quiet", str(ref / d)]) for d in repos)))
        for d in repos:
            shutil.rmtree(ref / d / "repodata")
        record("createrepo_c --no-database", total(*(timed(["createrepo_c", "--quiet", "--no-database", str(ref / d)]) for d in repos)))
        site = site_with(base_rpms, r / "ours-yum")
        record("hub yum full", timed([*YUM, "yum-repo", "--scan", "--out", str(site)]))
        entries = r / "yum-entries"
        record("hub yum full, cacheable steps", total(
            timed([*YUM, "yum-entry", "--out-dir", str(entries), *rel(base_rpms, site, "--rpm")]),
            timed([*YUM, "yum-repo", "--entries", str(entries), "--out", str(site)]),
        ))
        site_with(new_rpms, site)
        record("hub yum incremental", timed([*YUM, "yum-repo", "--entries", str(entries), *rel(new_rpms, site, "--rpm"),
                                             "--save-entries", str(entries), "--out", str(site)]))
        record("hub yum merge only", timed([*YUM, "yum-repo", "--entries", str(entries), "--out", str(site)]))
        site_with(new_rpms, ref)
        record("createrepo_c --update", total(*(timed(["createrepo_c", "--quiet", "--no-database", "--update", str(ref / d)]) for d in repos)))
        # --- APT -------------------------------------------------------------------------------
        ref = site_with(base_debs, r / "ref-apt")
        record("apt-ftparchive packages", timed(["apt-ftparchive", "packages", "pool"], cwd=ref, stdout=r / "Packages"))
        site = site_with(base_debs, r / "ours-apt")
        record("hub apt full", timed([*APT, "apt-repo", "--scan", "--out", str(site)]))
        entries = r / "apt-entries"
        record("hub apt full, cacheable steps", total(
            timed([*APT, "apt-entry", "--out-dir", str(entries), *rel(base_debs, site, "--deb")]),
            timed([*APT, "apt-repo", "--entries", str(entries), "--out", str(site)]),
        ))
        site_with(new_debs, site)
        record("hub apt incremental", timed([*APT, "apt-repo", "--entries", str(entries), *rel(new_debs, site, "--deb"),
                                             "--save-entries", str(entries), "--out", str(site)]))
        record("hub apt merge only", timed([*APT, "apt-repo", "--entries", str(entries), "--out", str(site)]))
        db = r / "ftparchive.db"
        timed(["apt-ftparchive", "--db", str(db), "packages", "pool"], cwd=ref, stdout=r / "Packages.db")
        site_with(new_debs, ref)
        record("apt-ftparchive --db (warm cache)", timed(["apt-ftparchive", "--db", str(db), "packages", "pool"], cwd=ref, stdout=r / "Packages.db"))
        shutil.rmtree(r)
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    med = {k: tuple(statistics.median(m[i] for m in v) for i in range(4)) for k, v in results.items()}
    version = subprocess.run(["createrepo_c", "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    heading = f"### {args.payload_kib} KiB payload: {len(base_rpms)} RPMs and {len(base_debs)} DEBs"
    lines = [
        heading,
        "",
        f"{args.exporters} synthetic exporters with the real matrix (made by nfpm), then one more exporter "
        f"(+{len(new_rpms)} RPMs, +{len(new_debs)} DEBs). {args.runs} runs, medians; {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, createrepo_c {version.replace('Version: ', '')}.",
        "",
        "| step | process wall (s) | process cpu (s) | work wall (s) | work cpu (s) | ratio: process wall; work cpu |",
        "|---|---:|---:|---:|---:|---|",
    ]

    def row(key: str, base: str = "") -> None:
        wall, cpu, wwall, wcpu = med[key]
        ratio = f"{wall / med[base][0]:.2f}x; {wcpu / med[base][3]:.2f}x {base}" if base else ""
        lines.append(f"| {key} | {wall:.3f} | {cpu:.3f} | {wwall:.3f} | {wcpu:.3f} | {ratio} |")

    row("createrepo_c")
    row("createrepo_c --no-database")
    row("hub yum full", "createrepo_c --no-database")
    row("hub yum full, cacheable steps", "createrepo_c --no-database")
    row("hub yum incremental", "hub yum full")
    row("hub yum merge only", "hub yum full")
    row("createrepo_c --update", "createrepo_c --no-database")
    row("apt-ftparchive packages")
    row("hub apt full", "apt-ftparchive packages")
    row("hub apt full, cacheable steps", "apt-ftparchive packages")
    row("hub apt incremental", "hub apt full")
    row("hub apt merge only", "hub apt full")
    row("apt-ftparchive --db (warm cache)", "apt-ftparchive packages")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.write_docs:
        write_docs(heading, text)
    return 0


def write_docs(heading: str, text: str) -> None:
    """Replaces this payload's table in the "Repository metadata" section of docs/benchmarks.md
    (other sections, written by other benchmarks, are left alone)."""
    docs = REPO_ROOT / "docs" / "benchmarks.md"
    existing = docs.read_text() if docs.exists() else "# Benchmarks\n"
    if SECTION + "\n" not in existing:
        existing = existing.rstrip("\n") + "\n\n" + SECTION + "\n\n" + SECTION_INTRO
    start = existing.index(SECTION + "\n")
    end = existing.find("\n## ", start + len(SECTION))
    end = len(existing) if end < 0 else end + 1
    section = existing[start:end]
    key = heading.split(":")[0]  # "### 2048 KiB payload"
    at = section.find(key + ":")
    if at >= 0:
        stop = section.find("\n### ", at + 1)
        section = section[:at] + text + ("\n" + section[stop + 1:] if stop >= 0 else "")
    else:
        section = section.rstrip("\n") + "\n\n" + text
    docs.write_text(existing[:start] + section.rstrip("\n") + "\n" + ("\n" + existing[end:] if end < len(existing) else ""))
    print(f"updated {docs.relative_to(REPO_ROOT)}", file=sys.stderr)


SECTION_INTRO = """\
`build-support/bench/repo_bench.py` (see its docstring for the command). What each row runs:

- `createrepo_c`: the Debian command on each of the 6 `<dist>/<arch>` directories (by default it
  also writes sqlite databases); `--no-database` writes what we write (dnf never reads them).
- `hub yum full`: `python -m hub.repos.yum yum-repo --scan`, one process reading every RPM and
  writing the 6 repositories, no cache. `cacheable steps`: `yum-entry` over every RPM (entries
  written as JSON) then `yum-repo --entries` (the merge): a cold run of the per-package path.
- `hub yum incremental`: after adding one exporter, `yum-repo --entries <cached> --rpm <its 6 new
  RPMs>`: entries for the new packages only, plus the merge. `merge only`: the merge alone.
- `apt-ftparchive packages`: one Packages file for the whole pool (no per-codename split, no
  compression, no Release). `hub apt full` (`apt-repo --scan`) does more: 4 codenames x 2
  arches, Packages/.gz/.xz, by-hash copies and the Release files.
- `process` columns time the whole process; `work` columns leave out our interpreter's start-up
  and imports (about 0.07 s of CPU for `python -m hub.repos.yum`, mostly loading createrepo_c and
  librpm), which is a constant per process. A C tool's work is its whole process.
"""


if __name__ == "__main__":
    raise SystemExit(main())
