"""The DEBs of one exporter and arch, with each distinct payload compressed once.

A .deb is an ar archive of three members: `debian-binary`, the control member
(`control.tar.gz`: the control file, md5sums, conffiles, maintainer scripts) and the data member
(`data.tar.zst`: the files). The DEB dists of an exporter differ only in their control member
(the version's `+deb12`-style suffix) once the payload carries no dist-specific text
(`hub.packaging.plan` keeps README.Debian and changelog.Debian.gz the same for every dist). So:

- the dists whose planned payloads are equal (same paths, modes, owners and bytes) form a group;
- nfpm builds the group's first package whole, at the configured compression: its data member
  is the group's;
- nfpm builds every other package of the group with an uncompressed data member (tar only,
  no compression work), and the package is assembled from that build's `debian-binary` and
  control member and the group's compressed data member, with ar headers exactly as nfpm writes
  them (`write_ar`).

What proves it: every uncompressed data member of a group must be byte-identical to the first
package's own uncompressed data member (built too, for the check), so the shared compressed
member is nfpm's compression of the very tar each package would have held; the integration test
(`debs_integration_test.py`) builds a group both ways and finds the assembled packages
byte-identical to nfpm's whole ones, and dpkg-deb and lintian accept them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hub.common.errors import HubError
from hub.packaging.nfpm import run_nfpm, stage
from hub.packaging.plan import PackagePlan

AR_MAGIC = b"!<arch>\n"
AR_HEADER_SIZE = 60
UNCOMPRESSED = "none"  # nfpm's deb.compression for a plain data.tar


@dataclass(frozen=True)
class ArMember:
    name: str
    mtime: int
    uid: int
    gid: int
    mode: int
    data: bytes


def read_ar(path: Path) -> list[ArMember]:
    """The members of a common-format ar archive (as nfpm and dpkg-deb write .deb files)."""
    raw = path.read_bytes()
    if not raw.startswith(AR_MAGIC):
        raise HubError(f"{path}: not an ar archive")
    members = []
    at = len(AR_MAGIC)
    while at < len(raw):
        header = raw[at : at + AR_HEADER_SIZE]
        if len(header) != AR_HEADER_SIZE or header[58:60] != b"`\n":
            raise HubError(f"{path}: broken ar header at byte {at}")
        size = int(header[48:58])
        start = at + AR_HEADER_SIZE
        members.append(
            ArMember(
                name=header[0:16].decode("ascii").rstrip(" ").rstrip("/"),
                mtime=int(header[16:28]),
                uid=int(header[28:34]),
                gid=int(header[34:40]),
                mode=int(header[40:48], 8),
                data=raw[start : start + size],
            )
        )
        at = start + size + (size % 2)
    return members


def ar_bytes(members: Sequence[ArMember]) -> bytes:
    """A common-format ar archive: 60-byte headers (name, mtime, uid, gid, octal mode, size),
    members padded to an even length with a newline. Deterministic: every field comes from
    `members`."""
    out = [AR_MAGIC]
    for m in members:
        if len(m.name) > 16 or "/" in m.name:
            raise HubError(f"ar member name {m.name!r}: at most 16 characters, no slash")
        out.append(f"{m.name:<16}{m.mtime:<12}{m.uid:<6}{m.gid:<6}{m.mode:<8o}{len(m.data):<10}`\n".encode("ascii"))
        out.append(m.data)
        if len(m.data) % 2:
            out.append(b"\n")
    return b"".join(out)


def payload_key(plan: PackagePlan) -> tuple:
    """What the data member holds: equal keys give byte-identical data members."""
    return tuple(
        (e.dst, e.mode, e.owner, e.group, e.is_dir, e.config, e.content if e.content is not None else ("file", e.src))
        for e in plan.entries
    )


def _data_member(members: Sequence[ArMember], path: Path) -> ArMember:
    data = [m for m in members if m.name.startswith("data.tar")]
    if [m.name for m in members[:2]] != ["debian-binary", "control.tar.gz"] or len(data) != 1 or len(members) != 3:
        raise HubError(f"{path}: unexpected members {[m.name for m in members]}")
    return data[0]


def build_debs(plans: Sequence[PackagePlan], nfpm: str, out: Path, workdir: str) -> list[Path]:
    """Builds every DEB of `plans` (one exporter and arch) into `out`; returns their paths, in
    the order of `plans`. Each group of equal payloads is compressed once."""
    groups: dict[tuple, list[PackagePlan]] = {}
    for plan in plans:
        if plan.kind != "deb":
            raise HubError(f"build_debs: {plan.filename} is not a DEB")
        groups.setdefault(payload_key(plan), []).append(plan)
    built: dict[str, Path] = {}
    for group in groups.values():
        first = group[0]
        whole = run_nfpm(nfpm, _staged(first, workdir, None), "deb", str(out / first.filename), first.source_date_epoch)
        if len(group) == 1:
            built[first.filename] = whole
            continue
        shared = _data_member(read_ar(whole), whole)
        plain_digest = None
        for plan in group:
            plain_path = Path(workdir, plan.dist.name, "plain.deb")
            plain = read_ar(
                run_nfpm(nfpm, _staged(plan, workdir, UNCOMPRESSED), "deb", str(plain_path), plan.source_date_epoch)
            )
            digest = hashlib.sha256(_data_member(plain, plain_path).data).hexdigest()
            if plain_digest is None:
                plain_digest = digest
            elif digest != plain_digest:
                raise HubError(
                    f"{plan.filename}: its data member differs from {first.filename}'s although their plans are "
                    "equal (an nfpm change?); cannot share the compressed payload"
                )
            if plan is first:
                built[plan.filename] = whole
                continue
            target = out / plan.filename
            target.write_bytes(ar_bytes([plain[0], plain[1], shared]))
            built[plan.filename] = target
    return [built[plan.filename] for plan in plans]


def _staged(plan: PackagePlan, workdir: str, compression: str | None) -> str:
    directory = os.path.join(workdir, plan.dist.name, compression or "configured")
    os.makedirs(directory, exist_ok=True)
    return stage(plan, directory, compression=compression)
