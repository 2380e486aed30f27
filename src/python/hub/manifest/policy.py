"""The privilege policy: what a manifest may not ask of the hosts that install its packages.

A package's maintainer scripts run as root on every host of a fleet, and its service runs
there for good, so a manifest, whoever contributes it, may not:

- give a file or directory a setuid, setgid, sticky or world-writable mode;
- install anything outside the exporter's own paths (:func:`allowed_roots`);
- give the service user a directory outside its own state and log directories, or write
  access to a directory of configuration;
- make an existing system account or group its service user (``root`` only through the
  explicit ``run_as_root`` escape, which carries its reason and is reported by every lint);
- grant its service a capability, a device, a path, an address family, a system call or the
  other processes' ``/proc`` without a reason, or a write access outside its own paths.

Every refusal names the field path. The checks run on defaulted data (after the schema) and
skip values the schema refuses.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from hub.common import matrix
from hub.common.errors import FieldError

# Mode bits no package may set: they grant privilege (setuid, setgid), or let any local user
# write (world-writable) or pin other users' files (sticky) in the exporter's paths.
_REFUSED_BITS = ((0o4000, "setuid"), (0o2000, "setgid"), (0o1000, "sticky"), (0o002, "world-writable"))

# System accounts and groups a service user may not be: Debian's base-passwd and adduser
# groups, EL's setup package, and the accounts of common system services. Sharing one of them
# would hand the exporter that account's files, devices or sudo rights.
SYSTEM_ACCOUNTS = frozenset(
    """
    root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats
    nobody nogroup nfsnobody adm tty disk kmem dialout fax voice cdrom floppy tape sudo audio
    dip operator src shadow utmp video sasl plugdev staff users wheel docker lock input kvm
    render sgx netdev messagebus dbus polkitd sshd ftp halt shutdown tss chrony rpc rpcuser
    postfix postdrop crontab ssl-cert lxd libvirt libvirt-qemu qemu ntp avahi systemd-journal
    """.split()
)
# Prefixes of system accounts: systemd's own, and Debian's underscore accounts (_apt).
SYSTEM_ACCOUNT_PREFIXES = ("systemd-", "_")

# Capabilities a grant may name (capabilities(7)).
CAPABILITIES = frozenset(
    """
    CAP_AUDIT_CONTROL CAP_AUDIT_READ CAP_AUDIT_WRITE CAP_BLOCK_SUSPEND CAP_BPF CAP_CHECKPOINT_RESTORE
    CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_IPC_LOCK CAP_IPC_OWNER
    CAP_KILL CAP_LEASE CAP_LINUX_IMMUTABLE CAP_MAC_ADMIN CAP_MAC_OVERRIDE CAP_MKNOD CAP_NET_ADMIN
    CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW CAP_PERFMON CAP_SETFCAP CAP_SETGID CAP_SETPCAP
    CAP_SETUID CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_CHROOT CAP_SYS_MODULE CAP_SYS_NICE CAP_SYS_PACCT
    CAP_SYS_PTRACE CAP_SYS_RAWIO CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_SYSLOG
    CAP_WAKE_ALARM
    """.split()
)
# Address families beyond the default AF_INET, AF_INET6 and AF_UNIX (address_families(7)).
ADDRESS_FAMILIES = frozenset("AF_NETLINK AF_PACKET AF_BLUETOOTH AF_CAN AF_VSOCK AF_XDP AF_ALG".split())
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_SYSCALL = re.compile(r"@?[a-z][a-z0-9_-]{0,63}")
# Where a granted device may live: a /dev path, or one of systemd's device classes
# (DeviceAllow=block-sd, char-nvme...).
_DEVICE = re.compile(r"/dev/[A-Za-z0-9._/*+-]+|(block|char)-[A-Za-z0-9_*+-]+")
GRANT_KINDS = ("capability", "device", "read_path", "write_path", "address_family", "system_call", "proc")


def allowed_roots(name: str, user: str) -> dict[str, str]:
    """The directories a package of exporter ``name`` with service user ``user`` may install
    into (the roots themselves included), each with what it is for."""
    deb = matrix.deb_package_name(name)
    roots = {
        f"/etc/{name}": "its configuration",
        f"/var/lib/{_state_owner(name, user)}": "its service's state",
        f"/var/log/{name}": "its service's logs",
        f"/usr/share/{name}": "its data",
        f"/usr/share/{deb}": "its data",
        f"/usr/libexec/{name}": "its helper programs",
    }
    return roots


def service_roots(name: str, user: str) -> tuple[str, ...]:
    """The directories the service user may own or write: its state and its logs."""
    return (f"/var/lib/{_state_owner(name, user)}", f"/var/log/{name}")


def _state_owner(name: str, user: str) -> str:
    """Whose /var/lib directory the service's state lives in: its user's (several exporters
    may share one), or its own name's when it runs as root."""
    return name if user == "root" else user


def is_system_account(user: str) -> bool:
    return user in SYSTEM_ACCOUNTS or user.startswith(SYSTEM_ACCOUNT_PREFIXES)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _mode_problem(mode: Any) -> str | None:
    if not isinstance(mode, str) or not re.fullmatch(r"0?[0-7]{3,4}", mode):
        return None  # the schema's problem
    bits = int(mode, 8)
    refused = [label for bit, label in _REFUSED_BITS if bits & bit]
    if refused:
        return f"{mode!r} is {' and '.join(refused)}: a package may not install such a mode (expected at most 0775)"
    return None


def _path_problem(path: Any, name: str, user: str, what: str) -> str | None:
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    roots = allowed_roots(name, user)
    if any(_under(path, root) for root in roots):
        return None
    allowed = ", ".join(f"{r}/" for r in dict.fromkeys(roots))
    return f"{path!r} is outside this exporter's paths: {what} may only go under {allowed}"


def privilege_errors(data: dict[str, Any], name: str | None) -> list[FieldError]:
    """Every refusal of the privilege policy in defaulted manifest data."""
    errors: list[FieldError] = []
    if not name:
        return errors
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        return errors
    for kind in ("rpm", "deb"):
        spec = artifacts.get(kind)
        if isinstance(spec, dict) and spec.get("enabled") is not False:
            errors.extend(_package_errors(f"artifacts.{kind}", spec, name))
    return errors


def _package_errors(prefix: str, spec: dict[str, Any], name: str) -> list[FieldError]:
    user = spec.get("system_user", name)
    if not (isinstance(user, str) and _USER.fullmatch(user)):
        return []  # the schema's problem: every rule below depends on the user
    systemd: dict[str, Any] = spec["systemd"] if isinstance(spec.get("systemd"), dict) else {}
    errors = list(_account_errors(prefix, user, systemd))
    for i, item in enumerate(_list(spec.get("extra_files"))):
        where = f"{prefix}.extra_files[{i}]"
        problem = _mode_problem(item.get("mode"))
        if problem:
            errors.append(FieldError(f"{where}.mode", problem))
        problem = _path_problem(item.get("dest"), name, user, "files")
        if problem:
            errors.append(FieldError(f"{where}.dest", problem))
    for i, item in enumerate(_list(spec.get("directories"))):
        errors.extend(_directory_errors(f"{prefix}.directories[{i}]", item, name, user))
    for i, grant in enumerate(_list(systemd.get("grants"))):
        errors.extend(_grant_errors(f"{prefix}.systemd.grants[{i}]", grant, name, user))
    return errors


def _account_errors(prefix: str, user: str, systemd: dict[str, Any]) -> Iterator[FieldError]:
    as_root = systemd.get("run_as_root")
    if user == "root":
        if not (isinstance(as_root, str) and as_root.strip()):
            yield FieldError(
                f"{prefix}.system_user",
                "'root' needs systemd.run_as_root: the reason the service cannot run as its own user "
                "(prefer a user of its own with the capabilities and devices it needs, in systemd.grants)",
            )
    elif is_system_account(user):
        yield FieldError(
            f"{prefix}.system_user",
            f"{user!r} is an existing system account or group: the service would get its files and rights; "
            "expected a user of the exporter's own (the default is the exporter's name)",
        )
    if as_root is not None and user != "root":
        yield FieldError(f"{prefix}.systemd.run_as_root", f"only for system_user root (the service runs as {user!r})")


def _directory_errors(where: str, item: dict[str, Any], name: str, user: str) -> Iterator[FieldError]:
    path, mode = item.get("path"), item.get("mode", "0755")
    problem = _mode_problem(mode)
    if problem:
        yield FieldError(f"{where}.mode", problem)
    problem = _path_problem(path, name, user, "directories")
    if problem:
        yield FieldError(f"{where}.path", problem)
        return
    if not isinstance(path, str):
        return
    own = any(_under(path, root) for root in service_roots(name, user))
    if item.get("owner", "root") == user and user != "root" and not own:
        roots = " or ".join(f"{r}/" for r in service_roots(name, user))
        yield FieldError(
            f"{where}.owner",
            f"the service user may own directories under {roots} only ({path!r} would let it change what "
            "root installs there)",
        )
    group_writes = isinstance(mode, str) and re.fullmatch(r"0?[0-7]{3,4}", mode) and int(mode, 8) & 0o020
    if item.get("group", "root") == user and user != "root" and group_writes and not own:
        yield FieldError(
            f"{where}.mode",
            f"{mode!r} lets the service's group write to {path!r}: outside its state and log directories, "
            "its group may only read (expected at most 0750)",
        )


def _grant_errors(where: str, grant: dict[str, Any], name: str, user: str) -> Iterator[FieldError]:
    kinds = [k for k in GRANT_KINDS if k in grant]
    if len(kinds) != 1:
        got = ", ".join(kinds) or "none"
        yield FieldError(where, f"expected exactly one of {', '.join(GRANT_KINDS)} (got {got})")
        return
    kind, value = kinds[0], grant[kinds[0]]
    if "access" in grant and kind != "device":
        yield FieldError(f"{where}.access", "only with device")
    if not isinstance(value, str):
        return
    if kind == "capability" and value not in CAPABILITIES:
        yield FieldError(
            f"{where}.capability", f"{value!r} is not a Linux capability (expected CAP_NET_RAW and the like)"
        )
    elif kind == "address_family" and value not in ADDRESS_FAMILIES:
        families = ", ".join(sorted(ADDRESS_FAMILIES))
        yield FieldError(
            f"{where}.address_family",
            f"{value!r}: expected one of {families} (AF_INET, AF_INET6 and AF_UNIX are always allowed)",
        )
    elif kind == "device" and not _DEVICE.fullmatch(value):
        yield FieldError(f"{where}.device", f"{value!r}: expected a /dev path or a device class like block-sd")
    elif kind == "system_call" and not _SYSCALL.fullmatch(value):
        yield FieldError(f"{where}.system_call", f"{value!r}: expected a system call name or an @group")
    elif kind == "write_path" and not any(_under(value, root) for root in service_roots(name, user)):
        roots = " or ".join(f"{r}/" for r in service_roots(name, user))
        yield FieldError(f"{where}.write_path", f"{value!r}: the service may write under {roots} only")
    elif kind == "read_path" and not value.startswith("/"):
        yield FieldError(f"{where}.read_path", f"{value!r}: expected an absolute path")


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
