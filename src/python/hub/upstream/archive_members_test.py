"""Tests for hub.upstream.archive_members: names, links, modes, duplicates and size limits.

Most hostile archives put the hostile member *after* a perfectly good binary, to prove that the
whole archive is validated before anything is written.
"""

from __future__ import annotations

import gzip
import stat
import tarfile
from pathlib import Path

import pytest

from hub.upstream.archive import Limits
from testkit.archives import (
    AMD64,
    ARM64,
    ROOT,
    TGZ,
    Corpus,
    KiB,
    MiB,
    entry,
    hostile_tar,
    noise,
    prometheus_layout,
    write_tar,
    write_zip,
    zinfo,
)


# --- Hostile members: names, links, special bits, duplicates, counts, sizes, ratios -----------
CORPUS = Corpus()


@CORPUS.case("tar-dotdot", "member '../../etc/cron.d/evil': its name has a '..' component")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("../../etc/cron.d/evil", b"* * * * * root sh\n"))


@CORPUS.case("tar-dotdot-inside", "has a '..' component")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/../../evil", b"x"))


@CORPUS.case("tar-absolute", "member '/etc/passwd': its name is an absolute path")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("/etc/passwd", b"root::0:0::/:/bin/sh\n"))


@CORPUS.case("tar-backslash", "contains a backslash")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry("..\\..\\evil.sh", b"x"))


@CORPUS.case("tar-symlink-escape", "is a symbolic link to '../../../etc/shadow', which points outside the archive")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.SYMTYPE, linkname="../../../etc/shadow"))


@CORPUS.case("tar-symlink-absolute", "points outside the archive (absolute target)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/etc", type=tarfile.SYMTYPE, linkname="/etc"))


@CORPUS.case("tar-symlink-chain-escape", "is a symbolic link to 'here/../outside', which points outside the archive")
def _(tmp: Path) -> Path:
    # Lexically "here/../outside" stays inside; through the link "here" -> "." it does not.
    return hostile_tar(
        tmp,
        entry("here", type=tarfile.SYMTYPE, linkname="."),
        entry("escape", type=tarfile.SYMTYPE, linkname="here/../outside"),
    )


@CORPUS.case("tar-symlink-loop", "symbolic link loop")
def _(tmp: Path) -> Path:
    return hostile_tar(
        tmp,
        entry(f"{ROOT}/a", type=tarfile.SYMTYPE, linkname="b"),
        entry(f"{ROOT}/b", type=tarfile.SYMTYPE, linkname="a"),
    )


@CORPUS.case(
    "tar-write-through-symlink", f"member '{ROOT}/lib/evil': lies under '{ROOT}/lib', which is a symbolic link"
)
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/lib", type=tarfile.SYMTYPE, linkname="."), entry(f"{ROOT}/lib/evil", b"x"))


@CORPUS.case("tar-hardlink-escape", "is a hard link to '../../etc/shadow', which has a '..' component")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.LNKTYPE, linkname="../../etc/shadow"))


@CORPUS.case(
    "tar-hardlink-outside-name", "is a hard link to 'etc/shadow', which is not an earlier regular file of the archive"
)
def _(tmp: Path) -> Path:
    # tar would link to whatever "etc/shadow" is on disk relative to the extraction directory.
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.LNKTYPE, linkname="etc/shadow"))


@CORPUS.case("tar-hardlink-absolute", "is a hard link to '/etc/shadow', which is an absolute path")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/shadow", type=tarfile.LNKTYPE, linkname="/etc/shadow"))


@CORPUS.case("tar-setuid-binary", f"member '{ROOT}/node_exporter': has the setuid bit set (mode 4755)")
def _(tmp: Path) -> Path:
    return write_tar(tmp / TGZ, [entry(f"{ROOT}/node_exporter", AMD64, mode=0o4755)])


@CORPUS.case("tar-setgid", "has the setgid bit set (mode 2755)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/helper", b"#!/bin/sh\n", mode=0o2755))


@CORPUS.case("tar-sticky-dir", "has the sticky bit set (mode 1777)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/tmp/", type=tarfile.DIRTYPE, mode=0o1777))


@CORPUS.case("tar-duplicate-shadowing", f"is a second entry for '{ROOT}/node_exporter'")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/node_exporter", ARM64, mode=0o755))


@CORPUS.case("tar-duplicate-normalized", f"member './{ROOT}//node_exporter': is a second entry")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"./{ROOT}//node_exporter", ARM64, mode=0o755))


@CORPUS.case("tar-member-count-bomb", "more than 20 members", limits=Limits(max_members=20))
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, *(entry(f"{ROOT}/empty/{i}") for i in range(100)))


@CORPUS.case(
    "tar-size-bomb-declared",
    "is 2097152 bytes, over the per-member limit of 1048576 bytes",
    limits=Limits(max_member_size=1 * MiB),
)
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/big", noise(2 * MiB, seed=1)))


@CORPUS.case("tar-total-size-bomb", "over 1048576 bytes", limits=Limits(max_total_size=1 * MiB))
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, *(entry(f"{ROOT}/part{i}", noise(400 * KiB, seed=i)) for i in range(3)))


@CORPUS.case("tar-ratio-bomb", "expands more than 200:1")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/zeros", bytes(8 * MiB)))


@CORPUS.case("tar-xz-ratio-bomb", "expands more than 200:1")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/zeros", bytes(8 * MiB)), compression="xz")


@CORPUS.case("zip-dotdot", "member '../../evil.sh': its name has a '..' component")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("../../evil.sh"), b"x")])


@CORPUS.case("zip-absolute", "member '/usr/bin/evil': its name is an absolute path")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("/usr/bin/evil"), b"x")])


@CORPUS.case("zip-backslash", "contains a backslash")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("..\\..\\evil.exe"), b"x")])


@CORPUS.case("zip-symlink-escape", "is a symbolic link to '../../../etc/passwd', which points outside the archive")
def _(tmp: Path) -> Path:
    return write_zip(
        tmp / f"{ROOT}.zip",
        [(zinfo("node_exporter"), AMD64), (zinfo("passwd", stat.S_IFLNK | 0o777), b"../../../etc/passwd")],
    )


@CORPUS.case("zip-setuid", "member 'node_exporter': has the setuid bit set (mode 4755)")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter", stat.S_IFREG | 0o4755), AMD64)])


@CORPUS.case("zip-duplicate", "is a second entry for 'node_exporter'")
def _(tmp: Path) -> Path:
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name, and writes it
        return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("node_exporter"), ARM64)])


@CORPUS.case("zip-ratio-bomb", "expands more than 200:1")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("zeros"), bytes(8 * MiB))])


@CORPUS.case(
    "gz-size-bomb",
    "member 'foo_exporter-1.0-linux-amd64': expands to more than 1048576 bytes",
    binaries=["foo_exporter"],
    limits=Limits(max_member_size=1 * MiB),
)
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(AMD64 + noise(2 * MiB, seed=3), mtime=0))
    return path


@CORPUS.case("gz-ratio-bomb", "expands more than 200:1", binaries=["foo_exporter"])
def _(tmp: Path) -> Path:
    path = tmp / "foo_exporter-1.0-linux-amd64.gz"
    path.write_bytes(gzip.compress(AMD64[:64] + bytes(16 * MiB), mtime=0))
    return path


@CORPUS.case("name-nul", "its name contains a NUL byte")
def _(tmp: Path) -> Path:
    # A NUL cannot live in a ustar name field, but it can in a pax "path" record.
    return hostile_tar(tmp, entry(f"{ROOT}/evil", b"x", pax={"path": f"{ROOT}/evil\0.txt"}))


@CORPUS.case("name-control-char", "its name contains a control character (U+001B)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/\x1b]0;pwned\x07", b"x"))


@CORPUS.case("name-newline", "its name contains a control character (U+000A)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/README\nnode_exporter", b"x"))


@CORPUS.case("name-bidi-override", "its name contains an invisible formatting character (U+202E)")
def _(tmp: Path) -> Path:
    return hostile_tar(tmp, entry(f"{ROOT}/evil\u202etxt.sh", b"x"))


@CORPUS.case("name-invalid-utf8", "bytes that are not valid UTF-8")
def _(tmp: Path) -> Path:
    return write_tar(
        tmp / TGZ,
        prometheus_layout() + [entry(f"{ROOT}/bad\udcff", b"x")],
        format=tarfile.GNU_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    )


@CORPUS.case("zip-name-control-char", "its name contains a control character (U+0007)")
def _(tmp: Path) -> Path:
    return write_zip(tmp / f"{ROOT}.zip", [(zinfo("node_exporter"), AMD64), (zinfo("bell\x07"), b"x")])


@pytest.mark.parametrize("name", CORPUS.names())
def test_hostile_archive_is_refused(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CORPUS.check_refused(name, tmp_path, monkeypatch)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS.cases) >= 20
