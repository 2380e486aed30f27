"""Synthetic Go binaries for the build-info and SBOM tests: minimal ELF64 executables holding
Go build info in either of the formats cmd/go writes (inline strings since Go 1.18, pointers
to string headers in Go 1.13 to 1.17), with or without section headers.

Not used by any build. `make_elf` lays out one PT_LOAD segment at `VADDR` holding the data
(and optionally a `.go.buildinfo` section over it); `inline_blob` and `pointer_blob` are the
build info itself, around the module text `MODINFO` framed by cmd/go's sentinels.
"""

from __future__ import annotations

import struct

from hub.packaging.buildinfo import MAGIC

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
    header = MAGIC + bytes([8, flags]) + bytes(16)
    return header + uvarint(len(version)) + version + uvarint(len(modinfo)) + modinfo


def pointer_blob(
    version: bytes = b"go1.16.15", modinfo: bytes | None = None, *, big: bool = False, base: int = VADDR
) -> bytes:
    """Go 1.13-1.17: two pointers to string headers {data, len}, all in the data segment."""
    modinfo = framed(MODINFO) if modinfo is None else modinfo
    order = ">" if big else "<"
    vers_at, mod_at = base + 32, base + 48
    strings_at = base + 64
    header = MAGIC + bytes([8, 1 if big else 0]) + struct.pack(order + "QQ", vers_at, mod_at)
    headers = struct.pack(order + "QQ", strings_at, len(version)) + struct.pack(
        order + "QQ", strings_at + len(version), len(modinfo)
    )
    return header + headers + version + modinfo


def make_elf(
    data: bytes,
    *,
    buildinfo: tuple[int, int] | None = (0, -1),
    sections: bool = True,
    order: str = "<",
    machine: int = 62,
    elf_class: int = 2,
    writable: bool = True,
) -> bytes:
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
        order + "HHIQQQIHHHHHH",
        2,
        machine,
        1,
        VADDR,
        64,
        sh_off if sections else 0,
        0,
        64,
        56,
        1,
        64,
        shnum,
        shnum - 1 if sections else 0,
    )
    flags = 0x6 if writable else 0x5  # PF_R|PF_W, or PF_R|PF_X
    phdr = struct.pack(order + "IIQQQQQQ", 1, flags, DATA_OFFSET, VADDR, VADDR, len(data), len(data), 0x1000)
    out = bytearray(header + phdr)
    out += bytes(DATA_OFFSET - len(out))
    out += data + shstrtab
    out += bytes(sh_off - len(out)) + shdrs
    return bytes(out)
