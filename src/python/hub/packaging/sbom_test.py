"""hub.packaging.sbom: Go build info from synthetic ELF files (both formats, malformed ones, fuzzed) and
the CycloneDX documents written from them, checked against the CycloneDX 1.5 JSON schema."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.catalog import artifact as catalog
from hub.packaging import sbom
from hub.packaging.sbom import BuildInfoError, Module
from hub.common import files

START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")  # the sentinels cmd/go writes
END = bytes.fromhex("f932433186182072008242104116d8f2")
VADDR = 0x500000
DATA_OFFSET = 0x1000

MODINFO = (
    "path\texample.com/exporter/cmd/exporter\n"
    "mod\texample.com/exporter\tv1.2.3\th1:" + "A" * 43 + "=\n"
    "dep\tgithub.com/prometheus/client_golang\tv1.20.5\th1:" + "B" * 43 + "=\n"
    "dep\tgithub.com/old/thing\tv1.0.0\th1:" + "C" * 43 + "=\n"
    "=>\tgithub.com/fork/thing\tv1.0.1\th1:" + "D" * 43 + "=\n"
    "dep\tgithub.com/local/thing\tv0.1.0\n"
    "=>\t../thing\t\n"
    "build\t-compiler=gc\n"
    'build\t-ldflags="-s -w -X main.version=1.2.3"\n'
    "build\tCGO_ENABLED=0\n"
    "build\tGOARCH=amd64\n"
    'build\t"weird=key"=value\n'
    "build\tvcs.revision=0123456789abcdef\n"
)


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def framed(text: str) -> bytes:
    return START + text.encode() + END


def inline_blob(version: bytes = b"go1.22.5", modinfo: bytes | None = None, *, flags: int = 2) -> bytes:
    modinfo = framed(MODINFO) if modinfo is None else modinfo
    header = sbom.MAGIC + bytes([8, flags]) + bytes(16)
    return header + uvarint(len(version)) + version + uvarint(len(modinfo)) + modinfo


def pointer_blob(version: bytes = b"go1.16.15", modinfo: bytes | None = None, *, big: bool = False,
                 base: int = VADDR) -> bytes:
    """Go 1.13-1.17: two pointers to string headers {data, len}, all in the data segment."""
    modinfo = framed(MODINFO) if modinfo is None else modinfo
    order = ">" if big else "<"
    vers_at, mod_at = base + 32, base + 48
    strings_at = base + 64
    header = sbom.MAGIC + bytes([8, 1 if big else 0]) + struct.pack(order + "QQ", vers_at, mod_at)
    headers = struct.pack(order + "QQ", strings_at, len(version)) + struct.pack(
        order + "QQ", strings_at + len(version), len(modinfo)
    )
    return header + headers + version + modinfo


def make_elf(data: bytes, *, buildinfo: tuple[int, int] | None = (0, -1), sections: bool = True,
             order: str = "<", machine: int = 62, elf_class: int = 2, writable: bool = True) -> bytes:
    """A minimal ELF64 executable: one PT_LOAD segment holding `data` at VADDR, and (optionally)
    section headers naming `.go.buildinfo` at (offset in data, size; -1: to the end)."""
    shstrtab = b"\0.go.buildinfo\0.shstrtab\0"
    data_end = DATA_OFFSET + len(data)
    shstr_off = data_end
    sh_off = (shstr_off + len(shstrtab) + 7) & ~7
    shdrs = b""
    shnum = 0
    if sections:
        shdrs += bytes(64)  # SHN_UNDEF
        if buildinfo is not None:
            off, size = buildinfo
            size = len(data) - off if size < 0 else size
            shdrs += struct.pack(order + "IIQQQQIIQQ", 1, 1, 3, VADDR + off, DATA_OFFSET + off, size, 0, 0, 16, 0)
        shdrs += struct.pack(order + "IIQQQQIIQQ", 15, 3, 0, 0, shstr_off, len(shstrtab), 0, 0, 1, 0)
        shnum = len(shdrs) // 64
    ident = b"\x7fELF" + bytes([elf_class, 1 if order == "<" else 2, 1]) + bytes(9)
    header = ident + struct.pack(
        order + "HHIQQQIHHHHHH", 2, machine, 1, VADDR, 64, sh_off if sections else 0, 0, 64, 56, 1, 64,
        shnum, shnum - 1 if sections else 0,
    )
    flags = 0x6 if writable else 0x5  # PF_R|PF_W, or PF_R|PF_X
    phdr = struct.pack(order + "IIQQQQQQ", 1, flags, DATA_OFFSET, VADDR, VADDR, len(data), len(data), 0x1000)
    out = bytearray(header + phdr)
    out += bytes(DATA_OFFSET - len(out))
    out += data + shstrtab
    out += bytes(sh_off - len(out)) + shdrs
    return bytes(out)


def read(blob: bytes, name: str = "bin/exporter") -> sbom.BuildInfo | None:
    return sbom.read_build_info_from(io.BytesIO(blob), name)


# --- reading ---------------------------------------------------------------------------------


def check_full(info: sbom.BuildInfo | None, go: str) -> None:
    assert info is not None
    assert info.go_version == go
    assert info.path == "example.com/exporter/cmd/exporter"
    assert info.main == Module("example.com/exporter", "v1.2.3", "h1:" + "A" * 43 + "=")
    assert [d.path for d in info.deps] == [
        "github.com/prometheus/client_golang", "github.com/old/thing", "github.com/local/thing",
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
    info = read(make_elf(inline_blob(modinfo=framed("path\tgithub.com/prometheus/node_exporter\nbuild\tGOARCH=arm64\n"))))
    assert info is not None and info.main is None and info.deps == ()
    assert info.path == "github.com/prometheus/node_exporter"
    # And no module information at all (too short for the sentinels): nothing, not an error.
    info = read(make_elf(inline_blob(modinfo=b"")))
    assert info is not None and info.path is None and info.settings == ()


def test_go_unquote_matches_json_for_plain_escapes() -> None:
    for s in ["a b", 'say "hi"', "tab\tnew\nline", "back\\slash", "é ü 中"]:
        assert sbom.go_unquote(json.dumps(s, ensure_ascii=False)) == s
    assert sbom.go_unquote(r'"\x41\u00e9\U0001F600\101"') == "Aé\U0001F600A"
    assert sbom.go_unquote(r'"\xc3\xa9"') == "é"  # \x escapes are bytes of UTF-8
    assert sbom.go_unquote("`raw \\n`") == "raw \\n"
    for bad in ['"open', r'"\q"', r'"\x4"', '"a"b"', r'"\uD800"']:
        with pytest.raises(ValueError):
            sbom.go_unquote(bad)


MALFORMED = {
    "truncated header": lambda: make_elf(sbom.MAGIC + b"\x08\x02"),
    "truncated length": lambda: make_elf(sbom.MAGIC + b"\x08\x02" + bytes(16) + b"\x80\x80"),
    "length past the end": lambda: make_elf(sbom.MAGIC + b"\x08\x02" + bytes(16) + uvarint(5000) + b"go1"),
    "huge length": lambda: make_elf(sbom.MAGIC + b"\x08\x02" + bytes(16) + uvarint(3) + b"go1" + uvarint(1 << 40)),
    "varint overflow": lambda: make_elf(sbom.MAGIC + b"\x08\x02" + bytes(16) + b"\xff" * 11),
    "bad pointer": lambda: make_elf(sbom.MAGIC + b"\x08\x00" + struct.pack("<QQ", 0xDEAD0000, VADDR)),
    "bad pointer size": lambda: make_elf(sbom.MAGIC + b"\x05\x00" + bytes(16)),
    "string header length": lambda: make_elf(
        sbom.MAGIC + b"\x08\x00" + struct.pack("<QQ", VADDR + 32, VADDR + 32) + struct.pack("<QQ", VADDR, 1 << 50)
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
    check_full(sbom.read_build_info(binary), "go1.22.5")
    with pytest.raises(BuildInfoError, match="missing: cannot read"):
        sbom.read_build_info(tmp_path / "missing")


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
    blob = make_elf(sbom.MAGIC + bytes([8, flags]) + payload, sections=sections)
    try:
        read(blob)
    except BuildInfoError as e:
        assert str(e).startswith("bin/exporter: ")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\t\n=\"`\\ab/.v1h:=>")) | st.characters(), max_size=300))
def test_fuzz_module_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        sbom.parse_modinfo(text, "go1.22", name="x")
    except BuildInfoError as e:
        assert str(e).startswith("x: ")


# --- documents -------------------------------------------------------------------------------

SOURCE = {"url": "https://github.com/example/exporter/releases/download/v1.2.3/exporter-1.2.3.linux-amd64.tar.gz",
          "sha256": "ab" * 32}


def binaries(tmp_path: Path) -> list[sbom.Binary]:
    go = tmp_path / "exporter"
    go.write_bytes(make_elf(inline_blob()))
    c = tmp_path / "helper"
    c.write_bytes(make_elf(b"\x00" * 64, buildinfo=None))  # a C stand-in
    return [sbom.Binary("/usr/bin/exporter", str(go)), sbom.Binary("/usr/bin/helper", str(c))]


def package_doc(tmp_path: Path, **overrides) -> dict:
    args = dict(kind="deb", name="example-exporter", version="1.2.3-1+deb12", arch="amd64", dist="debian-12",
                summary="Example exporter", license="Apache-2.0", homepage="https://example.com",
                source=SOURCE, source_date="2025-06-01T12:00:00Z", binaries=binaries(tmp_path))
    args.update(overrides)
    return sbom.package_sbom(**args)


def components(doc: dict) -> dict:
    return {c["bom-ref"]: c for c in doc["components"]}


def test_package_document(tmp_path: Path) -> None:
    doc = package_doc(tmp_path)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    assert doc["metadata"]["timestamp"] == "2025-06-01T12:00:00Z"
    subject = doc["metadata"]["component"]
    assert subject["purl"] == "pkg:deb/monitoring-hub/example-exporter@1.2.3-1%2Bdeb12?arch=amd64&distro=debian-12"
    assert subject["externalReferences"][0] == {
        "type": "distribution", "url": SOURCE["url"], "hashes": [{"alg": "SHA-256", "content": SOURCE["sha256"]}],
        "comment": "The pinned upstream release archive the binaries were taken from, unmodified",
    }
    assert subject["licenses"] == [{"expression": "Apache-2.0"}]
    refs = components(doc)
    go_file = refs["file:/usr/bin/exporter"]
    assert go_file["hashes"][0]["content"] == catalog.file_digest(tmp_path / "exporter")[0]
    client = refs["pkg:golang/github.com/prometheus/client_golang@v1.20.5?type=module"]
    assert client["version"] == "v1.20.5" and client["type"] == "library"
    assert client["hashes"] == [{"alg": "SHA-256", "content": bytes([0x04, 0x10, 0x41] * 10 + [0x04, 0x10]).hex()}]
    main = refs["pkg:golang/example.com/exporter@v1.2.3?type=module"]
    assert main["type"] == "application"
    assert refs["pkg:golang/std@go1.22.5?type=module"]["name"] == "std"
    # A replacement is listed as what was compiled, with the original as its pedigree.
    fork = refs["pkg:golang/github.com/fork/thing@v1.0.1?type=module"]
    assert fork["pedigree"]["ancestors"][0]["purl"] == "pkg:golang/github.com/old/thing@v1.0.0?type=module"
    assert "pkg:golang/github.com/old/thing@v1.0.0?type=module" not in refs
    # A local directory replacement keeps the original identity and says so.
    local = refs["pkg:golang/github.com/local/thing@v0.1.0?type=module"]
    assert {"name": "monitoring-hub:go:replaced", "value": "github.com/local/thing v0.1.0 => ../thing"} in local["properties"]
    deps = {d["ref"]: d["dependsOn"] for d in doc["dependencies"]}
    assert deps[subject["bom-ref"]] == ["file:/usr/bin/exporter", "file:/usr/bin/helper"]
    assert client["bom-ref"] in deps["file:/usr/bin/exporter"]
    assert deps["file:/usr/bin/helper"] == []
    # The C stand-in: listed with its hash, no modules, and the document says why.
    helper = refs["file:/usr/bin/helper"]
    assert {"name": "monitoring-hub:go:buildinfo", "value": "absent"} in helper["properties"]
    assert "No Go build info" in helper["description"]
    compositions = {c["aggregate"]: c for c in doc["compositions"]}
    assert compositions["complete"]["dependencies"] == ["file:/usr/bin/exporter"]
    assert compositions["unknown"]["dependencies"] == ["file:/usr/bin/helper"]


def test_documents_are_reproducible_and_the_serial_follows_the_content(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    one, two = package_doc(a), package_doc(b)
    assert files.dumps_json(one) == files.dumps_json(two)
    sbom.write_sbom(a / "x.cdx.json", one, url="pool/x.cdx.json")
    ref = sbom.write_sbom(b / "x.cdx.json", two, url="pool/x.cdx.json")
    assert (a / "x.cdx.json").read_bytes() == (b / "x.cdx.json").read_bytes()
    assert ref == {"filename": "x.cdx.json", "url": "pool/x.cdx.json", "size_bytes": (b / "x.cdx.json").stat().st_size,
                   "sha256": catalog.file_digest(b / "x.cdx.json")[0], "format": "CycloneDX 1.5"}
    other = package_doc(a, source_date="2025-06-02T12:00:00Z")
    assert other["serialNumber"] != one["serialNumber"]
    assert one["serialNumber"].startswith("urn:uuid:")


def test_rpm_and_image_documents(tmp_path: Path) -> None:
    rpm = package_doc(tmp_path, kind="rpm", name="example_exporter", version="1.2.3-1.el9", arch="x86_64",
                      dist="el9", license="NOASSERTION")
    assert rpm["metadata"]["component"]["purl"] == "pkg:rpm/monitoring-hub/example_exporter@1.2.3-1.el9?arch=x86_64&distro=el9"
    assert "licenses" not in rpm["metadata"]["component"]
    image = sbom.image_sbom(
        exporter="example_exporter", registry="ghcr.io", repository="org/example_exporter", tag="1.2.3",
        arch="arm64", digest="sha256:" + "c" * 64, base_image="gcr.io/distroless/static@sha256:" + "d" * 64,
        source=SOURCE, source_date="2025-06-01T12:00:00Z", binaries=binaries(tmp_path),
    )
    subject = image["metadata"]["component"]
    assert subject["type"] == "container"
    assert subject["purl"] == ("pkg:oci/example_exporter@sha256%3A" + "c" * 64
                               + "?arch=arm64&repository_url=ghcr.io%2Forg%2Fexample_exporter&tag=1.2.3")
    base = components(image)["pkg:oci/static@sha256%3A" + "d" * 64 + "?arch=arm64&repository_url=gcr.io%2Fdistroless%2Fstatic"]
    assert base["type"] == "container"
    deps = {d["ref"]: d["dependsOn"] for d in image["dependencies"]}
    assert base["bom-ref"] in deps[subject["bom-ref"]]


def cyclonedx_errors(doc: dict) -> list[str]:
    """Validation with the CycloneDX project's own JSON schema (bundled in cyclonedx-python-lib)."""
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator

    validator = make_schemabased_validator(OutputFormat.JSON, SchemaVersion.V1_5)
    error = validator.validate_str(json.dumps(doc), all_errors=True)
    if error is None:
        return []
    return [str(e) for e in error] if isinstance(error, (list, tuple)) else [str(error)]


def test_documents_match_the_cyclonedx_1_5_schema(tmp_path: Path) -> None:
    docs = [
        package_doc(tmp_path),
        package_doc(tmp_path, kind="rpm", name="example_exporter", version="1.2.3-1.el9", arch="x86_64", dist="el9"),
        sbom.image_sbom(exporter="e", registry="localhost:5000", repository="hub/e", tag="1.0.0", arch="amd64",
                        digest="sha256:" + "c" * 64, base_image="scratch", source=SOURCE,
                        source_date="2025-06-01T12:00:00Z", binaries=binaries(tmp_path)),
    ]
    for doc in docs:
        assert cyclonedx_errors(doc) == []
    # The schema is strict enough to catch mistakes: an unknown field, a wrong enum value.
    broken = json.loads(json.dumps(docs[0]))
    broken["components"][0]["sha256"] = "x"
    assert cyclonedx_errors(broken)
    broken = json.loads(json.dumps(docs[0]))
    broken["components"][0]["hashes"][0]["alg"] = "SHA-257"
    assert cyclonedx_errors(broken)


def test_purls_parse_back() -> None:
    from packageurl import (
        PackageURL,  # pants: no-infer-dep (installed with cyclonedx-python-lib)
    )

    p = PackageURL.from_string(sbom.golang_purl("github.com/Masterminds/semver/v3", "v3.2.1"))
    assert (p.type, p.namespace, p.name, p.version) == ("golang", "github.com/Masterminds/semver", "v3", "v3.2.1")
    p = PackageURL.from_string(sbom.package_purl("deb", "node-exporter", "1.11.0-1+deb12", "arm64", "debian-12"))
    assert (p.type, p.namespace, p.name, p.version, p.qualifiers) == (
        "deb", "monitoring-hub", "node-exporter", "1.11.0-1+deb12", {"arch": "arm64", "distro": "debian-12"})
    assert PackageURL.from_string(sbom.golang_purl("example.com/x", "(devel)")).version is None


def test_cli_buildinfo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hub import cli

    good, bad, plain = tmp_path / "good", tmp_path / "bad", tmp_path / "plain"
    good.write_bytes(make_elf(inline_blob()))
    plain.write_bytes(make_elf(b"\x00" * 64, buildinfo=None))
    bad.write_bytes(MALFORMED["length past the end"]())
    assert cli.main(["buildinfo", str(good), str(plain)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[str(good)]["main"]["path"] == "example.com/exporter"
    assert out[str(good)]["deps"][1]["replace"]["path"] == "github.com/fork/thing"
    assert out[str(plain)] is None
    assert cli.main(["buildinfo", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and "Traceback" not in err
