"""What the YUM and APT repository builders share: source dates, entry files, atomic writes.

Repository metadata is built in two steps (docs/repositories.md):
1. one *entry* per package, a small JSON computed from that package's bytes alone (so a
   build system can cache it, keyed by the package's sha256);
2. a *merge* of the entries into the index files, which never reads a package again.

Every timestamp in the metadata comes from an explicit source date (the newest input), never
from the clock, so the same entries always give byte-identical metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from hub.common.errors import HubError
from hub.common.files import write_atomic
from hub.common.dates import parse_source_date

# Versions of each package kept in the published repositories (docs/repositories.md).
DEFAULT_KEEP = 3


def newest_build_date(artifact_files: Iterable[str | os.PathLike[str]]) -> int | None:
    """The newest `build_date` of artifact JSONs (catalog format 3.0), or None if there are none."""
    newest: int | None = None
    for path in artifact_files:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if "build_date" in data:
            epoch = parse_source_date(data["build_date"])
            newest = epoch if newest is None else max(newest, epoch)
    return newest


def default_source_date(
    source_date: int | str | None, entries: Sequence[Mapping[str, Any]], where: str | None = None
) -> int | str:
    """`source_date` if given, else the newest build time among `entries` (a merge's metadata
    dates come from its inputs, never from the clock); with no entries, there is none to take."""
    if source_date is not None:
        return source_date
    if not entries:
        problem = "no packages, so no source date: pass one"
        raise HubError(f"{where}: {problem}" if where else problem)
    return max(int(e["build_time"]) for e in entries)


def entry_path(directory: str | os.PathLike[str], package: str | os.PathLike[str]) -> str:
    """Where a package's entry goes in an entries directory: `<directory>/<package file>.json`."""
    return os.path.join(directory, os.path.basename(package) + ".json")


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
    out: list[Mapping[str, Any]] = []
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
