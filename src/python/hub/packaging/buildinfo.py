"""Go build info: the Go version and modules recorded inside a Go binary, read without running it.

Every Go binary built with modules carries its build information (what `go version -m`
prints): the Go version, the main module, every module linked in with its version and `h1:`
checksum, replacements, and build settings. `read_build_info` reads it from the ELF file with
plain Python (over `hub.common.elf`), without running anything:

- the data starts with the 14-byte magic ``\\xff Go buildinf:``, in the `.go.buildinfo`
  section, or (no section headers) at a 16-byte boundary in the first 64 KiB of the first
  writable, non-executable PT_LOAD segment, the way Go's `debug/buildinfo` looks for it;
- byte 14 is the pointer size and byte 15 the flags: bit 0 big-endian, bit 1 inline strings;
- Go >= 1.18 writes the strings inline after the 32-byte header, each one as a uvarint length
  and its bytes (first the Go version, then the module information);
- Go 1.13 to 1.17 write two pointers at offset 16 (to the version's and the module
  information's string headers, each {data pointer, length}), resolved through PT_LOAD;
- the module information is framed by 16 sentinel bytes on both sides, and is text: lines
  `path`, `mod`, `dep`, `=>` (a replacement of the module above) and `build key=value`
  (`parse_modinfo`; quoted keys and values are Go string literals, see `go_unquote`).

Every read is bounded (`MAX_*`), and every malformed input raises `BuildInfoError` naming
the file; a binary without Go build info (a C program, a Go binary stripped of it) gives
None, which the SBOM (`hub.packaging.sbom`) states rather than treating as an error.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import IO, Any

from hub.common.elf import ElfFile
from hub.common.errors import HubError

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
SEARCH_WINDOW = 64 * 1024  # what debug/buildinfo searches when there is no section
MAX_VERSION = 1024  # "go1.22.5 X:boringcrypto" and the like
MAX_MODINFO = 4 << 20  # the largest real ones (kubernetes) are under 200 KiB
SENTINEL = 16

FLAG_BIG_ENDIAN = 0x1
FLAG_INLINE = 0x2


class BuildInfoError(HubError):
    """Go build info that is present but cannot be read."""


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    sum: str | None = None
    replace: Module | None = None


@dataclass(frozen=True)
class BuildInfo:
    go_version: str
    path: str | None = None  # the main package's import path
    main: Module | None = None  # None: built without modules (GOPATH mode)
    deps: tuple[Module, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------------------------
# The build info inside the ELF file (hub.common.elf), with every read bounded
# --------------------------------------------------------------------------------------------


def _uvarint(elf: ElfFile, offset: int, limit: int, what: str) -> tuple[int, int]:
    """(value, bytes used) of a uvarint at `offset`, never reading past `limit`."""
    value = shift = 0
    for i in range(10):
        if offset + i >= limit:
            raise elf.fail(f"{what}: truncated length")
        byte = elf.read(offset + i, 1, what)[0]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i + 1
        shift += 7
    raise elf.fail(f"{what}: length does not fit in 64 bits")


def _check_length(elf: ElfFile, length: int, maximum: int, what: str) -> None:
    if length > maximum:
        raise elf.fail(f"{what} of {length} bytes (at most {maximum})")


def _find_header(elf: ElfFile, section: tuple[int, int] | None) -> tuple[int, int] | None:
    """(file offset of the header, end of the region it lives in), or None without build info."""
    if section is not None:
        offset, size = section
        window = elf.read(offset, min(size, SEARCH_WINDOW), ".go.buildinfo")
        region_end = offset + size
    else:
        data = next((s for s in elf.loaded if s.flags & 0x3 == 0x2), None)  # PF_W, not PF_X
        if data is None:
            return None
        offset = data.offset
        window = elf.read(offset, min(data.filesz, SEARCH_WINDOW), "the data segment")
        region_end = offset + data.filesz
    at = 0
    while True:
        at = window.find(MAGIC, at)
        if at < 0:
            return None
        if at % 16 == 0:
            if at + HEADER_SIZE > len(window):
                raise elf.fail("Go build info header is truncated")
            return offset + at, region_end
        at += 1


def _string_inline(elf: ElfFile, offset: int, limit: int, maximum: int, what: str) -> tuple[bytes, int]:
    length, used = _uvarint(elf, offset, limit, what)
    _check_length(elf, length, maximum, what)
    if offset + used + length > limit:
        raise elf.fail(f"{what}: {length} bytes run past the end of the build info")
    return elf.read(offset + used, length, what), offset + used + length


def _string_pointer(elf: ElfFile, vaddr: int, ptr_size: int, order: str, maximum: int, what: str) -> bytes:
    fmt = order + ("Q" if ptr_size == 8 else "I")
    header = elf.read_at(vaddr, 2 * ptr_size, what)
    data, length = struct.unpack(fmt, header[:ptr_size])[0], struct.unpack(fmt, header[ptr_size:])[0]
    _check_length(elf, length, maximum, what)
    return elf.read_at(data, length, what) if length else b""


def read_build_info_from(f: IO[bytes], name: str, size: int | None = None) -> BuildInfo | None:
    """The Go build info of the ELF binary in `f`, or None when it has none."""
    if size is None:
        f.seek(0, io.SEEK_END)
        size = f.tell()
    elf = ElfFile.open(f, name, size, error=BuildInfoError)
    section = elf.section(b".go.buildinfo")
    found = _find_header(elf, section)
    if found is None:
        return None
    at, region_end = found
    header = elf.read(at, HEADER_SIZE, "Go build info header")
    ptr_size, flags = header[14], header[15]
    if flags & FLAG_INLINE:
        version, nxt = _string_inline(elf, at + HEADER_SIZE, region_end, MAX_VERSION, "Go version")
        modinfo, _ = _string_inline(elf, nxt, region_end, MAX_MODINFO, "module information")
    else:
        if ptr_size not in (4, 8):
            raise elf.fail(f"Go build info: pointer size {ptr_size} (expected 4 or 8)")
        order = ">" if flags & FLAG_BIG_ENDIAN else "<"
        fmt = order + ("Q" if ptr_size == 8 else "I")
        vers_ptr = struct.unpack(fmt, header[16 : 16 + ptr_size])[0]
        mod_ptr = struct.unpack(fmt, header[16 + ptr_size : 16 + 2 * ptr_size])[0]
        version = _string_pointer(elf, vers_ptr, ptr_size, order, MAX_VERSION, "Go version")
        modinfo = _string_pointer(elf, mod_ptr, ptr_size, order, MAX_MODINFO, "module information")
    try:
        go_version = version.decode("utf-8")
    except UnicodeDecodeError:
        raise elf.fail("Go build info: the Go version is not valid UTF-8")
    if not go_version or not go_version.isprintable():
        raise elf.fail(f"Go build info: implausible Go version {go_version[:80]!r}")
    # Framed by 16 sentinel bytes on both sides (the last line ends before the trailing ones);
    # anything else holds no module information (debug/buildinfo reads it the same way).
    text = ""
    if len(modinfo) >= 2 * SENTINEL + 1 and modinfo[-SENTINEL - 1] == 0x0A:
        try:
            text = modinfo[SENTINEL:-SENTINEL].decode("utf-8")
        except UnicodeDecodeError:
            raise elf.fail("Go build info: the module information is not valid UTF-8")
    return parse_modinfo(text, go_version, name=name)


def read_build_info(path: str | os.PathLike[str]) -> BuildInfo | None:
    """The Go build info of the ELF binary at `path`, or None when it has none."""
    try:
        with open(path, "rb") as f:
            return read_build_info_from(f, os.fspath(path), os.fstat(f.fileno()).st_size)
    except OSError as e:
        raise BuildInfoError(f"{path}: cannot read the binary ({e.strerror})")


# --------------------------------------------------------------------------------------------
# The module information text (runtime/debug.ParseBuildInfo's format)
# --------------------------------------------------------------------------------------------

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


def _quoted_prefix(s: str) -> str | None:
    """The Go quoted string at the start of `s` (double-quoted or back-quoted), or None."""
    if s[:1] == "`":
        end = s.find("`", 1)
        return s[: end + 1] if end > 0 else None
    if s[:1] != '"':
        return None
    i = 1
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s[i] == '"':
            return s[: i + 1]
        if s[i] == "\n":
            return None
        i += 1
    return None


def go_unquote(s: str) -> str:
    """strconv.Unquote for the strings `go build` writes (strconv.Quote output, or raw)."""
    if len(s) >= 2 and s[0] == s[-1] == "`":
        return s[1:-1]
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise ValueError(f"not a quoted string: {s[:80]!r}")
    body, out, i = s[1:-1], [], 0
    raw = bytearray()  # \x escapes are bytes: collect them, decode as UTF-8 at the end

    def flush() -> None:
        if raw:
            out.append(raw.decode("utf-8", "replace"))
            raw.clear()

    while i < len(body):
        c = body[i]
        if c == '"':
            raise ValueError("unescaped quote")
        if c != "\\":
            flush()
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("trailing backslash")
        e = body[i + 1]
        if e in _ESCAPES:
            flush()
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"bad \\{e} escape")
            if e == "x":
                raw.append(int(digits, 16))
            else:
                flush()
                code = int(digits, 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise ValueError("escape is not a Unicode character")
                out.append(chr(code))
            i += 2 + n
        elif e in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                raise ValueError("bad octal escape")
            raw.append(int(digits, 8))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e}")
    flush()
    return "".join(out)


def _module(fields: list[str], line_no: int, name: str) -> Module:
    if len(fields) not in (2, 3) or not fields[0]:
        raise BuildInfoError(f"{name}: Go build info line {line_no}: expected <path>\\t<version>[\\t<sum>]")
    return Module(fields[0], fields[1], fields[2] if len(fields) == 3 and fields[2] else None)


def parse_modinfo(text: str, go_version: str, *, name: str = "<build info>") -> BuildInfo:
    """Parses the module information text; unknown line kinds are skipped (newer Go)."""
    path = None
    main = None
    deps: list[Module] = []
    settings: list[tuple[str, str]] = []
    last: str | None = None  # "mod" or "dep": what a "=>" line replaces
    for line_no, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        kind, tab, rest = line.partition("\t")
        if not tab:
            raise BuildInfoError(f"{name}: Go build info line {line_no}: no tab in {line[:80]!r}")
        if kind == "go":
            go_version = rest
        elif kind == "path":
            path = rest
        elif kind == "mod":
            main, last = _module(rest.split("\t"), line_no, name), "mod"
        elif kind == "dep":
            deps.append(_module(rest.split("\t"), line_no, name))
            last = "dep"
        elif kind == "=>":
            repl = _module(rest.split("\t"), line_no, name)
            if last == "mod" and main is not None and main.replace is None:
                main = Module(main.path, main.version, main.sum, repl)
            elif last == "dep" and deps[-1].replace is None:
                deps[-1] = Module(deps[-1].path, deps[-1].version, deps[-1].sum, repl)
            else:
                raise BuildInfoError(f"{name}: Go build info line {line_no}: a replacement without a module before it")
            last = None
        elif kind == "build":
            settings.append(_setting(rest, line_no, name))
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def _setting(kv: str, line_no: int, name: str) -> tuple[str, str]:
    def bad(why: str) -> BuildInfoError:
        return BuildInfoError(f"{name}: Go build info line {line_no}: build setting {why}")

    if not kv or kv[0] == "=":
        raise bad("without a key")
    try:
        if kv[0] in '"`':
            raw_key = _quoted_prefix(kv)
            if raw_key is None:
                raise bad("with an unterminated quoted key")
            key, rest = go_unquote(raw_key), kv[len(raw_key) :]
            if not rest.startswith("="):
                raise bad("without '=' after its key")
            raw_value = rest[1:]
        else:
            key, eq, raw_value = kv.partition("=")
            if not eq:
                raise bad("without '='")
        value = go_unquote(raw_value) if raw_value[:1] in ('"', "`") else raw_value
    except ValueError as e:
        raise bad(f"with a bad quoted string ({e})")
    return key, value


# --------------------------------------------------------------------------------------------
# As JSON: what `hub buildinfo BINARY...` prints, for debugging
# --------------------------------------------------------------------------------------------


def build_info_json(info: BuildInfo | None) -> Any:
    def mod(m: Module | None) -> Any:
        if m is None:
            return None
        return {"path": m.path, "version": m.version, "sum": m.sum, "replace": mod(m.replace)}

    if info is None:
        return None
    return {
        "go": info.go_version,
        "path": info.path,
        "main": mod(info.main),
        "deps": [mod(d) for d in info.deps],
        "settings": dict(info.settings),
    }
