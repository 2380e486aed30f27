"""The "legacy" demo packages: what the engine built before least privilege, kept as text.

Before the `privilege` work, maintainer scripts created the service user with useradd and
gave it its paths with chown/chmod by path (DEB postinst, RPM %post); units had no sandbox.
Hosts in the field run such packages, and the lifecycle tests upgrade them to today's. To
build one honestly, the engine of that time generated the nfpm configuration, maintainer
scripts, unit and every other generated file of the lifecycle demo (LIFECYCLE in
integration.demo_packages, without grants, which that engine did not know), and they are
stored under fixtures/legacy/<kind>-<dist>/ with placeholders instead of paths:

- `@FIXTURE@`: the directory of a working copy of the fixture (generated files, scripts,
  the RPM changelog, the assets the manifest's extra files come from);
- `@BINARIES@`: a binaries dir holding Debian's node_exporter and its copyright as LICENSE.

Generated files that are gzip (changelog.Debian.gz) are stored decompressed, with `.txt`
appended to their name; `build` compresses them again (gzip -9n, as the engine did).

Regenerate (see fixtures/legacy/README.md) with the engine of the commit to reproduce, e.g.
from a checkout of that commit at $OLD:
    PYTHONPATH=$OLD/src/python:tests python -m integration.legacy_fixture tests/integration/fixtures/legacy
The build side (`build`) runs with any engine: it needs nfpm only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURE_ROOT = Path(__file__).parent / "fixtures" / "legacy"
VERSION = "1.0.0"
# What the fixture holds: (kind, dist) of the lifecycle demo's 1.0.0 package, amd64.
PACKAGES = (("deb", "debian-12"), ("deb", "debian-13"), ("rpm", "el9"))
ARCH = "amd64"
PLACEHOLDER_FIXTURE = "@FIXTURE@"
PLACEHOLDER_BINARIES = "@BINARIES@"
BUILD_FILE = "build.json"  # the package's file name, nfpm packager and SOURCE_DATE_EPOCH
GZIP_SUFFIX = ".gz"
STORED_GZIP_SUFFIX = ".gz.txt"


def fixture_dir(kind: str, dist: str) -> Path:
    return FIXTURE_ROOT / f"{kind}-{dist}"


# --- generation (with the old engine) -----------------------------------------------------------


def _gzip_n(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buffer.getvalue()


def generate(out_root: Path) -> None:
    """Plans and stages the legacy packages with the importable engine (the old one)."""
    import dataclasses

    import hub
    from hub.manifest.load import load_manifest
    from hub.packaging.build import check_elf, upstream_docs
    from hub.packaging.nfpm import stage
    from hub.packaging.plan import plan_package
    from hub.upstream import lock as fetch
    from integration.demo_packages import LIFECYCLE, SOURCE_DATE, node_exporter_binaries

    demo = dataclasses.replace(LIFECYCLE, grants=())
    commit = subprocess.run(
        ["git", "-C", os.path.dirname(hub.__file__), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="hub-legacy-") as tmp:
        work = Path(tmp)
        binaries = node_exporter_binaries(work / "binaries", ARCH)
        exporter = work / "exporter" / demo.name
        demo.write_exporter_dir(exporter, VERSION)
        manifest = load_manifest(str(exporter / "manifest.yaml"))
        data = (binaries / demo.binary).read_bytes()
        archive = fetch.LockedArchive(manifest.archive_url(ARCH), hashlib.sha256(data).hexdigest(), len(data))
        lock = fetch.Lock(demo.name, VERSION, SOURCE_DATE[VERSION], {ARCH: archive})
        dynamic = [b for b in manifest.build.binaries if check_elf(str(binaries / b), ARCH)]
        for kind, dist in PACKAGES:
            plan = plan_package(
                manifest,
                lock,
                kind=kind,
                arch=ARCH,
                dist=dist,
                binaries_dir=str(binaries),
                upstream_docs=upstream_docs(str(binaries)),
                dynamic_binaries=dynamic,
            )
            staged = work / f"stage-{kind}-{dist}"
            config_path = Path(stage(plan, str(staged)))
            out = out_root / f"{kind}-{dist}"
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            text = config_path.read_text()
            for path in sorted(staged.rglob("*")):
                if path.is_file() and path != config_path:
                    rel = path.relative_to(staged)
                    dest = out / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if path.name.endswith(GZIP_SUFFIX):
                        dest = dest.with_name(path.name[: -len(GZIP_SUFFIX)] + STORED_GZIP_SUFFIX)
                        dest.write_bytes(gzip.decompress(path.read_bytes()))
                    else:
                        shutil.copy(path, dest)
            shutil.copytree(exporter / "assets", out / "assets")
            text = text.replace(str(exporter / "assets"), f"{PLACEHOLDER_FIXTURE}/assets")
            text = text.replace(str(staged), PLACEHOLDER_FIXTURE).replace(str(binaries), PLACEHOLDER_BINARIES)
            if tmp in text:
                raise SystemExit(f"{kind}-{dist}: a temporary path is left in the nfpm configuration:\n{text}")
            (out / "nfpm.json").write_text(text)
            build = {
                "generated_by": commit,
                "filename": plan.filename,
                "packager": kind,
                "source_date_epoch": plan.source_date_epoch,
            }
            (out / BUILD_FILE).write_text(json.dumps(build, indent=2, sort_keys=True) + "\n")
            print(f"{out}: {plan.filename} ({len(list(out.rglob('*')))} files)")


# --- the build (with today's nfpm) --------------------------------------------------------------


def build(kind: str, dist: str, *, binaries: Path, nfpm: str, workdir: Path) -> Path:
    """The legacy package of the fixture, built by nfpm from a working copy with the
    placeholders replaced; returns its path (in `workdir`)."""
    source = fixture_dir(kind, dist)
    work = workdir / f"legacy-{kind}-{dist}"
    shutil.copytree(source, work)
    for stored in work.rglob(f"*{STORED_GZIP_SUFFIX}"):
        original = stored.with_name(stored.name[: -len(STORED_GZIP_SUFFIX)] + GZIP_SUFFIX)
        original.write_bytes(_gzip_n(stored.read_bytes()))
        stored.unlink()
    for script in (work / "scripts").iterdir():
        script.chmod(0o755)
    config = (work / "nfpm.json").read_text()
    config = config.replace(PLACEHOLDER_FIXTURE, str(work)).replace(PLACEHOLDER_BINARIES, str(binaries))
    (work / "nfpm.json").write_text(config)
    meta = json.loads((work / BUILD_FILE).read_text())
    target = workdir / meta["filename"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOURCE_DATE_EPOCH": str(meta["source_date_epoch"]),
        "HUB_NFPM_DOLLAR": "$",  # the engine's escape for `$` in fields nfpm expands
        "TZ": "UTC",
        "LC_ALL": "C",
    }
    result = subprocess.run(
        [nfpm, "package", "--config", str(work / "nfpm.json"), "--packager", meta["packager"], "--target", str(target)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and target.is_file(), f"nfpm failed:\n{result.stdout}{result.stderr}"
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python -m integration.legacy_fixture <output dir>\n\n{__doc__}")
    generate(Path(sys.argv[1]))
