"""The image's accounts and its system layer.

The *service user* is the account the exporter runs as: ``artifacts.docker.user``, which
defaults to the packages' system user. In the image it has fixed ids (``NONROOT_UID``,
``NONROOT_GID``) and its home is ``/var/lib/<user>``; an image runs as root only when the
manifest says ``user: root``. ``/etc/passwd`` and ``/etc/group`` hold root and the service
user, added to the base image's own accounts when there is a base.

The *system layer* holds what does not depend on the platform: those accounts, ``/tmp``, the
service user's home, and the manifest's directories and config files (``extra_files``) taken
from its package spec, owned by root or by the service user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from hub.common.errors import HubError
from hub.image.layers import Entry

# The service user's fixed ids (documented in docs/images.md): distroless' "nonroot" numbers,
# high enough to collide with no distribution's system accounts, and numeric in USER so that
# Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
NONROOT_UID = 65532
NONROOT_GID = 65532


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    @property
    def user_spec(self) -> str:
        return f"{self.uid}:{self.gid}"


def image_account(user: str) -> Account:
    if user == "root":
        return Account("root", 0, 0, "/root")
    return Account(user, NONROOT_UID, NONROOT_GID, f"/var/lib/{user}")


def _merge_db(existing: bytes | None, lines: Sequence[str], what: str) -> bytes:
    """Appends ``lines`` (name:x:id...) to an existing passwd/group file, keeping the base's
    entries; an existing entry with the same name and id is kept, a clash is an error."""
    text = existing.decode("utf-8", "replace") if existing else ""
    have = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[0]:
            have[parts[0]] = parts[2]
    ids = set(have.values())
    out = text if not text or text.endswith("\n") else text + "\n"
    for line in lines:
        name, _, ident = line.split(":")[:3]
        if name in have:
            if have[name] != ident:
                raise HubError(
                    f"the base image's /etc/{what} has {name!r} with id {have[name]}, the image needs {ident}"
                )
            continue
        if ident in ids:
            raise HubError(f"the base image's /etc/{what} already uses id {ident} for another name than {name!r}")
        out += line + "\n"
    return out.encode("utf-8")


def account_files(account: Account, base: Mapping[str, bytes] | None = None) -> dict[str, bytes]:
    """/etc/passwd and /etc/group: root (uid 0) and the service user, no login shell."""
    passwd = ["root:x:0:0:root:/root:/sbin/nologin"]
    group = ["root:x:0:"]
    if not account.is_root:
        passwd.append(f"{account.name}:x:{account.uid}:{account.gid}:{account.name}:{account.home}:/sbin/nologin")
        group.append(f"{account.name}:x:{account.gid}:")
    base = base or {}
    return {
        "etc/passwd": _merge_db(base.get("etc/passwd"), passwd, "passwd"),
        "etc/group": _merge_db(base.get("etc/group"), group, "group"),
    }


def _package_spec(manifest: Any) -> Any:
    """Where the image takes its config files and directories from: the RPM spec, else the DEB
    one (the same choice as the default docker user)."""
    return manifest.rpm or manifest.deb


def _owner(name: str, spec: Any, account: Account, manifest: Any, what: str, *, group: bool = False) -> int:
    if name == "root":
        return 0
    service = {account.name, manifest.docker.user}
    if spec is not None:
        service.add(spec.system_user)
    if name in service:
        return account.gid if group else account.uid
    raise HubError(f"{manifest.path}: {what}: owner {name!r} is neither root nor the image's user {account.name!r}")


def system_entries(manifest: Any, account: Account, base_files: Mapping[str, bytes] | None = None) -> list[Entry]:
    """Layer 2: accounts, /tmp, the service user's home, the manifest's directories and config
    files (a file inside a service-owned directory is owned by the service, as in packages)."""
    spec = _package_spec(manifest)
    entries: dict[str, Entry] = {}
    for path, data in account_files(account, base_files).items():
        entries["/" + path] = Entry("/" + path, "file", 0o644, data=data)
    entries["/tmp"] = Entry("/tmp", "dir", 0o1777)
    if not account.is_root:
        entries[account.home] = Entry(account.home, "dir", 0o755, account.uid, account.gid)
    dir_owner: dict[str, tuple[int, int]] = {}
    for d in spec.directories if spec else ():
        uid = _owner(d.owner, spec, account, manifest, f"directory {d.path}")
        gid = _owner(d.group, spec, account, manifest, f"directory {d.path}", group=True)
        entries[d.path] = Entry(d.path, "dir", int(d.mode, 8), uid, gid)
        dir_owner[d.path.rstrip("/")] = (uid, gid)
    for f in spec.extra_files if spec else ():
        src = os.path.join(manifest.directory, f.source)
        parents = [p for p in dir_owner if f.dest.startswith(p + "/")]
        uid, gid = dir_owner[max(parents, key=len)] if parents else (0, 0)
        entries[f.dest] = Entry(f.dest, "file", int(f.mode, 8), uid, gid, src=src)
    return list(entries.values())
