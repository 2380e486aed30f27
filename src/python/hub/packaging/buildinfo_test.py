"""hub.packaging.buildinfo: Go build info from synthetic ELF files (both formats, malformed ones,
fuzzed), and the module text with its Go-quoted build settings."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit.go_binaries import END, VADDR, framed, inline_blob, make_elf, pointer_blob, uvarint

from hub.packaging import buildinfo
from hub.packaging.buildinfo import BuildInfoError, Module


def read(blob: bytes, name: str = "bin/exporter") -> buildinfo.BuildInfo | None:
    return buildinfo.read_build_info_from(io.BytesIO(blob), name)


# --- reading ---------------------------------------------------------------------------------


def check_full(info: buildinfo.BuildInfo | None, go: str) -> None:
    assert info is not None
    assert info.go_version == go
    assert info.path == "example.com/exporter/cmd/exporter"
    assert info.main == Module("example.com/exporter", "v1.2.3", "h1:" + "A" * 43 + "=")
    assert [d.path for d in info.deps] == [
        "github.com/prometheus/client_golang",
        "github.com/old/thing",
        "github.com/local/thing",
    ]
    assert info.deps[1].replace == Module("github.com/fork/thing", "v1.0.1", "h1:" + "D" * 43 + "=")
    assert info.deps[2].sum is None and info.deps[2].replace == Module("../thing", "", None)
    settings_ = dict(info.settings)
    assert settings_["-ldflags"] == "-s -w -X main.version=1.2.3"
    assert settings_["weird=key"] == "value"
    assert settings_["GOARCH"] == "amd64"


def test_inline_format_go_1_18_and_later() -> None:
    check_full(read(make_elf(inline_blob())), "go1.22.5")


@pytest.mark.parametrize("big", [False, True])
def test_pointer_format_go_1_13_to_1_17(big: bool) -> None:
    check_full(read(make_elf(pointer_blob(big=big))), "go1.16.15")


def test_big_endian_elf_inline() -> None:
    check_full(read(make_elf(inline_blob(flags=3), order=">")), "go1.22.5")


def test_without_section_headers_the_data_segment_is_searched() -> None:
    # debug/buildinfo's fallback: 16-byte aligned magic in the first writable segment.
    data = bytes(48) + inline_blob()
    check_full(read(make_elf(data, sections=False)), "go1.22.5")
    # An unaligned magic is not build info (a string that merely contains it).
    assert read(make_elf(bytes(7) + inline_blob(), sections=False)) is None


def test_no_build_info_is_none_not_an_error() -> None:
    assert read(make_elf(b"\x00" * 256, buildinfo=None)) is None  # a C program
    assert read(make_elf(b"\x00" * 256, buildinfo=None, sections=False)) is None
    assert read(make_elf(inline_blob(), sections=False, writable=False)) is None  # no data segment


def test_gopath_build_has_no_module_list() -> None:
    info = read(
        make_elf(inline_blob(modinfo=framed("path\tgithub.com/prometheus/node_exporter\nbuild\tGOARCH=arm64\n")))
    )
    assert info is not None and info.main is None and info.deps == ()
    assert info.path == "github.com/prometheus/node_exporter"
    # And no module information at all (too short for the sentinels): nothing, not an error.
    info = read(make_elf(inline_blob(modinfo=b"")))
    assert info is not None and info.path is None and info.settings == ()


def test_go_unquote_matches_json_for_plain_escapes() -> None:
    for s in ["a b", 'say "hi"', "tab\tnew\nline", "back\\slash", "é ü 中"]:
        assert buildinfo.go_unquote(json.dumps(s, ensure_ascii=False)) == s
    assert buildinfo.go_unquote(r'"\x41\u00e9\U0001F600\101"') == "Aé\U0001F600A"
    assert buildinfo.go_unquote(r'"\xc3\xa9"') == "é"  # \x escapes are bytes of UTF-8
    assert buildinfo.go_unquote("`raw \\n`") == "raw \\n"
    for bad in ['"open', r'"\q"', r'"\x4"', '"a"b"', r'"\uD800"']:
        with pytest.raises(ValueError):
            buildinfo.go_unquote(bad)


MALFORMED = {
    "truncated header": lambda: make_elf(buildinfo.MAGIC + b"\x08\x02"),
    "truncated length": lambda: make_elf(buildinfo.MAGIC + b"\x08\x02" + bytes(16) + b"\x80\x80"),
    "length past the end": lambda: make_elf(buildinfo.MAGIC + b"\x08\x02" + bytes(16) + uvarint(5000) + b"go1"),
    "huge length": lambda: make_elf(buildinfo.MAGIC + b"\x08\x02" + bytes(16) + uvarint(3) + b"go1" + uvarint(1 << 40)),
    "varint overflow": lambda: make_elf(buildinfo.MAGIC + b"\x08\x02" + bytes(16) + b"\xff" * 11),
    "bad pointer": lambda: make_elf(buildinfo.MAGIC + b"\x08\x00" + struct.pack("<QQ", 0xDEAD0000, VADDR)),
    "bad pointer size": lambda: make_elf(buildinfo.MAGIC + b"\x05\x00" + bytes(16)),
    "string header length": lambda: make_elf(
        buildinfo.MAGIC + b"\x08\x00" + struct.pack("<QQ", VADDR + 32, VADDR + 32) + struct.pack("<QQ", VADDR, 1 << 50)
    ),
    "empty Go version": lambda: make_elf(inline_blob(version=b"")),
    "control characters in the Go version": lambda: make_elf(inline_blob(version=b"go1\n2")),
    "invalid UTF-8": lambda: make_elf(inline_blob(modinfo=framed("path\tx\n")[:-17] + b"\xff\n" + END)),
    "replacement first": lambda: make_elf(inline_blob(modinfo=framed("=>\tx\tv1\n"))),
    "module line": lambda: make_elf(inline_blob(modinfo=framed("dep\tx\tv1\th1:x\textra\n"))),
    "line without tab": lambda: make_elf(inline_blob(modinfo=framed("path x\n"))),
    "setting without =": lambda: make_elf(inline_blob(modinfo=framed("build\tCGO_ENABLED\n"))),
    "setting with a bad quote": lambda: make_elf(inline_blob(modinfo=framed('build\tk="\\q"\n'))),
    "setting without a key": lambda: make_elf(inline_blob(modinfo=framed("build\t=v\n"))),
    "section outside the file": lambda: make_elf(inline_blob(), buildinfo=(0, 1 << 40)),
    "32-bit ELF": lambda: make_elf(inline_blob(), elf_class=1),
    "not ELF": lambda: b"#!/bin/sh\necho hi\n",
    "empty file": lambda: b"",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_build_info_is_a_clear_error_naming_the_file(case: str) -> None:
    with pytest.raises(BuildInfoError) as e:
        read(MALFORMED[case](), name="bin/broken_exporter")
    assert str(e.value).startswith("bin/broken_exporter: "), str(e.value)


def test_read_build_info_from_a_path(tmp_path: Path) -> None:
    binary = tmp_path / "exporter"
    binary.write_bytes(make_elf(inline_blob()))
    check_full(buildinfo.read_build_info(binary), "go1.22.5")
    with pytest.raises(BuildInfoError, match="missing: cannot read"):
        buildinfo.read_build_info(tmp_path / "missing")


VALID = make_elf(inline_blob())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_mutated_binaries_read_or_fail_cleanly(mutations: list[tuple[int, int]]) -> None:
    blob = bytearray(VALID)
    for at, value in mutations:
        blob[at] = value
    try:
        read(bytes(blob))
    except BuildInfoError as e:
        assert str(e).startswith("bin/exporter: ")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([0, 1, 2, 3]), st.booleans())
def test_fuzz_random_build_info_reads_or_fails_cleanly(payload: bytes, flags: int, sections: bool) -> None:
    blob = make_elf(buildinfo.MAGIC + bytes([8, flags]) + payload, sections=sections)
    try:
        read(blob)
    except BuildInfoError as e:
        assert str(e).startswith("bin/exporter: ")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('\t\n="`\\ab/.v1h:=>')) | st.characters(), max_size=300))
def test_fuzz_module_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        buildinfo.parse_modinfo(text, "go1.22", name="x")
    except BuildInfoError as e:
        assert str(e).startswith("x: ")
