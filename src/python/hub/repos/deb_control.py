"""Reading a .deb's control fields in Python, without dpkg.

A .deb is an ar archive: `debian-binary`, then the *control member* `control.tar[.gz|.xz|.zst]`
(the package's `control` file and maintainer scripts), then `data.tar.*`. nfpm writes gzip;
dpkg-deb may write zstd, which is decompressed with the `zstandard` module or the `zstd`
command, else read with `dpkg-deb --ctrl-tarfile`. The newest ar member mtime is the
package's build time (nfpm and dpkg-deb set it from SOURCE_DATE_EPOCH).
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import re
import shutil
import subprocess
import tarfile

from hub.common.errors import HubError


def ar_members(data: bytes, where: str) -> dict[str, tuple[int, int, int]]:
    """{name: (offset, size, mtime)} of an ar archive (the .deb container)."""
    if not data.startswith(b"!<arch>\n"):
        raise HubError(f"{where}: not a .deb (no ar archive header)")
    members = {}
    i = 8
    while i + 60 <= len(data):
        header = data[i : i + 60]
        if header[58:60] != b"`\n":
            raise HubError(f"{where}: corrupt ar member header at byte {i}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            mtime = int(header[16:28].strip() or b"0")
            size = int(header[48:58].strip())
        except ValueError:
            raise HubError(f"{where}: corrupt ar member header at byte {i}") from None
        members[name] = (i + 60, size, mtime)
        i += 60 + size + (size & 1)
    return members


def _control_tar(data: bytes, where: str) -> tuple[bytes, int]:
    """The uncompressed control.tar of a .deb, and the newest ar member mtime."""
    members = ar_members(data, where)
    names = list(members)
    if not names or names[0] != "debian-binary":
        raise HubError(f"{where}: not a .deb (the first member is not debian-binary)")
    control = [n for n in names if n.startswith("control.tar")]
    if len(control) != 1:
        raise HubError(f"{where}: expected one control.tar member, found {control or 'none'}")
    name = control[0]
    offset, size, _ = members[name]
    raw = data[offset : offset + size]
    mtime = max(m for _, _, m in members.values())
    if name == "control.tar":
        return raw, mtime
    if name == "control.tar.gz":
        return gzip.decompress(raw), mtime
    if name == "control.tar.xz":
        return lzma.decompress(raw), mtime
    if name == "control.tar.zst":
        return _unzstd(raw, where), mtime
    raise HubError(f"{where}: unknown control member {name}")


def _unzstd(raw: bytes, where: str) -> bytes:
    try:
        # Optional, and not in the engine's resolve: mypy cannot find it (the zstd tool is the fallback).
        import zstandard  # type: ignore[import-not-found]

        return zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    except ImportError:
        pass
    zstd = shutil.which("zstd")
    if zstd:
        result = subprocess.run([zstd, "-dc"], input=raw, capture_output=True)
        if result.returncode == 0:
            return result.stdout
        raise HubError(f"{where}: zstd could not decompress control.tar.zst: {result.stderr.decode(errors='replace')}")
    raise HubError(f"{where}: control.tar.zst needs the zstd command or dpkg-deb")


def _dpkg_deb_control(path: str) -> bytes:
    result = subprocess.run(["dpkg-deb", "--ctrl-tarfile", path], capture_output=True)
    if result.returncode != 0:
        raise HubError(f"{path}: dpkg-deb --ctrl-tarfile failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def parse_control(text: str, where: str) -> list[tuple[str, str]]:
    """The fields of one deb822 paragraph, in order; continuation lines stay in the value."""
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # one paragraph only
            continue
        if line[0] in " \t":
            if not fields:
                raise HubError(f"{where}: control: a continuation line before any field")
            name, value = fields[-1]
            fields[-1] = (name, value + "\n" + line)
            continue
        name, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"[!-9;-~][!-9;-~]*", name):
            raise HubError(f"{where}: control: not a field: {line!r}")
        fields.append((name, value.strip()))
    if not fields:
        raise HubError(f"{where}: control: no fields")
    return fields


def read_control(path: str | os.PathLike[str], data: bytes | None = None) -> tuple[list[tuple[str, str]], int]:
    """(control fields, newest ar member mtime) of a .deb (`data`: its bytes, if already read)."""
    path = os.fspath(path)
    if data is None:
        with open(path, "rb") as f:
            data = f.read()
    try:
        tar_bytes, mtime = _control_tar(data, path)
    except HubError as e:
        if "control.tar.zst needs" not in str(e):
            raise
        tar_bytes, mtime = _dpkg_deb_control(path), max(m for _, _, m in ar_members(data, path).values())
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            member = next((m for m in tar.getmembers() if m.name in ("./control", "control") and m.isfile()), None)
            if member is None:
                raise HubError(f"{path}: control.tar has no control file")
            handle = tar.extractfile(member)
            assert handle is not None
            text = handle.read().decode("utf-8")
    except (tarfile.TarError, UnicodeDecodeError) as e:
        raise HubError(f"{path}: cannot read the control member: {e}") from None
    return parse_control(text, path), mtime
