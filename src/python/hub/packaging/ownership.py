"""Who owns what a package installs, declared rather than scripted.

A package's maintainer scripts run as root, and the service user can write to its own
directories: a script that changed an owner or a mode by path there could be sent, through
a symbolic or hard link the service user planted, to any file of the host. So no script does:

- the **service account** is declared in ``/usr/lib/sysusers.d/<package>.conf``, created by
  ``systemd-sysusers`` (``useradd`` where systemd is absent);
- in **DEBs**, the payload is root's, and the service's directories and files are declared
  in ``/usr/lib/tmpfiles.d/<package>.conf``, applied by ``systemd-tmpfiles --create``, which
  works on file descriptors, follows no link and refuses "unsafe path transitions" (a
  root-owned file below a directory the service user owns); a configuration file outside
  /etc (not a dpkg conffile, Policy 10.7.2) is copied from its template only when missing
  (``C``), and never touched again;
- in **RPMs**, rpm applies the owner itself while it installs the payload (``%attr``); the
  account exists by then, created by ``%pre``.

Vocabulary: an *ownership* is a path that belongs to someone other than root:root, with its
mode; a *seeded* file is a DEB configuration file outside /etc, shipped as a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from hub.common.errors import HubError

SYSUSERS_DIR = "/usr/lib/sysusers.d"
TMPFILES_DIR = "/usr/lib/tmpfiles.d"
TMPFILES_OVERRIDE_DIR = "/etc/tmpfiles.d"


@dataclass(frozen=True)
class Ownership:
    path: str
    owner: str
    group: str
    mode: str  # octal, e.g. "0750"
    is_dir: bool = False
    template: str | None = None  # a seeded file: created from this template when missing


def ownerships(spec: Any, user: str | None, seeded: dict[str, str]) -> list[Ownership]:
    """Directories with a non-root owner or group, then extra files inside such a directory:
    a file placed in a directory that belongs to the service (mysqld_exporter's .my.cnf,
    mode 0600) must be readable by the service, so it gets that directory's owner too.
    ``seeded`` maps a seeded file's destination to its template."""
    allowed = {"root", user} if user else {"root"}
    out = []
    for d in spec.directories:
        for who in (d.owner, d.group):
            if who not in allowed:
                raise HubError(
                    f"directory {d.path}: owner/group {who!r} is neither root nor the service "
                    f"user ({user or 'root'}); the package creates no other account"
                )
        if (d.owner, d.group) != ("root", "root"):
            out.append(Ownership(d.path, d.owner, d.group, d.mode, is_dir=True))
    for f in spec.extra_files:
        parents = [d for d in spec.directories if f.dest.startswith(d.path.rstrip("/") + "/")]
        if parents:
            d = max(parents, key=lambda x: len(x.path))
            if (d.owner, d.group) != ("root", "root"):
                out.append(Ownership(f.dest, d.owner, d.group, f.mode, template=seeded.get(f.dest)))
    return out


def sysusers_path(package: str) -> str:
    return f"{SYSUSERS_DIR}/{package}.conf"


def tmpfiles_path(package: str) -> str:
    return f"{TMPFILES_DIR}/{package}.conf"


def tmpfiles_override_path(package: str) -> str:
    """Where an administrator's version replaces the package's (tmpfiles.d(5))."""
    return f"{TMPFILES_OVERRIDE_DIR}/{package}.conf"


def sysusers_line(user: str, comment: str, home: str, shell: str) -> str:
    """The ``u`` line of sysusers.d(5): a system user with its own group (same name), its home
    (not created) and its shell. Several packages may declare the same user."""
    return f'u {user} - "{comment}" {home} {shell}'


def sysusers_conf(package: str, line: str) -> str:
    return (
        f"# The service account of {package}, created by systemd-sysusers when the package is\n"
        "# installed (sysusers.d(5)); it stays when the package is removed.\n"
        f"{line}\n"
    )


def tmpfiles_type(o: Ownership) -> str:
    """``d`` a directory, ``C`` a seeded file (copied once, from its template), ``z`` an
    existing file's mode and owner (tmpfiles.d(5))."""
    return "d" if o.is_dir else "C" if o.template is not None else "z"


def tmpfiles_argument(o: Ownership) -> str:
    return "" if o.is_dir or o.template is None else f" {o.template}"


def tmpfiles_line(o: Ownership) -> str:
    return f"{tmpfiles_type(o)} {o.path} {o.mode} {o.owner} {o.group} -{tmpfiles_argument(o)}"


def tmpfiles_conf(package: str, owned: Sequence[Ownership]) -> str:
    lines = "".join(tmpfiles_line(o) + "\n" for o in owned)
    return (
        f"# The directories and files of {package} that belong to its service, applied by\n"
        "# systemd-tmpfiles when the package is configured and at every boot (tmpfiles.d(5)).\n"
        f"# To change them on a host, copy this file to /etc/tmpfiles.d/{package}.conf.\n"
        f"{lines}"
    )
