"""hub.packaging.debs, pure parts: the ar format written and read back (odd sizes padded,
fields as nfpm writes them), and payload grouping by the planned entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.packaging.debs import ArMember, ar_bytes, payload_key, read_ar
from hub.packaging.plan import Entry


def member(name: str, data: bytes) -> ArMember:
    return ArMember(name, 1681035069, 0, 0, 0o100644, data)


def test_ar_round_trip_with_odd_sizes(tmp_path: Path) -> None:
    members = [member("debian-binary", b"2.0\n"), member("control.tar.gz", b"abc"), member("data.tar.zst", b"")]
    raw = ar_bytes(members)
    # The header nfpm writes: name, mtime, uid, gid, octal mode, size, each left-aligned.
    assert raw.startswith(b"!<arch>\ndebian-binary   1681035069  0     0     100644  4         `\n2.0\n")
    assert b"control.tar.gz  1681035069  0     0     100644  3         `\nabc\n" in raw  # padded to even
    path = tmp_path / "x.deb"
    path.write_bytes(raw)
    assert read_ar(path) == members


def test_ar_refuses_names_it_cannot_write() -> None:
    with pytest.raises(HubError, match="at most 16 characters"):
        ar_bytes([member("a-very-long-member-name", b"")])


def test_read_ar_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x.deb"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(HubError, match="not an ar archive"):
        read_ar(path)


class FakePlan:
    def __init__(self, *entries: Entry) -> None:
        self.entries = entries


def test_payload_key_sees_every_byte_and_mode() -> None:
    readme = Entry("/usr/share/doc/x/README.Debian", 0o644, content=b"same")
    base = payload_key(FakePlan(readme))  # type: ignore[arg-type]
    assert payload_key(FakePlan(Entry(readme.dst, 0o644, content=b"same"))) == base  # type: ignore[arg-type]
    assert payload_key(FakePlan(Entry(readme.dst, 0o644, content=b"other"))) != base  # type: ignore[arg-type]
    assert payload_key(FakePlan(Entry(readme.dst, 0o600, content=b"same"))) != base  # type: ignore[arg-type]
