#!/usr/bin/env python3
"""The daily case of issue #15: one exporter's 14 packages against one `dpkg-deb -Zxz --build`
package, side by side in one run.

    source "$(build-support/ci/install-tools.sh | tail -1)"      # exports HUB_NFPM
    ./pants run build-support/bench/daily_bench.py -- [--runs 5] [--pants] [--write-docs]

After a one-line manifest change Pants reruns every package process of that exporter. This
script runs the same engine processes Pants runs (a fresh `python -m hub ... --request` each,
with the request the Pants rule writes), on Debian's real node_exporter 1.5.0 binaries (amd64
and arm64, as `package_bench.py` prepares them), in three layouts:

- **per package** (before issue #15's step 3): 14 `hub package` processes, one per package,
  today's compression settings;
- **per RPM, DEBs per arch** (steps 1-3): one process per RPM (6) and one per arch for the DEBs
  (2, `"dists": "all"`, the data member compressed once per arch);
- **as built now** (lever 3): one `hub packages` process per arch (2, `"packages": "all"`),
  which also writes the 7 packages' repository entries (before, 14 more processes in `//:site`);

and, as the yardstick, `dpkg-deb -Zxz --build` of the amd64 debian-12 package's files. CPU is
user+sys of each process tree (wait4), summed per layout; medians of `--runs` rounds, cases
interleaved.

With `--pants`, each round also measures the issue's own method through Pants: in a scratch
copy of the repository pinned to the offline mirror (pants_workspace.py), the manifest's summary
is edited (a new text each round), then `./pants --no-pantsd package` of the 14 package targets
and `./pants --no-pantsd list` of the same targets; the daily case is the first's CPU (the whole
process tree: the client, which runs the scheduler with `--no-pantsd`, and every sandboxed
process) minus the second's. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
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
from bench.pants_workspace import Workspace, edit_summary, restore, scratch_workspace
from integration.offline import build_offline_mirror
from integration.workspace import git

SECTION = "## The daily case: one exporter's packages against one dpkg-deb package"
ARCHES = ("amd64", "arm64")


EXPORTER = "node_exporter"
MANIFEST = f"exporters/{EXPORTER}/manifest.yaml"
# layout -> (the command each process runs, its label in the report)
LAYOUTS = {
    "per-package": ("package", "14 processes, one per package (step 2 alone: levels chosen, no sharing)"),
    "per-kind": ("package", "one process per RPM (6), one per arch for the DEBs (2): steps 1-3"),
    "per-arch": ("packages", "as built now: one `hub packages` process per arch (2), with the 14 index entries"),
}


def request(inp: Inputs, arch: str, out: Path, **what: object) -> dict:
    return {
        "manifest": str(inp.manifest_path),
        "lock": str(inp.lock_path),
        "arch": arch,
        "binaries_dir": str(inp.binaries_dir),
        "nfpm": inp.nfpm,
        "output_dir": str(out),
        **what,
    }


def requests(inputs: dict[str, Inputs], out: Path, layout: str) -> list[dict]:
    """The engine requests Pants makes for the exporter's 14 package targets, in `layout`."""
    reqs = []
    for arch, inp in inputs.items():
        if layout == "per-arch":
            reqs.append(request(inp, arch, out, packages="all", entries_dir=str(out / "entries")))
            continue
        reqs += [request(inp, arch, out, kind="rpm", dist=d) for d in matrix.RPM_DISTS]
        if layout == "per-kind":
            reqs.append(request(inp, arch, out, kind="deb", dists="all"))
        else:
            reqs += [request(inp, arch, out, kind="deb", dist=d) for d in matrix.DEB_DISTS]
    return reqs


def run_layout(inputs: dict[str, Inputs], work: Path, layout: str) -> tuple[float, float, int, int]:
    """(CPU, wall, processes, packages) of one layout's processes, run one after another."""
    out = work / layout
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cpu = wall = 0.0
    reqs = requests(inputs, out, layout)
    command = LAYOUTS[layout][0]
    for i, req in enumerate(reqs):
        path = work / f"request-{i}.json"
        path.write_text(json.dumps(req, sort_keys=True))
        timed = run_timed(hub_command(command, "--request", str(path)), cwd=work, env=engine_env())
        cpu += timed.cpu
        wall += timed.wall
    packages = sum(1 for p in out.iterdir() if p.suffix in (".rpm", ".deb"))
    return cpu, wall, len(reqs), packages


class PantsDailyCase:
    """The issue's measurement through Pants, in a scratch copy pinned to the offline mirror."""

    def __init__(self, ws: Workspace, work: Path):
        self.ws, self.store = ws, work / "store"
        ws.pants("update-lock", "update-lock", f"exporters/{EXPORTER}::", store=self.store, pantsd=False)
        git(ws.repo, "add", "-A")
        git(ws.repo, "commit", "-qm", "pin the offline mirror")
        listed = ws.pants("list", "list", f"exporters/{EXPORTER}::", store=self.store, pantsd=False)
        self.targets = [t for t in listed.stdout.split() if "#rpm_" in t or "#deb_" in t]
        if len(self.targets) != 14:
            raise SystemExit(f"bench: expected 14 package targets, got {self.targets}")
        # The first build fills the local cache (nfpm, the engine PEX, the downloads, extractions).
        ws.pants("first build", "package", *self.targets, store=self.store, pantsd=False)

    def run(self, note: str) -> tuple[float, float, float, int]:
        """(package CPU, list CPU, package wall, processes run) after a one-line manifest change."""
        edit_summary(self.ws.repo, MANIFEST, note)
        try:
            build = self.ws.pants("package after the edit", "package", *self.targets, store=self.store, pantsd=False)
            listing = self.ws.pants("list", "list", *self.targets, store=self.store, pantsd=False)
        finally:
            restore(self.ws.repo, MANIFEST)
        return build.cpu, listing.cpu, build.wall, build.counter("local_execution_requests")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nfpm", default=os.environ.get("HUB_NFPM"))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--pants", action="store_true", help="also measure the daily case through ./pants")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    if not args.nfpm:
        raise SystemExit("bench: set HUB_NFPM or pass --nfpm")
    require_tools("dpkg-deb", "apt-get")
    with scratch_dir(args.workdir, "daily-bench") as work:
        inputs = {arch: prepare_inputs(work / arch, args.nfpm, arch) for arch in ARCHES}
        dpkg = dpkg_deb_case(inputs["amd64"], ["-Zxz"], key="dpkg-deb-xz", label="dpkg-deb -Zxz")
        startup: list[float] = []
        samples: dict[str, list[tuple[float, float, int, int]]] = {layout: [] for layout in LAYOUTS}
        pants_samples: list[tuple[float, float, float, int]] = []
        dpkg_cpu: list[float] = []
        with contextlib.ExitStack() as stack:
            pants = None
            if args.pants:
                print("setup: offline mirror, scratch copy, update-lock, first build", file=sys.stderr)
                mirror = build_offline_mirror(work / "mirror", [EXPORTER])
                ws, _ = stack.enter_context(scratch_workspace(work, mirror))
                pants = PantsDailyCase(ws, work)
            loads = [load_average()]
            for round_no in range(args.runs):
                order = [*LAYOUTS, "dpkg", *(["pants"] if pants else [])]
                shift = round_no % len(order)
                for case in order[shift:] + order[:shift]:
                    if case == "dpkg":
                        d = work / f"dpkg-{round_no}"
                        d.mkdir()
                        dpkg_cpu.append(dpkg.run(d).cpu)
                    elif case == "pants":
                        assert pants is not None
                        pants_samples.append(pants.run(f"daily bench, round {round_no + 1}"))
                    else:
                        samples[case].append(run_layout(inputs, work, case))
                startup.append(run_timed(hub_command("package", "--help"), cwd=work, env=engine_env()).cpu)
                loads.append(load_average())
                print(f"round {round_no + 1}/{args.runs} done", file=sys.stderr)
        text = report(samples, pants_samples, dpkg_cpu, startup, loads, args)
    publish(text, write_docs=args.write_docs)
    return 0


def report(samples, pants_samples, dpkg_cpu, startup, loads, args) -> str:
    yardstick = median(dpkg_cpu)
    rows = []
    for layout, (_, label) in LAYOUTS.items():
        cpu = median([s[0] for s in samples[layout]])
        wall = median([s[1] for s in samples[layout]])
        procs, pkgs = samples[layout][0][2], samples[layout][0][3]
        rows.append((label, procs, pkgs, f"{cpu:.1f} s", f"{wall:.1f} s", f"{cpu / yardstick:.2f}×"))
    rows.append(("`dpkg-deb -Zxz --build`, one package (yardstick)", 1, 1, f"{yardstick:.1f} s", "", "1.00×"))
    start = median(startup)
    levels = {family: engine_nfpm.nfpm_compression(family, "zstd") for family in ("rpm", "deb")}
    now = samples["per-arch"][0][2]
    lines = [
        SECTION,
        "",
        f"`build-support/bench/daily_bench.py --runs {args.runs}{' --pants' if args.pants else ''}` ({today()}, "
        f"{distro()}, {os.cpu_count()} cores, Python {platform.python_version()}, nfpm "
        f"{tool_version([args.nfpm, '--version'])}; compression: RPMs {levels['rpm']}, DEBs {levels['deb']}; load "
        f"average before and after each round: {', '.join(loads)}). Input: Debian's node_exporter 1.5.0 binaries, "
        "amd64 and arm64. Each engine process is a fresh `python -m hub package|packages --request` (the process "
        "Pants runs, without the sandbox and the PEX venv); the processes run one after another, so wall is their "
        "sum. CPU is user+sys of each process tree; medians of the rounds, cases interleaved. Other jobs share "
        "the 2 cores: read the CPU column.",
        "",
    ]
    lines += table(("build", "processes", "packages", "CPU", "wall", "CPU / yardstick"), rows, "lrrrrr")
    lines += [
        "",
        f"Engine start-up alone (`python -m hub package --help`): {start:.2f} s CPU per process, "
        f"{start * now:.1f} s for the {now} processes as built now.",
        "",
    ]
    if pants_samples:
        build, listing = median([s[0] for s in pants_samples]), median([s[1] for s in pants_samples])
        daily = median([s[0] - s[1] for s in pants_samples])
        lo, hi = min(s[0] - s[1] for s in pants_samples), max(s[0] - s[1] for s in pants_samples)
        wall = median([s[2] for s in pants_samples])
        procs = median([s[3] for s in pants_samples])
        lines += [
            "Through Pants, the issue's method (a one-line edit of the manifest's summary, then "
            "`./pants --no-pantsd package` of the 14 package targets, minus `./pants --no-pantsd list` of "
            "them; a scratch copy pinned to the offline mirror, local cache warm from a first build):",
            "",
        ]
        lines += table(
            ("measure", "CPU", "CPU / yardstick"),
            [
                ("`./pants --no-pantsd package` (14 targets), after the edit", f"{build:.1f} s", ""),
                ("`./pants --no-pantsd list` (the same targets)", f"{listing:.1f} s", ""),
                (
                    f"**the daily case**: package − list (range {lo:.1f}–{hi:.1f} s)",
                    f"{daily:.1f} s",
                    f"{daily / yardstick:.2f}×",
                ),
                ("`dpkg-deb -Zxz --build`, one package (yardstick, same rounds)", f"{yardstick:.1f} s", "1.00×"),
            ],
            "lrr",
        )
        lines += [
            "",
            f"The package run took {wall:.1f} s of wall (median) and ran {procs:.0f} processes "
            "(`local_execution_requests`).",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
