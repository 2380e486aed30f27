"""ELF files: the engine's one reader, with every read bounded by the file's own size.

Exporters ship as Go binaries, and three layers look inside them: extraction checks that an
archive member is an executable for the right machine (an amd64 binary once shipped in an
arm64 image), packaging needs to know whether it is dynamically linked, and the SBOM reads
the Go build info from its sections. Binaries come from upstream archives, so every offset
and count in them is checked before it is used.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import IO, Literal

from hub.common.errors import HubError

MAGIC = b"\x7fELF"
# e_machine values and the names `uname -m` gives them.
MACHINE_NAMES = {
    2: "sparc",
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "x86_64",
    183: "aarch64",
    243: "riscv64",
    258: "loongarch64",
}
ET_EXEC, ET_DYN = 2, 3  # executables, and position-independent ones
PT_LOAD, PT_INTERP = 1, 3
SHT_NOBITS = 8
MAX_SEGMENTS = 1 << 12
MAX_SECTIONS = 1 << 16
MAX_SECTION_NAMES = 1 << 20
HEAD_SIZE = 64  # the 64-bit ELF header; enough for read_header


class ElfError(HubError):
    """An ELF file that cannot be read as one."""


@dataclass(frozen=True)
class ElfHeader:
    is_64bit: bool
    little_endian: bool
    type: int  # e_type
    machine: int  # e_machine

    @property
    def machine_name(self) -> str:
        return machine_name(self.machine)

    @property
    def is_executable(self) -> bool:
        return self.type in (ET_EXEC, ET_DYN)


def machine_name(machine: int) -> str:
    return MACHINE_NAMES.get(machine, f"machine {machine}")


def read_header(head: bytes) -> ElfHeader | None:
    """The identification and type of an ELF file from its first bytes; None if not ELF."""
    if len(head) < 20 or head[:4] != MAGIC or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    order: Literal["little", "big"] = "little" if head[5] == 1 else "big"
    return ElfHeader(
        is_64bit=head[4] == 2,
        little_endian=head[5] == 1,
        type=int.from_bytes(head[16:18], order),
        machine=int.from_bytes(head[18:20], order),
    )


@dataclass(frozen=True)
class Segment:
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int


@dataclass
class ElfFile:
    """A 64-bit ELF file open for bounded reads: its program headers, and a section by name.

    Errors are raised as ``error`` (an ElfError by default), so a caller can report them in
    its own terms (the SBOM's "build info cannot be read")."""

    f: IO[bytes]
    name: str
    size: int
    error: type[HubError] = ElfError
    order: str = "<"
    segments: list[Segment] = field(default_factory=list)
    _section_headers: tuple[int, int, int, int] | None = None  # shoff, shentsize, shnum, shstrndx

    @classmethod
    def open(cls, f: IO[bytes], name: str, size: int, *, error: type[HubError] = ElfError) -> ElfFile:
        elf = cls(f, name, size, error)
        ident = elf.read(0, 16, "the ELF header") if size >= 16 else b""
        if ident[:4] != MAGIC:
            raise error(f"{name}: not an ELF file")
        if ident[4] != 2:
            raise error(f"{name}: not a 64-bit ELF file (only 64-bit binaries are read)")
        if ident[5] not in (1, 2):
            raise error(f"{name}: unknown ELF byte order {ident[5]}")
        elf.order = "<" if ident[5] == 1 else ">"
        phoff, shoff = elf.unpack("QQ", 32, "the ELF header")
        phentsize, phnum, shentsize, shnum, shstrndx = elf.unpack("HHHHH", 54, "the ELF header")
        if phnum > MAX_SEGMENTS or (phnum and phentsize < 56):
            raise elf.fail(f"implausible program header table ({phnum} entries of {phentsize} bytes)")
        for i in range(phnum):
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz = elf.unpack(
                "IIQQQQ", phoff + i * phentsize, f"program header {i}"
            )
            elf.segments.append(Segment(p_type, p_flags, p_offset, p_vaddr, p_filesz))
        if shoff and shnum:
            elf._section_headers = (shoff, shentsize, shnum, shstrndx)
        return elf

    def fail(self, message: str) -> HubError:
        return self.error(f"{self.name}: {message}")

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.fail(f"{what} lies outside the file (offset {offset}, {length} bytes, file size {self.size})")
        self.f.seek(offset)
        data = self.f.read(length)
        if len(data) != length:
            raise self.fail(f"{what}: the file is shorter than it says")
        return data

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        return struct.unpack(self.order + fmt, self.read(offset, struct.calcsize(self.order + fmt), what))

    @property
    def loaded(self) -> list[Segment]:
        return [s for s in self.segments if s.type == PT_LOAD]

    @property
    def is_dynamic(self) -> bool:
        """Whether the binary names a program interpreter (dynamically linked)."""
        return any(s.type == PT_INTERP for s in self.segments)

    def vaddr_to_offset(self, vaddr: int, length: int, what: str) -> int:
        for s in self.loaded:
            if s.vaddr <= vaddr and vaddr + length <= s.vaddr + s.filesz:
                return s.offset + (vaddr - s.vaddr)
        raise self.fail(f"{what}: address {vaddr:#x} (+{length}) is not in any loaded segment")

    def read_at(self, vaddr: int, length: int, what: str) -> bytes:
        return self.read(self.vaddr_to_offset(vaddr, length, what), length, what)

    def section(self, wanted: bytes) -> tuple[int, int] | None:
        """(file offset, size) of the section named ``wanted``, or None."""
        if self._section_headers is None:
            return None
        shoff, shentsize, shnum, shstrndx = self._section_headers
        if shnum > MAX_SECTIONS or shentsize < 64 or shstrndx >= shnum:
            raise self.fail(f"implausible section header table ({shnum} entries of {shentsize} bytes)")
        headers = [self.unpack("IIQQQQIIQQ", shoff + i * shentsize, f"section header {i}") for i in range(shnum)]
        names_offset, names_size = headers[shstrndx][4], headers[shstrndx][5]
        if names_size > MAX_SECTION_NAMES:
            raise self.fail(f"section name table of {names_size} bytes (at most {MAX_SECTION_NAMES})")
        names = self.read(names_offset, names_size, "the section name table")
        for h in headers:
            sh_name, sh_type, sh_offset, sh_size = h[0], h[1], h[4], h[5]
            end = names.find(b"\0", sh_name)
            if sh_name < len(names) and names[sh_name : end if end >= 0 else None] == wanted:
                if sh_type == SHT_NOBITS:
                    raise self.fail(f"{wanted.decode()} has no bytes in the file")
                return sh_offset, sh_size
        return None
