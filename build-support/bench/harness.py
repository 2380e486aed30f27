"""What the benchmarks share: the repository, child processes timed (wall and CPU), medians,
scratch directories, the engine's environment, Markdown tables, and the sections
of docs/benchmarks.md each benchmark rewrites.

A benchmark prints its report; with `--write-docs` it replaces its own sections of
docs/benchmarks.md (`publish`), each a heading and what follows up to the next heading of
any level, so that notes written by hand under a heading of their own are kept.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

DOCS = Path("docs") / "benchmarks.md"

# --------------------------------------------------------------------------------------------
# The repository and the engine


@functools.lru_cache(maxsize=None)
def repo_root() -> Path:
    """The repository, found from the working directory (`./pants run` runs a script from a
    sandbox copy, with the build root as its working directory)."""
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "pants.toml").is_file() and (candidate / "src" / "python" / "hub").is_dir():
            return candidate
    raise SystemExit("bench: run it from the repository (no pants.toml above the working directory)")


def user_cache() -> Path:
    """The project's per-user cache (downloads kept between runs)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "monitoring-hub"


def engine_env(**extra: str) -> dict[str, str]:
    """The environment of a `python -m hub` child: the repository's engine first, then the
    third-party packages this interpreter sees (under `./pants run` they are on sys.path, not
    in the interpreter's own site-packages)."""
    paths = [str(repo_root() / "src" / "python")]
    paths += [p for p in sys.path if p and os.path.isdir(p) and not p.startswith(sys.base_prefix)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), **extra}


def hub_command(*args: str) -> list[str]:
    """`python -m hub ARGS`: the engine's CLI, which imports only the layer of its command."""
    return [sys.executable, "-m", "hub", *args]


# --------------------------------------------------------------------------------------------
# Timing


@dataclass
class Timed:
    """One finished child process: wall seconds, CPU seconds (user+sys of it and its reaped
    children), exit status and output."""

    wall: float
    cpu: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdout: Path | None = None,
    check: bool = True,
) -> Timed:
    """Runs `cmd` and times it. The CPU is the process tree's own (wait4), not that of other
    children of this process. Output goes to temporary files (no pipe to drain while timing);
    `stdout` keeps it in a file instead. With `check`, a failure ends the benchmark."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(stdout, "w+b")) if stdout else stack.enter_context(tempfile.TemporaryFile())
        err = stack.enter_context(tempfile.TemporaryFile())
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        text = ""
        if not stdout:
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
    if check and proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{text[-2000:]}{stderr[-4000:]}")
    return Timed(wall, usage.ru_utime + usage.ru_stime, proc.returncode, text, stderr)


@dataclass
class Stopwatch:
    """Wall and CPU seconds of this process over a `with stopwatch()` block."""

    wall: float = 0.0
    cpu: float = 0.0


@contextlib.contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield watch
    finally:
        watch.wall = time.perf_counter() - wall
        watch.cpu = time.process_time() - cpu


# --------------------------------------------------------------------------------------------
# Medians and how they are written


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that were measured (None: a run that did not give one)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def seconds(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f} s"


def span(values: Iterable[float | None], digits: int = 1) -> str:
    """min–max of the measured values, in seconds."""
    known = [v for v in values if v is not None]
    return f"{min(known):.{digits}f}–{max(known):.{digits}f} s" if known else "–"


def table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str) -> list[str]:
    """A Markdown table, as lines; `align` has a letter a column: l (left) or r (right)."""
    if len(align) != len(header):
        raise ValueError(f"align {align!r} does not have a letter for each of {len(header)} columns")
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    body = ["| " + " | ".join(str(c) for c in cells) + " |" for cells in rows]
    return ["| " + " | ".join(header) + " |", rule, *body]


# --------------------------------------------------------------------------------------------
# The machine


def load_average() -> str:
    """The 1-minute load average, as written in the reports."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def distro() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def tool_version(cmd: Sequence[str]) -> str:
    """The first version-looking word a tool prints about itself."""
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True).stdout
    except OSError:
        return "?"
    for line in out.splitlines():  # nfpm: a banner, then "GitVersion:    2.48.0"
        if line.startswith("GitVersion:"):
            return line.split()[-1]
    for word in out.replace("(", " ").split():
        if word[:1].isdigit():
            return word.rstrip(".")
    return "?"


def today() -> str:
    return datetime.date.today().isoformat()


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise SystemExit(f"bench: missing {', '.join(missing)} (build-support/ci/install-tools.sh installs them)")


# --------------------------------------------------------------------------------------------
# Scratch directories


@contextlib.contextmanager
def scratch_dir(workdir: Path | None, prefix: str) -> Iterator[Path]:
    """`--workdir` (created if needed, kept afterwards: saved results, inputs to reuse), or a
    temporary directory removed on the way out."""
    if workdir:
        work = Path(workdir).resolve()
        work.mkdir(parents=True, exist_ok=True)
        yield work
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


# --------------------------------------------------------------------------------------------
# Sections of docs/benchmarks.md

_HEADING = re.compile(r"(#{1,6}) \S")
_FENCE = re.compile(r"(```|~~~)")


def _headings(lines: Sequence[str]) -> list[tuple[int, int]]:
    """(line index, level) of each heading, outside fenced code (where `# ` is a comment)."""
    found, fenced = [], False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            found.append((i, len(m[1])))
    return found


def replace_section(markdown: str, text: str, *, key: str | None = None, parent: str | None = None) -> str:
    """`markdown` with the section `text` in place of its previous version.

    `text` starts with its heading and has no other: a section runs from its heading to the
    next heading of any level. The previous version is the section whose heading line starts
    with `key` (default: the heading line itself). Without one, `text` goes at the end of the
    section `parent` (from that heading to the next one of its level or higher; `parent` is the
    heading line, or that section's whole text, added at the end of the document if missing),
    or at the end of the document."""
    new = _section_lines(text)
    lines = markdown.rstrip("\n").split("\n")
    headings = _headings(lines)

    def matches(line: str) -> bool:
        return line == new[0] if key is None else line.startswith(key)

    found = [n for n, (i, _) in enumerate(headings) if matches(lines[i])]
    if len(found) > 1:
        raise ValueError(f"{len(found)} sections match {key or new[0]!r}")
    if found:
        n = found[0]
        start = headings[n][0]
        end = headings[n + 1][0] if n + 1 < len(headings) else len(lines)
    elif parent is not None:
        parent_heading = _section_lines(parent)[0]
        at = [n for n, (i, _) in enumerate(headings) if lines[i] == parent_heading]
        if not at:
            return replace_section(replace_section(markdown, parent), text, key=key, parent=parent_heading)
        level = headings[at[0]][1]
        later = [i for i, lv in headings[at[0] + 1 :] if lv <= level]
        start = end = later[0] if later else len(lines)
    else:
        start = end = len(lines)
    before = lines[:start]
    while before and not before[-1].strip():
        before.pop()
    after = lines[end:]
    out = [*before, "", *new] if before else new
    if after:
        out += ["", *after]
    return "\n".join(out) + "\n"


def _section_lines(text: str) -> list[str]:
    lines = text.strip("\n").split("\n")
    marks = _headings(lines)
    if not marks or marks[0][0] != 0 or len(marks) > 1:
        raise ValueError(f"a section starts with its heading and has no other: {lines[0]!r}")
    return lines


def publish(text: str, *, write_docs: bool, key: str | None = None, parent: str | None = None) -> None:
    """Prints a report section and, with `--write-docs`, puts it in docs/benchmarks.md."""
    print(text)
    if write_docs:
        update_docs(text, key=key, parent=parent)


def update_docs(text: str, *, key: str | None = None, parent: str | None = None) -> None:
    """Replaces (or adds) one section of docs/benchmarks.md; see `replace_section`."""
    path = repo_root() / DOCS
    markdown = path.read_text() if path.is_file() else "# Benchmarks\n"
    path.write_text(replace_section(markdown, text, key=key, parent=parent))
    print(f"updated {DOCS}: {text.split(chr(10), 1)[0]}", file=sys.stderr)
