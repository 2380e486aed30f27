"""Secret key material: an ephemeral signing key, the byte patterns that can only come from
its secret part (the needles), and scanners that look for them in files, in blobs and in
BuildGrid's action cache read back over REAPI.

The needles: 32-byte slices of each secret RSA value (d, p, q, u) of `gpg
--export-secret-keys` (binary, parsed packet by packet), their hex in both cases, every
base64 line of the armored export that encodes only secret bytes, and the "PRIVATE KEY
BLOCK" armor header. `Scan` looks for them in the raw bytes of every file and blob, and in
the decompressed bytes of every gzip, xz or zstd stream found in them (OCI layers, DEB
members, RPM payloads, compressed values in a store; zstd through the `zstd` command, without
which the scan fails rather than skip them), and keeps the sha256 of every whole
blob and which of the given probes (public bytes that must be there) it saw: the positive
controls that show a scan really read what it claims.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import lzma
import re
import shutil
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence, Union

from testkit.packages import export_public_key, export_secret_key, generate_key, gpg, stop_agent
from integration.publishing import reachable


Needle = Union[bytes, "re.Pattern[bytes]"]
ARMOR_HEADER = b"PRIVATE KEY BLOCK"
# An armored private key (any key): the header, optional armor headers, the empty line, base64.
# Code that only names the header (hub.repos.signing_key, rpm's librpmio, nfpm) does not match it.
ARMORED_PRIVATE_KEY = re.compile(
    rb"-----BEGIN PGP PRIVATE KEY BLOCK-----\r?\n(?:[!-9;-~]+: [^\r\n]*\r?\n)*\r?\n[A-Za-z0-9+/]{40,}"
)


def _packets(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(tag, body offset, body length) of each OpenPGP packet (RFC 4880 4.2)."""
    i = 0
    while i < len(data):
        first = data[i]
        assert first & 0x80, f"not an OpenPGP packet at {i}"
        if first & 0x40:
            tag, l0 = first & 0x3F, data[i + 1]
            if l0 < 192:
                length, header = l0, 2
            elif l0 < 224:
                length, header = ((l0 - 192) << 8) + data[i + 2] + 192, 3
            elif l0 == 255:
                length, header = int.from_bytes(data[i + 2 : i + 6], "big"), 6
            else:
                raise AssertionError("partial body lengths do not occur in key exports")
        else:
            tag, size = (first >> 2) & 0x0F, (1, 2, 4)[first & 0x03]
            length, header = int.from_bytes(data[i + 1 : i + 1 + size], "big"), 1 + size
        yield tag, i + header, length
        i += header + length


def secret_ranges(binary: bytes) -> list[tuple[int, int]]:
    """The byte ranges of the secret MPIs (RSA d, p, q, u) of each unprotected secret (sub)key
    packet in `gpg --export-secret-keys` output: what must never leave the keyring."""
    ranges = []
    for tag, start, length in _packets(binary):
        if tag not in (5, 7):  # secret key, secret subkey
            continue
        body = binary[start : start + length]
        assert body[0] == 4 and body[5] in (1, 3), "expected a V4 RSA key"
        pos = 6
        for _ in range(2):  # public n, e
            bits = int.from_bytes(body[pos : pos + 2], "big")
            pos += 2 + (bits + 7) // 8
        assert body[pos] == 0, "expected an unprotected secret key (%no-protection)"
        pos += 1
        for _ in range(4):  # d, p, q, u
            bits = int.from_bytes(body[pos : pos + 2], "big")
            ranges.append((start + pos + 2, start + pos + 2 + (bits + 7) // 8))
            pos += 2 + (bits + 7) // 8
    assert ranges, "no secret key packet"
    return ranges


def secret_needles(binary: bytes, armored: str) -> list[bytes]:
    """Byte strings that can only come from the secret key: 32-byte slices of each secret MPI,
    their hex, and every base64 line of the armored export that encodes only secret bytes."""
    ranges = secret_ranges(binary)
    needles = []
    for a, b in ranges:
        middle = (a + b) // 2
        chunk = binary[middle - 16 : middle + 16]
        needles += [chunk, chunk.hex().encode(), chunk.hex().upper().encode()]
    body = [line for line in armored.splitlines() if line and ":" not in line and not line.startswith(("-----", "="))]
    assert base64.b64decode("".join(body)) == binary, "the armored and binary exports differ"
    offset = 0
    for line in body:
        n = len(base64.b64decode(line))
        if len(line) >= 60 and any(a <= offset and offset + n <= b for a, b in ranges):
            needles.append(line.encode())
        offset += n
    assert any(len(n) >= 60 for n in needles), "no armored line inside the secret MPIs"
    return needles + [ARMOR_HEADER]


@dataclass(frozen=True)
class EphemeralKey:
    home: Path  # its GNUPGHOME: the one place allowed to hold it
    fingerprint: str
    secret: str  # the armored export, as HUB_SIGNING_KEY takes it
    binary: bytes  # the binary export
    public: bytes  # the armored public key
    needles: tuple[bytes, ...]


@contextlib.contextmanager
def ephemeral_key(home: Path, email: str) -> Iterator[EphemeralKey]:
    """A new RSA-3072 key in `home` (unprotected, as CI's secret holds it); its gpg-agent is
    stopped on exit."""
    fpr = generate_key(home, length=3072, email=email)
    try:
        armored = export_secret_key(home, fpr)
        binary = gpg(home, "--export-secret-keys", fpr).stdout
        yield EphemeralKey(
            home, fpr, armored, binary, export_public_key(home, fpr), tuple(secret_needles(binary, armored))
        )
    finally:
        stop_agent(home)


# --------------------------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------------------------


def for_code_trees(needles: Sequence[bytes]) -> list[Needle]:
    """The needles for trees that hold code as well as data (a store, a CAS, sandboxes, caches,
    the workspace): the bare armor header is replaced by an armored private key block."""
    return [ARMORED_PRIVATE_KEY if n == ARMOR_HEADER else n for n in needles]


def describe(needle: Needle) -> str:
    return "an armored private key block" if isinstance(needle, re.Pattern) else f"{needle[:12]!r}..."


GZIP_MAGIC = b"\x1f\x8b\x08"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
STREAM_KINDS = {GZIP_MAGIC: "gzip", XZ_MAGIC: "xz", ZSTD_MAGIC: "zstd"}
MAX_INFLATED = 1 << 30  # per stream: a bound, not a limit any real blob here reaches


def zstd_command() -> str:
    """The zstd command line tool, which decompresses zstd streams for the scan (no zstd module
    is in a resolve). Missing, it fails the scan: RPM payloads and DEB members are zstd, and a
    scan that skipped them would pass without reading them."""
    path = shutil.which("zstd")
    assert path, "the key scan reads zstd streams with the `zstd` command: install zstd (Debian package zstd)"
    return path


def zstd_compress(data: bytes) -> bytes:
    """A zstd frame of `data`, for the scan's positive controls."""
    return subprocess.run([zstd_command(), "-q", "-c"], input=data, capture_output=True, check=True).stdout


def _inflate_at(data: bytes, offset: int, magic: bytes) -> bytes:
    """The decompressed bytes of the stream starting at `offset` (empty if it is none: a
    magic number can occur by chance)."""
    try:
        if magic == GZIP_MAGIC:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(memoryview(data)[offset:], MAX_INFLATED)
        if magic == XZ_MAGIC:
            return lzma.LZMADecompressor().decompress(memoryview(data)[offset:], MAX_INFLATED)
        # Trailing bytes after the frame make zstd exit non-zero; what it decoded is on stdout.
        return subprocess.run(
            [zstd_command(), "-dcq"], input=bytes(memoryview(data)[offset:]), capture_output=True
        ).stdout[:MAX_INFLATED]
    except (zlib.error, lzma.LZMAError, EOFError):
        pass
    return b""


@dataclass
class Scan:
    """Looks for `needles` (byte strings or patterns) in everything it is given. `probes` (label -> bytes) are public
    bytes the scanned data must contain somewhere (positive controls); `found` lists the places
    a needle was seen."""

    needles: Sequence[Needle]
    probes: Mapping[str, bytes] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)
    hits: list[tuple[str, str, int]] = field(default_factory=list)  # (area, where, needle index)
    files: Counter = field(default_factory=Counter)  # per area
    bytes: Counter = field(default_factory=Counter)
    streams: Counter = field(default_factory=Counter)  # compressed streams opened, per area
    stream_kinds: Counter = field(default_factory=Counter)  # compressed streams opened: gzip, xz, zstd
    digests: dict[str, set[str]] = field(default_factory=dict)  # area -> sha256 of each blob
    seen: dict[str, set[str]] = field(default_factory=dict)  # probe label -> areas

    def blob(self, area: str, where: str, data: bytes, *, depth: int = 0) -> None:
        if depth == 0:
            self.files[area] += 1
            self.bytes[area] += len(data)
            self.digests.setdefault(area, set()).add(hashlib.sha256(data).hexdigest())
        for i, needle in enumerate(self.needles):
            if needle.search(data) if isinstance(needle, re.Pattern) else needle in data:
                self.hits.append((area, where, i))
                self.found.append(f"{area}: {where}: {describe(needle)}")
        for label, probe in self.probes.items():
            if probe in data:
                self.seen.setdefault(label, set()).add(area)
        if depth >= 2:
            return
        for magic in STREAM_KINDS:
            at = data.find(magic)
            while at >= 0:
                inflated = _inflate_at(data, at, magic)
                if inflated:
                    self.streams[area] += 1
                    self.stream_kinds[STREAM_KINDS[magic]] += 1
                    self.blob(area, f"{where} (stream at {at})", inflated, depth=depth + 1)
                at = data.find(magic, at + 1)

    def tree(self, area: str, root: Path, *, exclude: Sequence[Path] = ()) -> int:
        """Every regular file under `root` (links not followed); returns how many."""
        excluded = [p.resolve() for p in exclude]
        before = self.files[area]
        paths = [root] if root.is_file() else list(reachable(root)) if root.exists() else []
        for path in paths:
            if path.is_symlink() or not path.is_file():
                continue
            if any(path.resolve().is_relative_to(e) for e in excluded):
                continue
            self.blob(area, str(path), path.read_bytes())
        return self.files[area] - before

    def summary(self) -> str:
        areas = [
            f"{a}: {self.files[a]} files/blobs, {self.bytes[a] / 1e6:.1f} MB, {self.streams[a]} streams"
            for a in sorted(self.files)
        ]
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.stream_kinds.items()))
        return "; ".join(areas + ([f"streams opened: {kinds}"] if kinds else []))


def scan(paths: Sequence[Path], needles: Sequence[Needle], *, exclude: Sequence[Path] = ()) -> tuple[int, list[str]]:
    """(files scanned, findings) over every regular file under `paths` (links not followed)."""
    s = Scan(needles)
    for path in paths:
        s.tree("files", path, exclude=exclude)
    return s.files["files"], s.found


# --------------------------------------------------------------------------------------------
# BuildGrid's action cache, read back over REAPI
# --------------------------------------------------------------------------------------------

# Runs with BuildGrid's own interpreter (its grpc and REAPI protos). Every small CAS blob that
# parses as an Action whose Command is in the CAS is looked up in the action cache; each
# ActionResult found, and every blob it names (stdout, stderr, output files, output trees and
# the files in them), is read back over ByteStream into OUT. The CAS directory is BuildGrid's
# disk storage (cas/objects/<2 hex>/<62 hex>).
_READ_BACK = r"""
import hashlib, json, os, sys
import grpc
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re, remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2 as bs, bytestream_pb2_grpc as bs_grpc

address, objects, out = sys.argv[1:4]
channel = grpc.insecure_channel(address.split("://", 1)[-1], options=[("grpc.max_receive_message_length", 1 << 30)])
ac, stream = re_grpc.ActionCacheStub(channel), bs_grpc.ByteStreamStub(channel)
blobs = {}
for d in os.listdir(objects):
    for f in os.listdir(os.path.join(objects, d)):
        blobs[d + f] = os.path.getsize(os.path.join(objects, d, f))
stats = {"cas_blobs": len(blobs), "actions": 0, "action_results": 0, "read_back": 0, "read_back_bytes": 0}

def read(digest):
    data = b"".join(r.data for r in stream.Read(bs.ReadRequest(resource_name=f"blobs/{digest.hash}/{digest.size_bytes}")))
    assert hashlib.sha256(data).hexdigest() == digest.hash and len(data) == digest.size_bytes, digest
    with open(os.path.join(out, "blob-" + digest.hash), "wb") as f:
        f.write(data)
    stats["read_back"] += 1
    stats["read_back_bytes"] += len(data)
    return data

for h, size in sorted(blobs.items()):
    if size > 65536:
        continue
    with open(os.path.join(objects, h[:2], h[2:]), "rb") as f:
        data = f.read()
    try:
        action = re.Action.FromString(data)
    except Exception:
        continue
    if action.command_digest.hash not in blobs:
        continue
    stats["actions"] += 1
    try:
        result = ac.GetActionResult(re.GetActionResultRequest(instance_name="", action_digest=re.Digest(hash=h, size_bytes=size)))
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            continue
        raise
    stats["action_results"] += 1
    with open(os.path.join(out, "action-result-" + h), "wb") as f:
        f.write(result.SerializeToString())
    digests = [d for d in (result.stdout_digest, result.stderr_digest) if d.hash]
    digests += [o.digest for o in result.output_files]
    for tree_digest in [o.tree_digest for o in result.output_directories]:
        tree = re.Tree.FromString(read(tree_digest))
        digests += [f.digest for d in [tree.root, *tree.children] for f in d.files]
    for digest in {d.hash: d for d in digests}.values():
        read(digest)
print(json.dumps(stats))
"""


def read_back_action_cache(bgd: str, address: str, objects: Path, out: Path) -> dict[str, int]:
    """Reads BuildGrid's action cache (and every blob its entries name) back into `out`, with
    BuildGrid's own interpreter; returns its counts."""
    python = Path(bgd).parent / "python3"
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(python), "-c", _READ_BACK, address, str(objects), str(out)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"REAPI read-back failed: {result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])
