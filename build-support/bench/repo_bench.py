#!/usr/bin/env python3
"""Repository metadata benchmark: our YUM and APT generation against the standard tools.

    ./pants run build-support/bench/repo_bench.py -- [--exporters 34] [--payload-kib 2048] [--runs 5] [--write-docs]

(with HUB_NFPM set: the packages are made with nfpm).

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
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hub.catalog import artifact as catalog
from hub.common import matrix
from testkit.packages import make_package as _make_package

from bench.harness import engine_env, hub_command, median, publish, require_tools, run_timed, scratch_dir, table

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
            rpms.append(
                make_package(
                    "rpm",
                    out / os.path.dirname(url),
                    name=name,
                    version=f"1.0.{index}",
                    release=f"1.{dist}",
                    arch=arch,
                    payload=payload,
                    files=6,
                    filename=filename,
                )
            )
    for dist in matrix.DEB_DISTS:
        suffix = matrix.DISTS[dist].release_suffix
        for arch in matrix.ARCHES:
            filename = f"{debname}_1.0.{index}-1+{suffix}_{arch}.deb"
            url = catalog.package_url("deb", dist=dist, arch=arch, package_name=debname, filename=filename)
            debs.append(
                make_package(
                    "deb",
                    out / os.path.dirname(url),
                    name=debname,
                    version=f"1.0.{index}",
                    release=f"1+{suffix}",
                    arch=arch,
                    payload=payload,
                    files=6,
                    filename=filename,
                )
            )
    return rpms, debs


Measure = tuple[float, float, float, float]  # wall, cpu, work wall, work cpu


def measure(cmd: list[str], env: dict[str, str], *, cwd: Path | None = None, stdout: Path | None = None) -> Measure:
    """One process: (wall s, CPU s of the child, and the same for the work itself: what the
    engine reports with HUB_REPORT_TIMING, i.e. without interpreter start-up and imports; a
    C tool's work is its whole process)."""
    timed = run_timed(cmd, cwd=cwd, env=env, stdout=stdout)
    work = [json.loads(line) for line in timed.stderr.splitlines() if line.startswith('{"work_wall"')]
    if work:
        return timed.wall, timed.cpu, work[-1]["work_wall"], work[-1]["work_cpu"]
    return timed.wall, timed.cpu, timed.wall, timed.cpu


def total(*measures: Measure) -> Measure:
    return tuple(sum(m[i] for m in measures) for i in range(4))  # type: ignore[return-value]


@dataclass(frozen=True)
class Family:
    """Our metadata commands for one package format: `hub <name>-entry` and `hub <name>-repo`."""

    name: str  # "yum" or "apt"
    package_option: str  # how a package is named on their command lines


YUM = Family("yum", "--rpm")
APT = Family("apt", "--deb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporters", type=int, default=34)
    parser.add_argument(
        "--payload-kib",
        type=int,
        default=2048,
        help="random payload per package (default 2 MiB, as docs measure the reference tools)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory, deleted afterwards")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"replace this payload's table in {SECTION!r} of docs/benchmarks.md"
    )
    args = parser.parse_args()
    require_tools("createrepo_c", "apt-ftparchive")
    with scratch_dir(args.workdir, "hub-repo-bench-") as work:
        return bench(work, args)


def bench(work: Path, args: argparse.Namespace) -> int:
    pool = work / f"pool-src-{args.payload_kib}k"
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        made = list(ex.map(lambda i: exporter_packages(pool, i, args.payload_kib), range(args.exporters + 1)))
    base_rpms = [p for rpms, _ in made[:-1] for p in rpms]
    base_debs = [p for _, debs in made[:-1] for p in debs]
    new_rpms, new_debs = made[-1]
    print(
        f"made {len(base_rpms)}+{len(new_rpms)} RPMs and {len(base_debs)}+{len(new_debs)} DEBs "
        f"({args.payload_kib} KiB payload) in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    repos = sorted({p.parent.relative_to(pool) for p in base_rpms})
    env = engine_env(LC_ALL="C", HUB_REPORT_TIMING="1")
    results: dict[str, list[Measure]] = {}

    def record(key: str, m: Measure) -> None:
        results.setdefault(key, []).append(m)

    def run(cmd: list[str], **kwargs: Path) -> Measure:
        return measure(cmd, env, **kwargs)

    def site_with(packages: list[Path], dest: Path) -> Path:
        for p in packages:
            target = dest / p.relative_to(pool)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(p, target)
        return dest

    def ours(family: Family, site: Path, entries: Path, base: list[Path], new: list[Path]) -> None:
        """Full (one process, then the cacheable steps), then after adding `new`: incremental
        (entries for the new packages only) and the merge alone."""

        def named(packages: list[Path]) -> list[str]:
            return [a for p in packages for a in (family.package_option, str(site / p.relative_to(pool)))]

        entry, repo = f"{family.name}-entry", f"{family.name}-repo"
        record(f"hub {family.name} full", run(hub_command(repo, "--scan", "--out", str(site))))
        record(
            f"hub {family.name} full, cacheable steps",
            total(
                run(hub_command(entry, "--out-dir", str(entries), *named(base))),
                run(hub_command(repo, "--entries", str(entries), "--out", str(site))),
            ),
        )
        site_with(new, site)
        record(
            f"hub {family.name} incremental",
            run(
                hub_command(
                    repo, "--entries", str(entries), *named(new), "--save-entries", str(entries), "--out", str(site)
                )
            ),
        )
        record(f"hub {family.name} merge only", run(hub_command(repo, "--entries", str(entries), "--out", str(site))))

    def createrepo(ref: Path, *options: str) -> Measure:
        return total(*(run(["createrepo_c", "--quiet", *options, str(ref / d)]) for d in repos))

    for n in range(args.runs):
        r = work / f"run{n}"
        shutil.rmtree(r, ignore_errors=True)  # left by an interrupted run in the same --workdir
        # --- YUM -------------------------------------------------------------------------------
        ref = site_with(base_rpms, r / "ref-yum")
        record("createrepo_c", createrepo(ref))
        for d in repos:
            shutil.rmtree(ref / d / "repodata")
        record("createrepo_c --no-database", createrepo(ref, "--no-database"))
        ours(YUM, site_with(base_rpms, r / "ours-yum"), r / "yum-entries", base_rpms, new_rpms)
        site_with(new_rpms, ref)
        record("createrepo_c --update", createrepo(ref, "--no-database", "--update"))
        # --- APT -------------------------------------------------------------------------------
        ref = site_with(base_debs, r / "ref-apt")
        record("apt-ftparchive packages", run(["apt-ftparchive", "packages", "pool"], cwd=ref, stdout=r / "Packages"))
        ours(APT, site_with(base_debs, r / "ours-apt"), r / "apt-entries", base_debs, new_debs)
        db = ["apt-ftparchive", "--db", str(r / "ftparchive.db"), "packages", "pool"]
        run(db, cwd=ref, stdout=r / "Packages.db")
        site_with(new_debs, ref)
        record("apt-ftparchive --db (warm cache)", run(db, cwd=ref, stdout=r / "Packages.db"))
        shutil.rmtree(r)
        print(f"run {n + 1}/{args.runs} done", file=sys.stderr)

    text = report(args, results, len(base_rpms), len(base_debs), len(new_rpms), len(new_debs))
    publish(
        text, write_docs=args.write_docs, key=payload_key(args.payload_kib), parent=SECTION + "\n\n" + SECTION_INTRO
    )
    return 0


# Each row: the step, and the step it is compared with.
ROWS = (
    ("createrepo_c", ""),
    ("createrepo_c --no-database", ""),
    ("hub yum full", "createrepo_c --no-database"),
    ("hub yum full, cacheable steps", "createrepo_c --no-database"),
    ("hub yum incremental", "hub yum full"),
    ("hub yum merge only", "hub yum full"),
    ("createrepo_c --update", "createrepo_c --no-database"),
    ("apt-ftparchive packages", ""),
    ("hub apt full", "apt-ftparchive packages"),
    ("hub apt full, cacheable steps", "apt-ftparchive packages"),
    ("hub apt incremental", "hub apt full"),
    ("hub apt merge only", "hub apt full"),
    ("apt-ftparchive --db (warm cache)", "apt-ftparchive packages"),
)


def payload_key(payload_kib: int) -> str:
    """What names a payload's subsection of docs/benchmarks.md: its heading up to the colon
    (after it, the package counts of the run)."""
    return f"### {payload_kib} KiB payload:"


def report(
    args: argparse.Namespace, results: dict[str, list[Measure]], rpms: int, debs: int, new_rpms: int, new_debs: int
) -> str:
    """This payload's subsection of the "Repository metadata" section."""
    med = {k: tuple(median(m[i] for m in v) for i in range(4)) for k, v in results.items()}
    version = (
        subprocess.run(["createrepo_c", "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    )

    def row(key: str, base: str) -> tuple[object, ...]:
        wall, cpu, wwall, wcpu = med[key]
        ratio = f"{wall / med[base][0]:.2f}x; {wcpu / med[base][3]:.2f}x {base}" if base else ""
        return key, f"{wall:.3f}", f"{cpu:.3f}", f"{wwall:.3f}", f"{wcpu:.3f}", ratio

    lines = [
        f"{payload_key(args.payload_kib)} {rpms} RPMs and {debs} DEBs",
        "",
        f"{args.exporters} synthetic exporters with the real matrix (made by nfpm), then one more exporter "
        f"(+{new_rpms} RPMs, +{new_debs} DEBs). {args.runs} runs, medians; {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, createrepo_c {version.replace('Version: ', '')}.",
        "",
        *table(
            (
                "step",
                "process wall (s)",
                "process cpu (s)",
                "work wall (s)",
                "work cpu (s)",
                "ratio: process wall; work cpu",
            ),
            [row(key, base) for key, base in ROWS],
            "lrrrrl",
        ),
    ]
    return "\n".join(lines) + "\n"


SECTION_INTRO = """\
`build-support/bench/repo_bench.py` (see its docstring for the command). What each row runs:

- `createrepo_c`: the Debian command on each of the 6 `<dist>/<arch>` directories (by default it
  also writes sqlite databases); `--no-database` writes what we write (dnf never reads them).
- `hub yum full`: `python -m hub yum-repo --scan`, one process reading every RPM and writing the
  6 repositories, no cache. `cacheable steps`: `yum-entry` over every RPM (entries written as
  JSON) then `yum-repo --entries` (the merge): a cold run of the per-package path.
- `hub yum incremental`: after adding one exporter, `yum-repo --entries <cached> --rpm <its 6 new
  RPMs>`: entries for the new packages only, plus the merge. `merge only`: the merge alone.
- `apt-ftparchive packages`: one Packages file for the whole pool (no per-codename split, no
  compression, no Release). `hub apt full` (`apt-repo --scan`) does more: 4 codenames x 2
  arches, Packages/.gz/.xz, by-hash copies and the Release files.
- `process` columns time the whole process; `work` columns leave out our interpreter's start-up
  and imports (`python -m hub` imports only the repos layer), a constant per process. A C
  tool's work is its whole process.
"""


if __name__ == "__main__":
    raise SystemExit(main())
