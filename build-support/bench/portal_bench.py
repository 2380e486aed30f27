#!/usr/bin/env python3
"""Portal benchmark: catalog aggregation and portal generation for 34 and 1,000 exporters, and
search latency per keystroke in a real headless Chromium with 1,000 exporters.

    ./pants run build-support/bench/portal_bench.py -- [--runs 3] [--sizes 34 1000] [--write-docs]

Needs jinja2, jsonschema, markdown-it-py, pyyaml and selenium, and Debian's chromium + chromium-driver
(build-support/ci/install-tools.sh). Synthetic exporters of the real shape (testkit.synthetic):
15 declared artifacts each (some partial, some stale), package files, artifact JSONs, locks.

- aggregation: `hub catalog` in-process (read + validate every artifact JSON, metadata.json,
  index.json, atomic writes), `--runs` runs, median;
- generation: `hub portal` in-process (every page, README rendering), `--runs` runs, median;
- search: the 1,000-exporter index served on 127.0.0.1, typing `--query` one key at a time with
  send_keys; per keystroke, the filter function's own time (performance.now() around it, in the
  page) and the time from the input event to the next frame (filter + style + layout).

Goals: generation < 1 s (34) and < 10 s (1,000); < 50 ms per keystroke.
With --write-docs the "Portal" section of docs/benchmarks.md is replaced (or appended).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from hub.catalog import aggregate
from hub.manifest.load import find_manifests, load_manifest
from hub.site import portal
from hub.upstream.mirror import serve
from testkit import synthetic

from bench.harness import load_average, median, publish, scratch_dir, stopwatch, table

SECTION = "## Portal"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def generation(work: Path, n: int, runs: int) -> dict:
    paths = synthetic.write_exporters(work / f"n{n}", synthetic.many(n))
    manifests = [load_manifest(p) for p in find_manifests([paths["exporters"]])]
    site = Path(paths["site"])
    agg, gen = [], []
    for _ in range(runs):
        shutil.rmtree(site / "catalog", ignore_errors=True)
        with stopwatch() as watch:
            artifacts = aggregate.read_artifacts([paths["artifacts"]])
            aggregate.build_catalog(manifests, artifacts, site / "catalog", warn=lambda m: None)
        agg.append(watch)
        for old in ("index.html", "exporters", "static"):  # a fresh output, as in a build sandbox
            (
                shutil.rmtree(site / old, ignore_errors=True)
                if (site / old).is_dir()
                else (site / old).unlink(missing_ok=True)
            )
        with stopwatch() as watch:
            portal.build_portal(site / "catalog", site, readmes=paths["exporters"])
        gen.append(watch)
    index_size = (site / "index.html").stat().st_size
    artifacts_n = sum(len(d) for d in aggregate.read_artifacts([paths["artifacts"]]).values())
    return {
        "n": n,
        "site": site,
        "aggregate": median(w.wall for w in agg),
        "portal": median(w.wall for w in gen),
        "aggregate_cpu": median(w.cpu for w in agg),
        "portal_cpu": median(w.cpu for w in gen),
        "index_kib": index_size / 1024,
        "artifacts": artifacts_n,
    }


def search_latency(site: Path, query: str) -> dict:
    """Per keystroke, in headless Chromium: the page served on 127.0.0.1, a throwaway profile."""
    with serve(site) as url, tempfile.TemporaryDirectory(prefix="hub-bench-chromium-") as profile:
        return search_in_chromium(url, profile, query)


def search_in_chromium(url: str, profile: str, query: str) -> dict:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(
        service=Service(os.environ.get("HUB_CHROMEDRIVER", "/usr/bin/chromedriver")), options=options
    )
    try:
        t0 = time.perf_counter()
        driver.get(f"{url}index.html")
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script("return !!(window.hubPortal && window.hubPortal.ready)")
        )
        load = time.perf_counter() - t0
        nav = driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return [n.domContentLoadedEventEnd, n.loadEventEnd]"
        )
        box = driver.find_element(By.ID, "q")
        driver.execute_script("window.hubPortal.filterTimings.length = 0; window.hubPortal.paintTimings.length = 0")
        shown = []
        for ch in query:
            box.send_keys(ch)
            WebDriverWait(driver, 10).until(
                lambda d: d.execute_script("return window.hubPortal.paintTimings.length") >= len(shown) + 1
            )
            shown.append(driver.execute_script("return window.hubPortal.matched"))
        # Deleting brings everything back: the widest updates.
        for _ in query:
            box.send_keys("\b")
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("return window.hubPortal.paintTimings.length") >= 2 * len(query)
        )
        filt = driver.execute_script("return window.hubPortal.filterTimings")
        paint = driver.execute_script("return window.hubPortal.paintTimings")
    finally:
        driver.quit()
    return {"load": load, "dcl_ms": nav[0], "filter": filt, "paint": paint, "shown": shown, "keys": 2 * len(query)}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[34, 1000])
    parser.add_argument("--query", default="redis 04")
    parser.add_argument("--workdir", type=Path, help="keep the generated sites here")
    parser.add_argument("--write-docs", action="store_true", help=f"replace {SECTION!r} in docs/benchmarks.md")
    args = parser.parse_args()
    load_before = load_average()
    with scratch_dir(args.workdir, "hub-portal-bench-") as work:
        gens = [generation(work, n, args.runs) for n in args.sizes]
        for g in gens:
            print(f"{g['n']} exporters: aggregate {g['aggregate']:.3f} s, portal {g['portal']:.3f} s", file=sys.stderr)
        big = max(gens, key=lambda g: g["n"])
        s = search_latency(big["site"], args.query)
    load_after = load_average()

    lines = [
        SECTION,
        "",
        "`./pants run build-support/bench/portal_bench.py -- --write-docs`: synthetic exporters "
        "(`testkit.synthetic.many`, 15 declared artifacts "
        f"each, some partial or stale, real package files and artifact JSONs), {args.runs} runs, medians, in-process; "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average {load_before} before, "
        f"{load_after} after (the machine is shared: CPU time is the steadier figure).",
        "",
        *table(
            (
                "exporters",
                "artifact JSONs",
                "`hub catalog` wall / CPU (s)",
                "`hub portal` wall / CPU (s)",
                "portal goal",
                "index.html",
            ),
            [
                (
                    g["n"],
                    g["artifacts"],
                    f"{g['aggregate']:.2f} / {g['aggregate_cpu']:.2f}",
                    f"{g['portal']:.2f} / {g['portal_cpu']:.2f}",
                    "< 1 s" if g["n"] <= 34 else "< 10 s",
                    f"{g['index_kib']:.0f} KiB",
                )
                for g in gens
            ],
            "rrrrlr",
        ),
        "",
        "`hub catalog` reads and validates every artifact JSON, hard-links them into the catalog, and writes each "
        "metadata.json and index.json with `write_json_atomic` (one fsync per file): with 1,000 exporters its wall "
        "time is mostly those fsyncs on a busy disk.",
        "",
        f"Search in headless Chromium with {big['n']} exporters, typing `{args.query}` one key at a time then deleting it "
        f"({s['keys']} keystrokes; exporters matching after each key while typing: {', '.join(map(str, s['shown']))}). "
        f"Page ready in {s['load']:.2f} s (DOMContentLoaded at {s['dcl_ms']:.0f} ms).",
        "",
        *table(
            ("per keystroke", "median (ms)", "p95 (ms)", "max (ms)", "goal"),
            [
                (
                    "filter function (performance.now() around it)",
                    f"{median(s['filter']):.2f}",
                    f"{p95(s['filter']):.2f}",
                    f"{max(s['filter']):.2f}",
                    "< 50 ms",
                ),
                (
                    "input event to next frame (filter + style + layout)",
                    f"{median(s['paint']):.1f}",
                    f"{p95(s['paint']):.1f}",
                    f"{max(s['paint']):.1f}",
                    "< 50 ms",
                ),
            ],
            "lrrrl",
        ),
    ]
    text = "\n".join(lines) + "\n"
    publish(text, write_docs=args.write_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
