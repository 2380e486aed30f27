#!/usr/bin/env python3
"""Packaging benchmark: one package built by the engine against the standard tools, side by side.

    source "$(build-support/ci/install-tools.sh | tail -1)"      # exports HUB_NFPM
    ./pants run build-support/bench/package_bench.py -- [--runs 5] [--write-docs]

The input is real: Debian's node_exporter 1.5.0 amd64 binary (13.7 MB, from
prometheus-node-exporter, fetched once with apt into ~/.cache/monitoring-hub/debian-debs by
`hub.upstream.debian.fetch_deb`), under the repository's node_exporter manifest and a lock made of the
same upstream-style archive the offline mirror serves. Every case packages the same payload:

- ours: a fresh `python -m hub package --request request.json` per build, with the request the
  Pants rule writes (manifest, lock, kind, arch, dist, binaries_dir, nfpm, output_dir): the
  command the cached Pants action runs, minus the sandbox and the PEX's venv start-up.
  rpm el9, rpm el8, deb debian-12, at the engine's settings (since issue #15: zstd for every
  dist, "zstd:6" for RPMs and "zstd:10" for DEBs; before it, el8 was xz and the rest zstd:19).
- rpmbuild: `rpmbuild -bb` of a minimal binary-repack spec that installs the very files of our
  RPM (same paths, modes, %config/%doc/%license; no scriptlets), with Debian's rpm 4.18
  defaults (payload gzip level 9), and again with our el9 (w19.zstdio) and an xz payload
  (w6.xzdio). Debug packages, build-id links and the brp scripts are off, as for any repack of
  a prebuilt binary (strip would rewrite it).
- dpkg-deb: `dpkg-deb --root-owner-group --build` of the files of our DEB plus DEBIAN/control
  and conffiles: default compression (xz on Debian 12), -Zxz, and our zstd level (-Zzstd -z19).
- where the engine's time goes: nfpm alone on the configuration the engine stages, the engine's
  start-up (`python -m hub package --help`: interpreter plus the CLI's imports), and our builds
  at other compression settings (zstd:3; el8 with gzip), by patching `hub.packaging.nfpm.COMPRESSION_LEVEL`
  in the benchmark's process only.

Wall time, CPU (user+sys of the process and its children, from wait4) and package size; every
case runs once per round, rounds rotate the order, `--runs` rounds, medians. With --write-docs
the "Packaging: one package, side by side" section of docs/benchmarks.md is replaced (or
appended). Machines here are shared and noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hub.common.dates import format_source_date
from hub.manifest.load import load_manifest
from hub.packaging import nfpm as engine_nfpm
from hub.packaging.build import check_elf, upstream_docs
from hub.packaging.plan import plan_package
from hub.upstream.debian import DEBIAN_BUILDS, fetch_deb, read_deb_files
from hub.upstream.lock import Lock, LockedArchive, write_lock
from hub.upstream.repack import pack_archive
from integration.offline import debian_cache

from bench.harness import (
    distro,
    engine_env,
    hub_command,
    load_average,
    median,
    publish,
    repo_root,
    require_tools,
    run_timed,
    scratch_dir,
    seconds,
    span,
    table,
    today,
    tool_version,
)

SECTION = "## Packaging: one package, side by side"
EXPORTER = "node_exporter"
ARCH = "amd64"
BUILDS = (("rpm", "el9"), ("rpm", "el8"), ("deb", "debian-12"))
MB = 1_000_000


# --------------------------------------------------------------------------------------------
# Inputs


@dataclass
class Inputs:
    work: Path
    manifest_path: Path
    lock_path: Path
    binaries_dir: Path
    binary_size: int
    debian_version: str
    nfpm: str
    manifest: object = None
    lock: Lock | None = None


def prepare_inputs(work: Path, nfpm: str, arch: str = ARCH) -> Inputs:
    """The extracted binaries (what `hub extract` leaves: the binary and upstream's LICENSE), the
    manifest and a lock pinning the archive the offline mirror would serve, for one arch."""
    source = DEBIAN_BUILDS[EXPORTER]
    deb = fetch_deb(source.package, arch, debian_cache())
    copyright_path = f"/usr/share/doc/{source.package}/copyright"
    files = read_deb_files(deb.path, [source.main_binary, copyright_path])
    binary, mtime = files[source.main_binary]
    license_text = files[copyright_path][0] if copyright_path in files else None

    binaries_dir = work / "binaries"
    binaries_dir.mkdir(parents=True)
    (binaries_dir / EXPORTER).write_bytes(binary)
    (binaries_dir / EXPORTER).chmod(0o755)
    if license_text is not None:
        (binaries_dir / "LICENSE").write_bytes(license_text)

    # As in the sandbox: the exporter's directory (manifest, assets) at its repository path.
    exporter_dir = work / "exporters" / EXPORTER
    shutil.copytree(
        repo_root() / "exporters" / EXPORTER,
        exporter_dir,
        ignore=shutil.ignore_patterns("upstream.lock.json", "BUILD", "README.md"),
    )
    manifest_path = exporter_dir / "manifest.yaml"
    manifest = load_manifest(str(manifest_path))
    archive = pack_archive(
        manifest.archive_name(arch), {EXPORTER: binary}, mtime=mtime, license_text=license_text, layout=source.layout
    )
    lock = Lock(
        exporter=manifest.name,
        version=manifest.version,
        source_date=format_source_date(mtime),
        archives={arch: LockedArchive(manifest.archive_url(arch), hashlib.sha256(archive).hexdigest(), len(archive))},
    )
    lock_path = exporter_dir / "upstream.lock.json"
    write_lock(lock_path, lock)
    return Inputs(work, manifest_path, lock_path, binaries_dir, len(binary), deb.version, nfpm, manifest, lock)


def plan_for(inp: Inputs, kind: str, dist: str, arch: str = ARCH):
    dynamic = [b for b in inp.manifest.build.binaries if check_elf(str(inp.binaries_dir / b), arch)]
    return plan_package(
        inp.manifest,
        inp.lock,
        kind=kind,
        arch=arch,
        dist=dist,
        binaries_dir=str(inp.binaries_dir),
        upstream_docs=upstream_docs(str(inp.binaries_dir)),
        dynamic_binaries=dynamic,
    )


# --------------------------------------------------------------------------------------------
# Running one build: wall, CPU of the process tree, output size


@dataclass
class Sample:
    wall: float
    cpu: float
    size: int


# Our build with another compression setting: the CLI in a process whose compression table is
# patched (the engine's code is untouched).
PATCHED_MAIN = (
    f"import json, sys, {engine_nfpm.__name__} as n; levels = json.loads(sys.argv.pop(1));"
    "[table.update(levels) for table in n.COMPRESSION_LEVEL.values()];"
    "from hub.cli import main; sys.exit(main(sys.argv[1:]))"
)


@dataclass
class Case:
    key: str
    label: str
    group: str  # one of GROUPS
    run: Callable[[Path], Sample]
    payload: str = ""


def ours_case(
    inp: Inputs,
    kind: str,
    dist: str,
    *,
    levels: dict[str, str] | None = None,
    key: str,
    label: str,
    group: str = "ours",
) -> Case:
    def run(out: Path) -> Sample:
        request = {
            "manifest": str(inp.manifest_path),
            "lock": str(inp.lock_path),
            "kind": kind,
            "arch": ARCH,
            "dist": dist,
            "binaries_dir": str(inp.binaries_dir),
            "nfpm": inp.nfpm,
            "output_dir": str(out / "out"),
        }
        (out / "request.json").write_text(json.dumps(request, sort_keys=True))
        if levels is None:
            cmd = hub_command("package", "--request", "request.json")
        else:
            cmd = [sys.executable, "-c", PATCHED_MAIN, json.dumps(levels), "package", "--request", "request.json"]
        timed = run_timed(cmd, cwd=out, env=engine_env())
        packages = [p for p in (out / "out").iterdir() if p.suffix in (".rpm", ".deb")]
        assert len(packages) == 1, packages
        return Sample(timed.wall, timed.cpu, packages[0].stat().st_size)

    return Case(key, label, group, run)


def nfpm_alone_case(inp: Inputs, kind: str, dist: str, *, key: str, label: str) -> Case:
    """nfpm on the configuration the engine stages (staged once, outside the timing)."""
    plan = plan_for(inp, kind, dist)
    staged = inp.work / f"staged-{kind}-{dist}"
    staged.mkdir()
    config = engine_nfpm.stage(plan, str(staged))

    def run(out: Path) -> Sample:
        target = out / plan.filename
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SOURCE_DATE_EPOCH": str(plan.source_date_epoch),
            "TZ": "UTC",
            "LC_ALL": "C",
        }
        timed = run_timed(engine_nfpm.nfpm_command(inp.nfpm, config, kind, str(target)), cwd=out, env=env)
        return Sample(timed.wall, timed.cpu, target.stat().st_size)

    return Case(key, label, "profile", run)


def engine_startup_case() -> Case:
    def run(out: Path) -> Sample:
        timed = run_timed(hub_command("package", "--help"), cwd=out, env=engine_env())
        return Sample(timed.wall, timed.cpu, 0)

    return Case("engine-start", "engine start-up: `python -m hub package --help`", "profile", run)


def write_tree(plan, root: Path) -> list:
    """The package's files and directories under `root`, with their modes."""
    for e in plan.entries:
        path = root / e.dst.lstrip("/")
        if e.is_dir:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if e.content is not None:
                path.write_bytes(e.content)
            else:
                shutil.copyfile(e.src, path)
        os.chmod(path, e.mode)
    return list(plan.entries)


SPEC = """\
%define debug_package %{{nil}}
%define _build_id_links none
%define __os_install_post %{{nil}}
Name: {name}
Version: {version}
Release: {release}
Summary: {summary}
License: {license}
URL: {url}
BuildArch: {arch}
AutoReqProv: no

%description
{description}

%install
mkdir -p %{{buildroot}}
cp -a {tree}/. %{{buildroot}}/

%files
%defattr(-,root,root,-)
{files}

%changelog
* {changelog_date} Monitoring Hub <packages@monitoring-hub.invalid> - {version}-{release}
- Repack of the upstream release.
"""


def rpmbuild_case(inp: Inputs, payload: str | None, *, key: str, label: str) -> Case:
    plan = plan_for(inp, "rpm", "el9")
    base = inp.work / f"rpmbuild-{key}"
    tree = base / "tree"
    entries = write_tree(plan, tree)
    lines = []
    for e in entries:
        if e.is_dir:
            lines.append(f"%dir {e.dst}")
        elif e.config:
            lines.append(f"%config(noreplace) {e.dst}")
        elif e.rpm_type in ("doc", "license"):
            lines.append(f"%{e.rpm_type} {e.dst}")
        else:
            lines.append(e.dst)
    date = datetime.datetime.fromtimestamp(plan.source_date_epoch, datetime.timezone.utc)
    spec = base / f"{plan.name}.spec"
    spec.write_text(
        SPEC.format(
            name=plan.name,
            version=plan.version,
            release=plan.release,
            summary=plan.summary,
            license=plan.license,
            url=plan.homepage or "https://example.invalid",
            arch=plan.pkg_arch,
            description=plan.description,
            tree=tree,
            files="\n".join(lines),
            changelog_date=date.strftime("%a %b %d %Y"),
        )
    )
    home = base / "home"
    home.mkdir()

    def run(out: Path) -> Sample:
        defines = ["--define", f"_topdir {out / 'top'}", "--define", "_buildhost monitoring-hub"]
        if payload:
            defines += ["--define", f"_binary_payload {payload}"]
        cmd = ["rpmbuild", "-bb", "--quiet", *defines, str(spec)]
        env = {**os.environ, "HOME": str(home), "SOURCE_DATE_EPOCH": str(plan.source_date_epoch), "LC_ALL": "C"}
        timed = run_timed(cmd, cwd=out, env=env)
        rpms = list((out / "top" / "RPMS").rglob("*.rpm"))
        assert len(rpms) == 1, rpms
        return Sample(timed.wall, timed.cpu, rpms[0].stat().st_size)

    return Case(key, label, "rpmbuild", run)


def dpkg_deb_case(inp: Inputs, options: list[str], *, key: str, label: str) -> Case:
    plan = plan_for(inp, "deb", "debian-12")
    base = inp.work / f"dpkg-{key}"
    tree = base / "tree"
    entries = write_tree(plan, tree)
    (tree / "DEBIAN").mkdir()
    control = {
        "Package": plan.name,
        "Version": f"{plan.version}-{plan.release}",
        "Architecture": plan.pkg_arch,
        "Maintainer": "Monitoring Hub <packages@monitoring-hub.invalid>",
        "Section": "net",
        "Priority": "optional",
        "Description": plan.description.replace("\n", "\n "),  # synopsis, then " ."-style lines
    }
    if plan.depends:
        control["Depends"] = ", ".join(plan.depends)
    (tree / "DEBIAN" / "control").write_text("".join(f"{k}: {v}\n" for k, v in control.items()))
    conffiles = [e.dst for e in entries if e.config and not e.is_dir]
    if conffiles:
        (tree / "DEBIAN" / "conffiles").write_text("".join(f"{c}\n" for c in conffiles))

    def run(out: Path) -> Sample:
        target = out / f"{plan.name}.deb"
        cmd = ["dpkg-deb", "--root-owner-group", *options, "--build", str(tree), str(target)]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(plan.source_date_epoch), "LC_ALL": "C"}
        timed = run_timed(cmd, cwd=out, env=env)
        return Sample(timed.wall, timed.cpu, target.stat().st_size)

    return Case(key, label, "dpkg-deb", run)


def payload_of(path: Path) -> str:
    """What compresses the payload, read back from the file."""
    if path.suffix == ".rpm":
        proc = subprocess.run(
            ["rpm", "-qp", "--nosignature", "--qf", "%{PAYLOADCOMPRESSOR}:%{PAYLOADFLAGS}", str(path)],
            capture_output=True,
            text=True,
        )
        comp, _, level = proc.stdout.strip().partition(":")
        return f"{comp} {level}".strip()
    members = subprocess.run(["ar", "t", str(path)], capture_output=True, text=True).stdout.split()
    data = [m for m in members if m.startswith("data.tar")]
    suffix = data[0].removeprefix("data.tar.") if data else "?"
    return {"zst": "zstd", "gz": "gzip"}.get(suffix, suffix)


# --------------------------------------------------------------------------------------------


def build_cases(inp: Inputs) -> list[Case]:
    return [
        ours_case(inp, "rpm", "el9", key="ours-el9", label="ours: `hub package`, rpm el9"),
        ours_case(inp, "rpm", "el8", key="ours-el8", label="ours: `hub package`, rpm el8"),
        ours_case(inp, "deb", "debian-12", key="ours-deb", label="ours: `hub package`, deb debian-12"),
        rpmbuild_case(inp, None, key="rpmbuild", label="`rpmbuild -bb`, Debian's defaults"),
        rpmbuild_case(inp, "w19.zstdio", key="rpmbuild-zstd19", label="`rpmbuild -bb -D '_binary_payload w19.zstdio'`"),
        rpmbuild_case(inp, "w6.xzdio", key="rpmbuild-xz", label="`rpmbuild -bb -D '_binary_payload w6.xzdio'`"),
        dpkg_deb_case(inp, [], key="dpkg-deb", label="`dpkg-deb --build`, default compression"),
        dpkg_deb_case(inp, ["-Zxz"], key="dpkg-deb-xz", label="`dpkg-deb --build -Zxz`"),
        dpkg_deb_case(inp, ["-Zzstd", "-z19"], key="dpkg-deb-zstd19", label="`dpkg-deb --build -Zzstd -z19`"),
        nfpm_alone_case(inp, "rpm", "el9", key="nfpm-el9", label=f"nfpm alone, our el9 config ({_RPM_LEVEL})"),
        nfpm_alone_case(
            inp, "deb", "debian-12", key="nfpm-deb", label=f"nfpm alone, our debian-12 config ({_DEB_LEVEL})"
        ),
        engine_startup_case(),
        ours_case(
            inp,
            "rpm",
            "el9",
            levels={"zstd": "zstd:3"},
            key="ours-el9-zstd3",
            label="ours, rpm el9 at zstd:3",
            group="profile",
        ),
        ours_case(
            inp,
            "rpm",
            "el9",
            levels={"zstd": "zstd:6"},
            key="ours-el9-zstd6",
            label="ours, rpm el9 at zstd:6",
            group="profile",
        ),
        ours_case(
            inp,
            "rpm",
            "el9",
            levels={"zstd": "zstd:10"},
            key="ours-el9-zstd10",
            label="ours, rpm el9 at zstd:10",
            group="profile",
        ),
        ours_case(
            inp,
            "deb",
            "debian-12",
            levels={"zstd": "zstd:3"},
            key="ours-deb-zstd3",
            label="ours, deb debian-12 at zstd:3",
            group="profile",
        ),
        ours_case(
            inp,
            "rpm",
            "el8",
            levels={"zstd": "gzip"},
            key="ours-el8-gzip",
            label="ours, rpm el8 with gzip (nfpm's level 9)",
            group="profile",
        ),
    ]


GROUPS = ("ours", "rpmbuild", "dpkg-deb", "profile")  # the order of the report's rows
# ours vs standard: (ours key, standard key, what is compared)
_RPM_LEVEL = engine_nfpm.nfpm_compression("rpm", "zstd")
_DEB_LEVEL = engine_nfpm.nfpm_compression("deb", "zstd")
PAIRS = (
    ("ours-el9", "rpmbuild", f"rpm el9 ({_RPM_LEVEL}) vs rpmbuild, Debian defaults (gzip -9)"),
    ("ours-el9", "rpmbuild-zstd19", f"rpm el9 ({_RPM_LEVEL}) vs rpmbuild at zstd 19"),
    ("ours-el8", "rpmbuild-xz", f"rpm el8 ({_RPM_LEVEL}) vs rpmbuild at xz -6"),
    ("ours-deb", "dpkg-deb", f"deb ({_DEB_LEVEL}) vs dpkg-deb default (xz)"),
    ("ours-deb", "dpkg-deb-zstd19", f"deb ({_DEB_LEVEL}) vs dpkg-deb -Zzstd -z19"),
    ("ours-el9-zstd3", "rpmbuild-zstd19", "rpm el9 at zstd:3 vs rpmbuild at zstd 19"),
)


def run_all(cases: list[Case], runs: int, work: Path) -> tuple[dict[str, list[Sample]], dict[str, str], list[str]]:
    samples: dict[str, list[Sample]] = {c.key: [] for c in cases}
    payloads: dict[str, str] = {}
    loads = [load_average()]
    for r in range(runs):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]
        for case in order:
            out = work / "out" / f"{case.key}-{r}"
            out.mkdir(parents=True)
            samples[case.key].append(case.run(out))
            if case.key not in payloads:
                built = [p for p in out.rglob("*") if p.suffix in (".rpm", ".deb")]
                payloads[case.key] = payload_of(built[0]) if built else ""
            shutil.rmtree(out)
        loads.append(load_average())
        print(f"round {r + 1}/{runs} done (load {loads[-1]})", file=sys.stderr)
    return samples, payloads, loads


def report(
    cases: list[Case],
    samples: dict[str, list[Sample]],
    payloads: dict[str, str],
    loads: list[str],
    inp: Inputs,
    runs: int,
) -> str:
    wall = {k: median([s.wall for s in v]) for k, v in samples.items()}
    cpu = {k: median([s.cpu for s in v]) for k, v in samples.items()}
    size = {k: median([s.size for s in v]) for k, v in samples.items()}
    lines = [
        SECTION,
        "",
        f"Measured {today()} on a shared machine with {os.cpu_count()} cores, "
        f"{distro()}, CPython {platform.python_version()}; rpm {tool_version(['rpmbuild', '--version'])}, "
        f"dpkg-deb {tool_version(['dpkg-deb', '--version'])}, nfpm {tool_version([inp.nfpm, '--version'])}. "
        f"{runs} rounds, every case once per round (order rotated), medians. Load average (1 min) "
        f"{', '.join(loads)} (before and after each round): other jobs share the machine, so read the "
        "ratios and the CPU column.",
        "",
        f"Input: Debian's real node_exporter binary (prometheus-node-exporter {inp.debian_version}, amd64, "
        f"{inp.binary_size:,} bytes) under the repository's node_exporter manifest. Every build packages the "
        "same files (binary, unit, environment file, docs, license); the rpmbuild and dpkg-deb trees are "
        "written from our package plan, without maintainer scripts. *ours* is a fresh "
        "`python -m hub package --request request.json` with the request the Pants rule writes: "
        "the process the cached Pants action runs, minus the sandbox and the PEX venv start-up. "
        "CPU is user+sys of the process and its children.",
        "",
    ]
    ordered = [c for group in GROUPS for c in cases if c.group == group]
    lines += table(
        ("build", "payload (as the package records it)", "wall, median", "wall, min–max", "CPU, median", "size"),
        [
            (
                c.label,
                payloads.get(c.key) or "–",
                seconds(wall[c.key], 2),
                span([s.wall for s in samples[c.key]], 2),
                seconds(cpu[c.key], 2),
                f"{size[c.key]:,.0f}" if size[c.key] else "–",
            )
            for c in ordered
        ],
        "llrrrr",
    )
    lines += [
        "",
        "Ratios, ours / standard (below 1: ours is faster or smaller):",
        "",
        *table(
            ("comparison", "wall", "CPU", "size"),
            [
                (what, f"{wall[a] / wall[b]:.2f}", f"{cpu[a] / cpu[b]:.2f}", f"{size[a] / size[b]:.3f}")
                for a, b, what in PAIRS
            ],
            "lrrr",
        ),
    ]
    overhead_el9 = cpu["ours-el9"] - cpu["nfpm-el9"]
    overhead_deb = cpu["ours-deb"] - cpu["nfpm-deb"]
    same_10_19 = size["ours-el9-zstd10"] == size["ours-el9"]
    lines += [
        "",
        f"Where our time goes: nfpm itself is {cpu['nfpm-el9'] / cpu['ours-el9']:.0%} (el9) and "
        f"{cpu['nfpm-deb'] / cpu['ours-deb']:.0%} (deb) of our CPU; the rest, {overhead_el9:.2f} s and "
        f"{overhead_deb:.2f} s, is the engine (interpreter start and the CLI's imports: "
        f"{cpu['engine-start']:.2f} s CPU for `--help` alone; then the plan, the ELF check, staging, the "
        "sha256 of the package and the artifact JSON). Within nfpm, compression dominates: zstd:3 instead of "
        f"zstd:19 takes the el9 build from {cpu['ours-el9']:.2f} s to {cpu['ours-el9-zstd3']:.2f} s CPU "
        f"({size['ours-el9-zstd3'] / size['ours-el9'] - 1:+.1%} size), zstd:6 to {cpu['ours-el9-zstd6']:.2f} s "
        f"({size['ours-el9-zstd6'] / size['ours-el9'] - 1:+.1%}), the deb from {cpu['ours-deb']:.2f} s "
        f"to {cpu['ours-deb-zstd3']:.2f} s at zstd:3 ({size['ours-deb-zstd3'] / size['ours-deb'] - 1:+.1%}); "
        f"el8 ({_RPM_LEVEL}) costs {cpu['ours-el8']:.2f} s CPU, gzip would cost {cpu['ours-el8-gzip']:.2f} s "
        f"({size['ours-el8-gzip'] / size['ours-el8'] - 1:+.1%} size).",
        "",
        "nfpm compresses with Go libraries, not libzstd/liblzma: its zstd levels are the four speeds of "
        "klauspost/compress (1–2 fastest, 3–5 default, 6–9 better, 10 and up best), so "
        + (
            f"zstd:10 and zstd:19 give the same size ({size['ours-el9']:,.0f} bytes) and time, and "
            if same_10_19
            else f"(here zstd:10 gave {size['ours-el9-zstd10']:,.0f} bytes, zstd:19 " f"{size['ours-el9']:,.0f}) and "
        )
        + f"our \"zstd:19\" is {size['ours-el9'] / size['rpmbuild-zstd19'] - 1:+.1%} larger than libzstd's "
        f"level 19 in rpmbuild, which costs {cpu['rpmbuild-zstd19'] / cpu['ours-el9']:.1f}× the CPU; "
        f"rpmbuild's xz -6 is {size['rpmbuild-xz'] / size['ours-el8'] - 1:+.1%} in size against our el8 "
        f"for {cpu['rpmbuild-xz'] / cpu['ours-el8']:.1f}× its CPU.",
        "",
        "Reproduce:",
        "",
        "```sh",
        'source "$(build-support/ci/install-tools.sh | tail -1)"',
        f"./pants run build-support/bench/package_bench.py -- --runs {runs} --write-docs",
        "```",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--nfpm",
        default=os.environ.get("HUB_NFPM") or shutil.which("nfpm"),
        help="nfpm binary (default: $HUB_NFPM, then nfpm on PATH)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the work files here (default: a temporary directory)")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"replace the {SECTION[3:]!r} section of docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    if not args.nfpm:
        parser.error("no nfpm: export HUB_NFPM (build-support/ci/install-tools.sh prints it) or pass --nfpm")
    require_tools("rpmbuild", "dpkg-deb", "rpm", "ar")
    with scratch_dir(args.workdir, "package-bench-") as scratch:
        work = scratch / "package-bench"  # this run's files, from scratch; the rest of --workdir is kept
        shutil.rmtree(work, ignore_errors=True)
        inp = prepare_inputs(work, os.path.abspath(args.nfpm))
        cases = build_cases(inp)
        samples, payloads, loads = run_all(cases, args.runs, work)
    text = report(cases, samples, payloads, loads, inp, args.runs)
    publish(text, write_docs=args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
