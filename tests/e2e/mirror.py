"""The end-to-end upstream mirror: every exporter of the repository, amd64 and arm64 as declared.

`hub.upstream.mirror.build_mirror` repacks Debian's real builds (16 exporters). For the others
(status "no-debian-build"), this module packs a small static stand-in exporter
(`standin/standin.c`, compiled here for amd64 and arm64) under each binary name the manifest
declares (`build.binary_name` and `build.extra_binaries`), with `hub.upstream.repack.pack_archive`, in
the exporter's own archive naming (`upstream.archive_name`: .tar.gz, .zip or a single .gz) and
at the path GitHub serves it from: `<owner>/<repo>/releases/download/<tag>/<file>`.

Everything is reproducible: the stand-in is compiled with fixed flags (no debug info, no build
id, stripped; the same compiler gives the same bytes) and packed with one fixed timestamp.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from hub.common.matrix import ELF_MACHINE
from hub.upstream.mirror import (
    STATUS_NO_DEBIAN_BUILD,
    STATUS_OK,
    MirrorEntry,
    build_mirror,
    elf_machine,
    mirror_path,
)
from hub.upstream.repack import archive_kind, pack_archive

STATUS_STANDIN = "standin"
SOURCE = Path(__file__).resolve().parent / "standin" / "standin.c"
# The compiler of each arch (Debian: gcc, and gcc-aarch64-linux-gnu with libc6-dev-arm64-cross).
COMPILERS = {"amd64": "gcc", "arm64": "aarch64-linux-gnu-gcc"}
# Deterministic: no debug info, no build id, symbols stripped, no path of this machine inside.
CFLAGS = ("-static", "-Os", "-s", "-g0", "-Wall", "-Wextra", "-Werror", "-Wl,--build-id=none")
# The timestamp of every member of a stand-in archive (2024-01-01T00:00:00Z).
STANDIN_MTIME = 1704067200
STANDIN_LICENSE = (
    b"Test stand-in for an exporter Debian does not build: tests/e2e/standin/standin.c of\n"
    b"Monitoring Hub. Not the upstream binary; it only serves <name>_build_info on /metrics.\n"
)


def compile_standin(out_dir: Path, archs: Sequence[str] = ("amd64", "arm64")) -> dict[str, Path]:
    """Compiles the stand-in statically for each arch; returns {arch: binary}. Each binary is
    checked to be a static ELF of its arch."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    built = {}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    for arch in archs:
        cc = shutil.which(COMPILERS[arch])
        if not cc:
            raise AssertionError(
                f"{COMPILERS[arch]} is not installed: run build-support/ci/install-tools.sh "
                "(gcc, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross)"
            )
        out = out_dir / f"standin-{arch}"
        # From the source's directory with a relative name: the command line holds no host path
        # that could reach the binary.
        result = subprocess.run(
            [cc, *CFLAGS, "-o", str(out), SOURCE.name],
            cwd=SOURCE.parent,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise AssertionError(f"compiling the {arch} stand-in failed:\n{result.stdout}\n{result.stderr}")
        data = out.read_bytes()
        if elf_machine(data) != ELF_MACHINE[arch]:
            raise AssertionError(f"{out}: e_machine {elf_machine(data)}, expected {ELF_MACHINE[arch]}")
        if _has_interpreter(data):
            raise AssertionError(f"{out}: not static (it has a PT_INTERP program header)")
        built[arch] = out
    return built


def _has_interpreter(elf: bytes) -> bool:
    """Whether a 64-bit little-endian ELF names a dynamic loader (PT_INTERP)."""
    phoff = int.from_bytes(elf[32:40], "little")
    phentsize = int.from_bytes(elf[54:56], "little")
    phnum = int.from_bytes(elf[56:58], "little")
    return any(
        int.from_bytes(elf[phoff + i * phentsize : phoff + i * phentsize + 4], "little") == 3 for i in range(phnum)
    )


def standin_layout(file_name: str) -> str:
    """goreleaser's archives (`<name>_<version>_linux_<arch>.tar.gz`) hold their files at the
    root; promu's and most hand-made ones put them under one directory named after the archive."""
    return "flat" if "_linux_" in file_name else "dir"


def _pack_standin(manifest, arch: str, binary: bytes, out_dir: Path) -> MirrorEntry:
    file_name = manifest.archive_name(arch)
    names = tuple(manifest.build.binaries)
    if archive_kind(file_name) == "gz" and len(names) != 1:
        raise AssertionError(f"{manifest.name}: {file_name} is a single .gz, but it declares {names}")
    data = pack_archive(
        file_name,
        {name: binary for name in names},
        mtime=STANDIN_MTIME,
        license_text=STANDIN_LICENSE,
        layout=standin_layout(file_name),
    )
    rel = mirror_path(manifest, arch)
    target = out_dir.joinpath(*rel.split("/"))
    _write(target, data)
    return MirrorEntry(
        exporter=manifest.name,
        arch=arch,
        status=STATUS_STANDIN,
        url_path=rel,
        path=target,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mtime=STANDIN_MTIME,
        detail=f"static stand-in serving {names[0].replace('-', '_')}_build_info",
    )


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def build_e2e_mirror(
    manifests: Sequence,
    out_dir: Path,
    *,
    cache_dir: Path,
    standins: Mapping[str, Path],
    jobs: int = 2,
) -> list[MirrorEntry]:
    """`hub.upstream.mirror.build_mirror`, then a stand-in archive for every "no-debian-build" entry.

    Returns one entry per (exporter, declared arch), in order: status "ok" (Debian's build) or
    "standin"."""
    out_dir = Path(out_dir)
    entries = build_mirror(manifests, out_dir, cache_dir=cache_dir, jobs=jobs)
    by_name = {m.name: m for m in manifests}
    binaries = {arch: Path(path).read_bytes() for arch, path in standins.items()}
    result = []
    for entry in entries:
        if entry.status == STATUS_NO_DEBIAN_BUILD:
            manifest = by_name[entry.exporter]
            if entry.arch not in binaries:
                raise AssertionError(f"no stand-in compiled for {entry.arch} ({entry.exporter})")
            packed = _pack_standin(manifest, entry.arch, binaries[entry.arch], out_dir)
            assert packed.url_path == entry.url_path, (packed, entry)
            result.append(packed)
        elif entry.status == STATUS_OK:
            result.append(entry)
        else:
            raise AssertionError(f"{entry.exporter}/{entry.arch}: cannot mirror ({entry.status}: {entry.detail})")
    return result


def is_standin(entry: MirrorEntry) -> bool:
    return entry.status == STATUS_STANDIN


__all__ = ["STATUS_STANDIN", "STATUS_OK", "build_e2e_mirror", "compile_standin", "is_standin", "standin_layout"]
