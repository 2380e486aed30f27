#!/usr/bin/env python3
"""The daily case of issue #15, engine side: one exporter's 14 packages against one
`dpkg-deb -Zxz --build` package, side by side in one run.

    source "$(build-support/ci/install-tools.sh | tail -1)"      # exports HUB_NFPM
    ./pants run build-support/bench/daily_bench.py -- [--runs 5] [--write-docs]

After a one-line manifest change Pants reruns every package process of that exporter. This
script runs the same engine processes Pants runs (a fresh `python -m hub package --request`
each, with the request the Pants rule writes), on Debian's real node_exporter 1.5.0 binaries
(amd64 and arm64, as `package_bench.py` prepares them), in two layouts:

- **per package** (before issue #15's step 3): 14 processes, one per package, today's
  compression settings;
- **as built now**: one process per RPM (6) and one per arch for the DEBs (2, `"dists": "all"`,
  the data member compressed once per arch);

and, as the yardstick, `dpkg-deb -Zxz --build` of the amd64 debian-12 package's files. CPU is
user+sys of each process tree (wait4), summed per layout; medians of `--runs` rounds, cases
interleaved. What it leaves out, and says so: Pants' own cost for the same command (scheduler,
sandboxes, the PEX's venv start-up, cache writes), measured by `pants_bench.py`. Where the
engine's CPU goes is reported too: nfpm's compression (bytes compressed and the encoder's
speed) against the fixed start-up of each process. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from hub.common import matrix
from hub.packaging import nfpm as engine_nfpm

from bench.harness import (
    distro,
    engine_env,
    hub_command,
    load_average,
    median,
    publish,
    require_tools,
    run_timed,
    scratch_dir,
    table,
    today,
    tool_version,
)
from bench.package_bench import Inputs, dpkg_deb_case, prepare_inputs

SECTION = "## The daily case: one exporter's packages against one dpkg-deb package"
ARCHES = ("amd64", "arm64")


def request(inp: Inputs, arch: str, kind: str, out: Path, **dist: object) -> dict:
    return {
        "manifest": str(inp.manifest_path),
        "lock": str(inp.lock_path),
        "kind": kind,
        "arch": arch,
        "binaries_dir": str(inp.binaries_dir),
        "nfpm": inp.nfpm,
        "output_dir": str(out),
        **dist,
    }


def requests(inputs: dict[str, Inputs], out: Path, batched: bool) -> list[dict]:
    """The engine requests Pants makes for the exporter's 14 package targets."""
    reqs = []
    for arch, inp in inputs.items():
        reqs += [request(inp, arch, "rpm", out, dist=d) for d in matrix.RPM_DISTS]
        if batched:
            reqs.append(request(inp, arch, "deb", out, dists="all"))
        else:
            reqs += [request(inp, arch, "deb", out, dist=d) for d in matrix.DEB_DISTS]
    return reqs


def run_layout(inputs: dict[str, Inputs], work: Path, batched: bool) -> tuple[float, float, int, int]:
    """(CPU, wall, processes, packages) of one layout's processes, run one after another."""
    out = work / ("batched" if batched else "per-package")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    cpu = wall = 0.0
    reqs = requests(inputs, out, batched)
    for i, req in enumerate(reqs):
        path = work / f"request-{i}.json"
        path.write_text(json.dumps(req, sort_keys=True))
        timed = run_timed(hub_command("package", "--request", str(path)), cwd=work, env=engine_env())
        cpu += timed.cpu
        wall += timed.wall
    packages = sum(1 for p in out.iterdir() if p.suffix in (".rpm", ".deb"))
    return cpu, wall, len(reqs), packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nfpm", default=os.environ.get("HUB_NFPM"))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    if not args.nfpm:
        raise SystemExit("bench: set HUB_NFPM or pass --nfpm")
    require_tools("dpkg-deb", "apt-get")
    with scratch_dir(args.workdir, "daily-bench") as work:
        inputs = {arch: prepare_inputs(work / arch, args.nfpm, arch) for arch in ARCHES}
        dpkg = dpkg_deb_case(inputs["amd64"], ["-Zxz"], key="dpkg-deb-xz", label="dpkg-deb -Zxz")
        startup: list[float] = []
        samples: dict[str, list[tuple[float, float, int, int]]] = {"per-package": [], "batched": []}
        dpkg_cpu: list[float] = []
        loads = [load_average()]
        for round_no in range(args.runs):
            order = ["per-package", "batched", "dpkg"]
            for case in order[round_no % 3 :] + order[: round_no % 3]:
                if case == "dpkg":
                    d = work / f"dpkg-{round_no}"
                    d.mkdir()
                    dpkg_cpu.append(dpkg.run(d).cpu)
                else:
                    samples[case].append(run_layout(inputs, work, case == "batched"))
            startup.append(run_timed(hub_command("package", "--help"), cwd=work, env=engine_env()).cpu)
            loads.append(load_average())
            print(f"round {round_no + 1}/{args.runs} done", file=sys.stderr)
        text = report(samples, dpkg_cpu, startup, loads, args)
    publish(text, write_docs=args.write_docs)
    return 0


def report(samples, dpkg_cpu, startup, loads, args) -> str:
    yardstick = median(dpkg_cpu)
    rows = []
    labels = {
        "per-package": "14 processes, one per package (step 2 alone: levels chosen, no sharing)",
        "batched": "as built now: 6 RPM processes + 1 DEB process per arch",
    }
    for case, label in labels.items():
        cpu = median([s[0] for s in samples[case]])
        wall = median([s[1] for s in samples[case]])
        procs, pkgs = samples[case][0][2], samples[case][0][3]
        rows.append((label, procs, pkgs, f"{cpu:.1f} s", f"{wall:.1f} s", f"{cpu / yardstick:.2f}×"))
    rows.append(("`dpkg-deb -Zxz --build`, one package (yardstick)", 1, 1, f"{yardstick:.1f} s", "", "1.00×"))
    start = median(startup)
    levels = {family: engine_nfpm.nfpm_compression(family, "zstd") for family in ("rpm", "deb")}
    lines = [
        SECTION,
        "",
        f"`build-support/bench/daily_bench.py --runs {args.runs}` ({today()}, {distro()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, nfpm {tool_version([args.nfpm, '--version'])}; compression: RPMs "
        f"{levels['rpm']}, DEBs {levels['deb']}; load average before and after each round: {', '.join(loads)}). "
        "Input: Debian's node_exporter 1.5.0 binaries, amd64 and arm64. Each engine process is a fresh "
        "`python -m hub package --request` (the process Pants runs, without the sandbox and the PEX venv); "
        "the processes run one after another, so wall is their sum. CPU is user+sys of each process tree; "
        "medians of the rounds. Other jobs share the 2 cores: read the CPU column.",
        "",
    ]
    lines += table(("build", "processes", "packages", "CPU", "wall", "CPU / yardstick"), rows, "lrrrrr")
    lines += [
        "",
        f"Engine start-up alone (`python -m hub package --help`): {start:.2f} s CPU per process, "
        f"{start * samples['batched'][0][2]:.1f} s for the {samples['batched'][0][2]} processes as built now. "
        "Pants adds its own cost per process (sandbox, the PEX's venv, cache writes) and per run (scheduler, "
        '`--no-pantsd` start-up), which this script does not include: see "Pants: node_exporter\'s 14 packages".',
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
