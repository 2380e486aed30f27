"""What the YUM and APT repository builders share: source dates, entry files, atomic writes.

Repository metadata is built in two steps (docs/repositories.md):
1. one *entry* per package, a small JSON computed from that package's bytes alone (so a
   build system can cache it, keyed by the package's sha256);
2. a *merge* of the entries into the index files, which never reads a package again.

Every timestamp in the metadata comes from an explicit source date (the newest input), never
from the clock, so the same entries always give byte-identical metadata.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from hub.common.errors import HubError


def parse_source_date(value: str | int) -> int:
    """Seconds since the epoch from an int, a string of digits (SOURCE_DATE_EPOCH style) or a
    UTC time like 2025-06-01T12:00:00Z (the lock's and the catalog's format)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise HubError(f"source date {value}: expected seconds since 1970 (>= 0)")
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise HubError(
            f"source date {value!r}: expected a UTC time like 2025-06-01T12:00:00Z or seconds since 1970"
        ) from None


def format_source_date(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def rfc2822_date(epoch: int) -> str:
    """APT's Date: format (RFC 2822 in UTC, English names, whatever the locale)."""
    t = time.gmtime(epoch)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[t.tm_wday]}, {t.tm_mday:02d} {months[t.tm_mon - 1]} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} UTC"


def newest_build_date(artifact_files: Iterable[str | os.PathLike[str]]) -> int | None:
    """The newest `build_date` of artifact JSONs (catalog format 3.0), or None if there are none."""
    newest = None
    for path in artifact_files:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if "build_date" in data:
            epoch = parse_source_date(data["build_date"])
            newest = epoch if newest is None else max(newest, epoch)
    return newest


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_entry(path: str | os.PathLike[str], entry: Mapping[str, Any]) -> None:
    write_atomic(path, (json.dumps(entry, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))


def entry_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The entry JSONs named by `paths`: files as given, directories searched recursively
    for *.json (sorted, so the result never depends on directory order)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.json") if q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise HubError(f"{p}: no such entry file or directory")
    return out


def load_entries(paths: Sequence[str | os.PathLike[str]], kind: str) -> list[dict[str, Any]]:
    """Reads entry JSONs and checks their `format` (`hub-yum-entry/1`, `hub-apt-entry/1`)."""
    expected = f"hub-{kind}-entry/1"
    entries = []
    for path in entry_files(paths):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise HubError(f"{path}: cannot read the entry: {e}") from None
        if not isinstance(data, dict) or data.get("format") != expected:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise HubError(f"{path}: format: expected {expected!r}, got {got!r}")
        entries.append(data)
    return entries


def keep_latest(
    entries: Iterable[Mapping[str, Any]],
    *,
    group: Any,
    compare: Any,
    version: Any,
    keep: int,
) -> list[Mapping[str, Any]]:
    """The `keep` newest versions of each group (by `compare` on `version(entry)`); every
    entry of a kept version stays (one version may have several entries, e.g. per repo)."""
    if keep < 1:
        raise HubError(f"keep: expected at least 1 version, got {keep}")
    import functools

    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for e in entries:
        groups.setdefault(group(e), []).append(e)
    out = []
    for key in sorted(groups, key=repr):
        members = groups[key]
        versions: list[str] = []
        for e in members:
            if version(e) not in versions:
                versions.append(version(e))
        versions.sort(key=functools.cmp_to_key(compare), reverse=True)
        kept = set(versions[:keep])
        out.extend(e for e in members if version(e) in kept)
    return out


def parallel_map(fn: Any, items: Sequence[Any], workers: int | None = None) -> list[Any]:
    """`[fn(x) for x in items]` on a few threads, in order (hashing and createrepo_c's RPM
    reading spend their time outside the GIL)."""
    items = list(items)
    workers = workers or min(8, (os.cpu_count() or 1) + 1)
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def module_main(add_parser: Any, argv: Sequence[str] | None = None) -> int:
    """A lean `python -m hub.<module>` entry with only that module's commands (hub.cli
    imports every concern; a repository step needs none of the others)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="hub")
    add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    timing = os.environ.get("HUB_REPORT_TIMING")
    start, cpu = time.perf_counter(), _cpu_with_children()
    try:
        return int(args.run(args) or 0)
    except HubError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if timing:  # the benchmark's view of the work itself, without interpreter start-up
            print(json.dumps({"work_wall": time.perf_counter() - start, "work_cpu": _cpu_with_children() - cpu}), file=sys.stderr)


def _cpu_with_children() -> float:
    """CPU seconds of this process and its finished children (the forked workers)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def process_map(fn: Any, items: Sequence[Any], *, min_items: int = 16) -> list[Any]:
    """`[fn(x) for x in items]` on a pool of forked processes, in order: for C code that keeps
    the GIL (createrepo_c's package reader does). `fn` must be a module-level function. Falls
    back to a loop for few items, one core, or where fork is unavailable."""
    items = list(items)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(items) < min_items or cores < 2:
        return [fn(x) for x in items]
    import multiprocessing

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - no fork on this platform
        return [fn(x) for x in items]
    workers = min(cores, 8)
    with ctx.Pool(workers) as pool:
        return pool.map(fn, items, chunksize=max(1, len(items) // (workers * 4)))
