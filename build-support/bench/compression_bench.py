#!/usr/bin/env python3
"""Compression benchmark: nfpm's compression settings against CPU and size, on a real exporter.

    source "$(build-support/ci/install-tools.sh | tail -1)"      # exports HUB_NFPM
    ./pants run build-support/bench/compression_bench.py -- [--runs 3] [--write-docs]

The input is real: Debian's node_exporter 1.5.0 binaries for amd64 and arm64 (the payload the
offline mirror serves; `bench.package_bench.prepare_inputs` fetches them once with apt), under
the repository's node_exporter manifest. For each of the exporter's 14 packages (6 RPMs, 8 DEBs)
the engine plans and stages the package once; then nfpm alone builds it with each compression
setting (only `rpm.compression`/`deb.compression` of the staged configuration changes). The
engine's own cost per package (interpreter, plan, staging, hashing) does not depend on the
setting, so it is left out: the table is what the setting costs.

What it proves, and how:
- **What each level really does.** nfpm 2.48.0 compresses with Go libraries, not libzstd or
  liblzma: DEB zstd goes through klauspost/compress's `EncoderLevelFromZstd` (levels 1-2
  fastest, 3-5 default, 6-9 better, 10 and up best; no level = better), RPM zstd through
  go.digitalxero.dev/rpm, xz through ulikunitz/xz (no levels), gzip through Go's compress/gzip.
  The sweep builds one package at every zstd level 1-22 and groups the levels whose packages
  are byte-identical (sha256): levels in one group run the same encoder setting.
- **CPU against size per setting**, for every package of the exporter: medians of `--runs`
  rounds (user+sys of the nfpm process, from wait4), sizes exact (the builds are deterministic).
- **Candidate choices for the whole exporter** (14 packages): total size against today's
  settings (el8 xz, everything else zstd:19), and the summed CPU, so a choice can be made
  against the size budget (issue #15: at most +6 % per exporter).
- For reference, `dpkg-deb -Zxz --build` of the amd64 debian-12 package's files (the yardstick of
  the issue's daily case).

Machines here are shared (2 cores): medians of several rounds, the CPU columns are the steadier
measure, and nothing is asserted about time. With --write-docs the section "Compression: level
against CPU and size" of docs/benchmarks.md is replaced (or appended).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hub.common import matrix
from hub.packaging import nfpm as engine_nfpm

from bench.harness import (
    distro,
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
from bench.package_bench import dpkg_deb_case, plan_for, prepare_inputs

SECTION = "## Compression: level against CPU and size"
ARCHES = ("amd64", "arm64")
# The settings built for every package; "today" is what the engine used before issue #15.
SETTINGS = ("xz", "gzip:6", "gzip:9", "zstd:1", "zstd:3", "zstd:6", "zstd:19")
TODAY = {"el8": "xz"}  # every other dist: zstd:19
TODAY_DEFAULT = "zstd:19"
SWEEP_LEVELS = tuple(range(1, 23))
SWEEP_PACKAGES = (("rpm", "el9"), ("deb", "debian-12"))


def what_it_does(kind: str, setting: str) -> str:
    """The encoder setting nfpm 2.48.0 selects (from its source; the sweep confirms zstd)."""
    name, _, level = setting.partition(":")
    if name == "xz":
        return "ulikunitz/xz (pure Go LZMA2, no levels)"
    if name == "gzip":
        return f"Go compress/gzip level {level or (9 if kind == 'deb' else 6)}"
    n = int(level) if level else None
    if n is None:
        return "klauspost zstd 'better'" if kind == "deb" else "zstd level 3"
    speed = "fastest" if n < 3 else "default" if n < 6 else "better" if n < 10 else "best"
    return f"klauspost zstd '{speed}'"


@dataclass
class Package:
    arch: str
    kind: str
    dist: str
    staged: Path
    config: dict
    epoch: int
    cpu: dict[str, list[float]] = field(default_factory=dict)
    wall: dict[str, list[float]] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}_{self.arch}_{self.dist}"


def stage_packages(work: Path, nfpm: str) -> tuple[list[Package], object]:
    packages = []
    amd64_inputs = None
    for arch in ARCHES:
        inp = prepare_inputs(work / arch, nfpm, arch)
        if arch == "amd64":
            amd64_inputs = inp
        for dist_name, dist in matrix.DISTS.items():
            plan = plan_for(inp, dist.family, dist_name, arch)
            staged = work / arch / f"staged-{dist_name}"
            staged.mkdir(parents=True)
            config_path = engine_nfpm.stage(plan, str(staged))
            config = json.loads(Path(config_path).read_text(encoding="utf-8"))
            packages.append(Package(arch, dist.family, dist_name, staged, config, plan.source_date_epoch))
    return packages, amd64_inputs


def build(pkg: Package, setting: str, nfpm: str, out: Path) -> tuple[float, float, int, str]:
    config = json.loads(json.dumps(pkg.config))
    config[pkg.kind]["compression"] = setting
    config_path = pkg.staged / f"nfpm-{setting.replace(':', '-')}.yaml"
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    target = out / f"{pkg.key}.{pkg.kind}"
    target.unlink(missing_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOURCE_DATE_EPOCH": str(pkg.epoch),
        engine_nfpm.DOLLAR_VARIABLE: "$",
        "TZ": "UTC",
        "LC_ALL": "C",
    }
    timed = run_timed(engine_nfpm.nfpm_command(nfpm, str(config_path), pkg.kind, str(target)), cwd=out, env=env)
    data = target.read_bytes()
    return timed.cpu, timed.wall, len(data), hashlib.sha256(data).hexdigest()


def payload_digest(path: Path, kind: str) -> str:
    """What identifies the compressed payload: an RPM's header records the level asked for
    (PAYLOADFLAGS), so two levels with the same encoder setting differ there; its
    PAYLOADDIGEST (sha256 of the compressed payload) does not. A DEB records no level."""
    if kind == "rpm":
        proc = subprocess.run(
            ["rpm", "-qp", "--nosignature", "--qf", "%{PAYLOADDIGEST}", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout.strip()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def today_setting(dist: str) -> str:
    return TODAY.get(dist, TODAY_DEFAULT)


# Whole-exporter choices: a function of (kind, dist) to a setting.
CANDIDATES = {
    "today: el8 xz, the rest zstd:19": lambda kind, dist: today_setting(dist),
    "zstd:19 everywhere (el8 from xz to zstd)": lambda kind, dist: "zstd:19",
    "zstd:6 everywhere": lambda kind, dist: "zstd:6",
    "RPMs zstd:6, DEBs zstd:19": lambda kind, dist: "zstd:6" if kind == "rpm" else "zstd:19",
    "RPMs zstd:19, DEBs zstd:6": lambda kind, dist: "zstd:19" if kind == "rpm" else "zstd:6",
    "zstd:3 everywhere": lambda kind, dist: "zstd:3",
    "gzip:9 everywhere": lambda kind, dist: "gzip:9",
}


def sweep_table(sweep: dict[tuple[str, str], dict[int, tuple[str, int]]]) -> list[str]:
    """What each zstd level really is: levels with the same compressed payload share a row."""
    lines = [
        "**What nfpm's zstd levels really do**: every level 1–22 built once; levels whose compressed payloads are "
        "byte-identical (a DEB's sha256; an RPM's PAYLOADDIGEST, since its header also records the level asked "
        "for) run the same encoder setting.",
        "",
    ]
    rows = []
    for (kind, dist), by_level in sweep.items():
        groups: dict[str, list[int]] = {}
        for level, (digest, _) in sorted(by_level.items()):
            groups.setdefault(digest, []).append(level)
        for levels in groups.values():
            lo, hi = levels[0], levels[-1]
            rows.append(
                (
                    f"{kind} {dist} (amd64)",
                    f"zstd:{lo}" if lo == hi else f"zstd:{lo}–{hi}",
                    what_it_does(kind, f"zstd:{lo}"),
                    f"{by_level[lo][1]:,}",
                )
            )
    lines += table(
        ("package", "levels giving identical payloads", "encoder setting (nfpm 2.48.0 source)", "size"), rows, "lllr"
    )
    lines.append("")
    return lines


def report(
    packages: list[Package],
    sweep: dict[tuple[str, str], dict[int, tuple[str, int]]],
    dpkg: list,
    runs: int,
    loads: list[str],
    nfpm: str,
) -> str:
    lines = [SECTION, ""]
    lines.append(
        f"`build-support/bench/compression_bench.py --runs {runs}` ({today()}, {distro()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, nfpm {tool_version([nfpm, '--version'])}; load average before and "
        f"after each round: {', '.join(loads)}). Input: Debian's node_exporter 1.5.0 binaries (amd64 and arm64) "
        "under the repository's manifest: the 14 packages of one exporter. Each package is staged once by the engine, "
        "then nfpm alone builds it at each setting; CPU is user+sys of nfpm (medians of the rounds), sizes are exact "
        "(the builds are deterministic). The engine's own start-up, plan and hashing (about 0.35 s CPU per package, "
        'see "Packaging: one package, side by side") do not depend on the setting and are not included. '
        "Other jobs share the 2 cores: compare the CPU columns, not wall times."
    )
    lines.append("")

    lines += sweep_table(sweep)

    # 2. Level against CPU against size, one package of each format.
    lines.append("**Level against CPU and size** (amd64; arm64 in the next table):")
    lines.append("")
    rows = []
    for pkg in packages:
        if pkg.arch != "amd64" or pkg.dist not in ("el8", "el9", "debian-12"):
            continue
        base = pkg.size[today_setting(pkg.dist)]
        for setting in SETTINGS:
            rows.append(
                (
                    f"{pkg.kind} {pkg.dist}",
                    setting + (" (today)" if setting == today_setting(pkg.dist) else ""),
                    what_it_does(pkg.kind, setting),
                    f"{median(pkg.cpu[setting]):.2f} s",
                    f"{min(pkg.cpu[setting]):.2f}–{max(pkg.cpu[setting]):.2f} s",
                    f"{pkg.size[setting]:,}",
                    f"{100 * (pkg.size[setting] / base - 1):+.1f} %",
                )
            )
    for label, cpu, size in dpkg:
        rows.append(
            (
                "deb debian-12",
                label,
                "xz -6 (liblzma, dpkg-deb)",
                f"{median(cpu):.2f} s",
                f"{min(cpu):.2f}–{max(cpu):.2f} s",
                f"{size:,}",
                "",
            )
        )
    lines += table(
        ("package", "setting", "what the encoder does", "CPU, median", "CPU, min–max", "size", "vs today"),
        rows,
        "lllrrrr",
    )
    lines.append("")

    # 3. Whole exporter: candidates.
    lines.append(
        "**One exporter's 14 packages** (both arches, every dist), per choice: total download size and nfpm CPU."
    )
    lines.append("")
    today_total = sum(p.size[today_setting(p.dist)] for p in packages)
    rows = []
    for name, choose in CANDIDATES.items():
        total = sum(p.size[choose(p.kind, p.dist)] for p in packages)
        cpu = sum(median(p.cpu[choose(p.kind, p.dist)]) for p in packages)
        rows.append((name, f"{total:,}", f"{100 * (total / today_total - 1):+.2f} %", f"{cpu:.1f} s"))
    lines += table(("choice", "14 packages, bytes", "vs today", "nfpm CPU, sum of medians"), rows, "lrrr")
    lines.append("")

    # 4. Per package, every setting's size (what operators download).
    lines.append("**Per package**: size at each setting (bytes), and nfpm CPU median at that setting.")
    lines.append("")
    rows = []
    for p in packages:
        rows.append((p.key, *(f"{p.size[s]:,} / {median(p.cpu[s]):.2f} s" for s in SETTINGS)))
    lines += table(("package", *SETTINGS), rows, "l" + "r" * len(SETTINGS))
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nfpm", default=os.environ.get("HUB_NFPM"))
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--results", type=Path, help="also save the raw numbers as JSON here")
    parser.add_argument("--no-sweep", action="store_true", help="skip the zstd 1-22 sweep")
    parser.add_argument("--sweep-only", action="store_true", help="only the zstd 1-22 sweep, printed (no rounds)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    if not args.nfpm:
        raise SystemExit("bench: set HUB_NFPM or pass --nfpm")
    require_tools("dpkg-deb", "apt-get")

    with scratch_dir(args.workdir, "compression-bench") as work:
        packages, amd64_inputs = stage_packages(work, args.nfpm)
        out = work / "out"
        out.mkdir()
        sweep: dict[tuple[str, str], dict[int, tuple[str, int]]] = {}
        if not args.no_sweep:
            for kind, dist in SWEEP_PACKAGES:
                pkg = next(p for p in packages if p.arch == "amd64" and p.dist == dist)
                sweep[(kind, dist)] = {}
                for level in SWEEP_LEVELS:
                    _, _, size, _ = build(pkg, f"zstd:{level}", args.nfpm, out)
                    sweep[(kind, dist)][level] = (payload_digest(out / f"{pkg.key}.{kind}", kind), size)
                print(f"sweep {kind} {dist}: done", file=sys.stderr)
        if args.sweep_only:
            print("\n".join(sweep_table(sweep)))
            return 0
        dpkg_case = dpkg_deb_case(amd64_inputs, ["-Zxz"], key="dpkg-deb-xz", label="`dpkg-deb -Zxz --build`")
        dpkg_cpu: list[float] = []
        dpkg_size = 0
        loads = [load_average()]
        for round_no in range(args.runs):
            order = SETTINGS[round_no % len(SETTINGS) :] + SETTINGS[: round_no % len(SETTINGS)]
            for setting in order:
                for pkg in packages:
                    cpu, wall, size, digest = build(pkg, setting, args.nfpm, out)
                    pkg.cpu.setdefault(setting, []).append(cpu)
                    pkg.wall.setdefault(setting, []).append(wall)
                    if pkg.sha256.setdefault(setting, digest) != digest:
                        raise SystemExit(f"bench: {pkg.key} at {setting} is not reproducible")
                    pkg.size[setting] = size
            dpkg_out = work / f"dpkg-{round_no}"
            dpkg_out.mkdir()
            sample = dpkg_case.run(dpkg_out)
            dpkg_cpu.append(sample.cpu)
            dpkg_size = sample.size
            loads.append(load_average())
            print(f"round {round_no + 1}/{args.runs} done", file=sys.stderr)
        if args.results:
            args.results.write_text(
                json.dumps(
                    {
                        "packages": [
                            {"key": p.key, "cpu": p.cpu, "wall": p.wall, "size": p.size, "sha256": p.sha256}
                            for p in packages
                        ],
                        "sweep": {f"{k}:{d}": v for (k, d), v in sweep.items()},
                        "dpkg_deb_xz": {"cpu": dpkg_cpu, "size": dpkg_size},
                        "loads": loads,
                    },
                    indent=1,
                )
            )
        text = report(
            packages, sweep, [("`dpkg-deb -Zxz --build` (reference)", dpkg_cpu, dpkg_size)], args.runs, loads, args.nfpm
        )
    publish(text, write_docs=args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
