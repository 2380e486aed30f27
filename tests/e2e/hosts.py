"""Operators' hosts for the end-to-end test: what site_test.py needs to install the published
site's packages on a real systemd (integration.systemd_host) and to judge the services that
run there.

- `prepare_server`: makes a fresh container look like the servers our packages are for: a
  private address (alertmanager's gossip needs one to advertise) and the kernel's default
  `net.ipv4.ping_group_range` ("1 0": no unprivileged ICMP; Docker opens it for every
  container, which would let blackbox_exporter ping without its CAP_NET_RAW grant).
- `start_neighbour`: a service that already runs on the host before our packages arrive (the
  harness's perl stand-in exporter, as a user of its own), and `neighbour_untouched`, which
  checks that it still runs as the same process, never restarted, and still answers.
- `apt_tree`: the part of a published APT repository that apt needs for some packages
  (`dists/<codename>/` whole, signatures included, and those packages' pool files), to be
  copied into a host: the hosts run with `--network none`.
- `proc_status`, `capability_mask`: a process's identity, capabilities, no_new_privs,
  seccomp mode and number of seccomp filters, read from /proc/<pid>/status.
- `metric_families`, `sample_value`: the Prometheus text format, read without a client library.
- `start_reference`, `scrape_reference`: the same binary with the unit's own command line
  and EnvironmentFile, as a transient root service without any sandbox (`systemd-run`),
  scraped for comparison.
- `HostFiles` and `RootFiles`: one reading interface for an installed system, in a container or in
  a directory tree, so the same checks of installed files serve both.
- `documented_exposure`: the scores of docs/unit-exposure.md.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from integration.roots import Account, chroot_cmd, chroot_env, exec_start_argv, inside, run
from integration.systemd_host import HTTP_EXPORTER, SystemdHost

# --- the host ---------------------------------------------------------------------------------

# A private (RFC 1918) address on the loopback device: --network none leaves only 127.0.0.1,
# and alertmanager refuses to start when it finds no private address to advertise for gossip.
PRIVATE_ADDRESS = "10.254.0.1/32"


def prepare_server(host: SystemdHost) -> None:
    """A private address, and no unprivileged ICMP (the kernel's default; systemd's own
    sysctl.d opens it on full systems, Docker in every container). The setting belongs to
    the container's network namespace; Docker mounts /proc/sys read-only, hence the remount."""
    host.sh(
        f"ip addr add {PRIVATE_ADDRESS} dev lo\n"
        "mount -o remount,bind,rw /proc/sys\n"
        "echo '1 0' > /proc/sys/net/ipv4/ping_group_range\n"
        "mount -o remount,bind,ro /proc/sys\n"
    )


# --- the service that already runs -------------------------------------------------------------

NEIGHBOUR_USER = "hub-neighbour"
NEIGHBOUR_PORT = 8081
NEIGHBOUR_UNIT = "hub-neighbour.service"
NEIGHBOUR_SCRIPT = "/usr/local/lib/hub-neighbour/listener.pl"
# integration.systemd_host's perl stand-in exporter (perl-base is Essential): its process is
# named `perl`, which is how process_exporter groups it, and its answer names its user.


@dataclass(frozen=True)
class Neighbour:
    unit: str
    user: str
    port: int
    pid: int


def start_neighbour(host: SystemdHost) -> Neighbour:
    """Starts the neighbour service (its user made by systemd-sysusers) and waits for it."""
    unit = (
        "[Unit]\nDescription=A service that ran before the exporters\n"
        f"[Service]\nUser={NEIGHBOUR_USER}\nExecStart=/usr/bin/perl {NEIGHBOUR_SCRIPT} {NEIGHBOUR_PORT}\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    host.write_files(
        {
            f"/etc/sysusers.d/{NEIGHBOUR_USER}.conf": f'u {NEIGHBOUR_USER} - "Neighbour service" /nonexistent\n',
            NEIGHBOUR_SCRIPT: HTTP_EXPORTER,
            f"/etc/systemd/system/{NEIGHBOUR_UNIT}": unit,
        }
    )
    host.exec("systemd-sysusers")
    host.systemctl("daemon-reload")
    host.systemctl("enable", "--now", NEIGHBOUR_UNIT)
    host.wait_port(NEIGHBOUR_PORT, unit=NEIGHBOUR_UNIT)
    return Neighbour(NEIGHBOUR_UNIT, NEIGHBOUR_USER, NEIGHBOUR_PORT, host.unit_state(NEIGHBOUR_UNIT).main_pid)


def neighbour_untouched(host: SystemdHost, neighbour: Neighbour) -> None:
    """Still active, never restarted, the same process as its user, and still answering."""
    state = host.unit_state(neighbour.unit)
    assert (state.active, state.sub, state.restarts, state.main_pid) == (
        "active",
        "running",
        0,
        neighbour.pid,
    ), f"the neighbour service changed: {state}, started as PID {neighbour.pid}\n{host.journal(neighbour.unit)}"
    (process,) = [p for p in host.processes() if p.unit == neighbour.unit]
    assert (process.pid, process.user) == (neighbour.pid, neighbour.user), process
    assert f'user="{neighbour.user}"}} 1' in host.scrape(neighbour.port), "the neighbour does not answer as itself"


# --- a published APT repository, the part apt needs ------------------------------------------------


def _stanzas(text: str) -> Iterable[dict[str, str]]:
    for block in re.split(r"\n\s*\n", text):
        fields = dict(re.findall(r"^([A-Za-z0-9-]+):[ \t]*(.*)$", block, re.M))
        if fields:
            yield fields


def apt_tree(published: Path, codename: str, packages: Sequence[str], dest: Path) -> Path:
    """`dists/<codename>/` of the published site, as published (InRelease, Release.gpg,
    indexes, by-hash), plus the pool files of `packages` for amd64 that its Packages index
    lists: everything `apt-get update` and `apt-get install <packages>` read. apt checks
    the signature, the indexes' hashes and each .deb's against them, as over HTTP."""
    shutil.copytree(published / "dists" / codename, dest / "dists" / codename, symlinks=True)
    index = (published / "dists" / codename / "main" / "binary-amd64" / "Packages").read_text()
    files = {s["Package"]: s["Filename"] for s in _stanzas(index) if s.get("Package") in packages}
    missing = sorted(set(packages) - set(files))
    assert not missing, f"dists/{codename}/main/binary-amd64/Packages lists no {missing}"
    for filename in files.values():
        target = dest / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(published / filename, target)
    return dest


# --- processes ---------------------------------------------------------------------------------------

# linux/capability.h, by number.
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip


def capability_mask(names: Iterable[str]) -> int:
    return sum(1 << CAPABILITIES.index(n) for n in set(names))


def capability_names(mask: int) -> list[str]:
    return [n for i, n in enumerate(CAPABILITIES) if mask >> i & 1] + (
        [f"bit {i}" for i in range(len(CAPABILITIES), 64) if mask >> i & 1]
    )


@dataclass(frozen=True)
class ProcStatus:
    uids: tuple[int, ...]  # real, effective, saved, filesystem
    gids: tuple[int, ...]
    cap_eff: int
    cap_prm: int
    cap_bnd: int
    cap_amb: int
    no_new_privs: int
    seccomp: int  # 0 off, 1 strict, 2 filter
    # How many filters: Docker's profile puts one on every process of a container, so only
    # more than a plain process of the same host has shows the unit's own.
    seccomp_filters: int


def proc_status(host: SystemdHost, pid: int) -> ProcStatus:
    fields = host.proc_status(pid)
    return ProcStatus(
        tuple(int(x) for x in fields["Uid"].split()),
        tuple(int(x) for x in fields["Gid"].split()),
        int(fields["CapEff"], 16),
        int(fields["CapPrm"], 16),
        int(fields["CapBnd"], 16),
        int(fields["CapAmb"], 16),
        int(fields["NoNewPrivs"]),
        int(fields["Seccomp"]),
        int(fields["Seccomp_filters"]),
    )


# --- the Prometheus text format ------------------------------------------------------------------------

# A sample line: name, labels (values may hold any character, quoted), value.
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)')


def metric_families(text: str) -> set[str]:
    """The metric families of a scrape: every `# TYPE` name, plus the name of any sample no
    TYPE line covers (untyped). A histogram's or summary's _bucket, _sum and _count samples
    belong to their family."""
    typed = dict(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
    families = set(typed)
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m or m[1] in typed:
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", m[1])
        if typed.get(base) not in ("histogram", "summary"):
            families.add(m[1])
    return families


def sample_value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """The value of the first sample `name` whose labels include `labels`; None if none."""
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m or m[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m[2] or ""))
        if all(found.get(k) == v for k, v in (labels or {}).items()):
            return float(m[3])
    return None


# --- the same binary without a sandbox ----------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    unit: str
    argv: tuple[str, ...]
    port: int


def start_reference(
    host: SystemdHost, name: str, exec_start: str, env_file: str, port: int, overrides: Sequence[str]
) -> Reference:
    """Starts the unit's ExecStart as a transient service of root with none of the unit's
    settings (`systemd-run`): its words as systemd reads them, `$ARGS` taken from the unit's
    EnvironmentFile (integration.roots.exec_start_argv), that file for the rest of the
    environment, and each `--flag=value` of `overrides` in place of the same flag (another
    listen address on `port`, storage of its own; these exporters' flag parsers refuse a
    repeated flag). Started next to the service, it has run as long when both are scraped."""
    unit = f"hub-e2e-reference-{name.replace('_', '-')}.service"
    env = environment_text(host.read(env_file)) if host.exists(env_file) else {}
    replaced = {o.split("=", 1)[0].lstrip("-") for o in overrides}
    argv = [w for w in exec_start_argv(exec_start, env) if w.split("=", 1)[0].lstrip("-") not in replaced]
    argv += overrides
    # systemd would expand these itself: the words must reach the binary as they are.
    assert not any("$" in w or "%" in w for w in argv), argv
    host.exec("systemd-run", "--quiet", f"--unit={unit}", f"--property=EnvironmentFile=-{env_file}", *argv)
    return Reference(unit, tuple(argv), port)


def scrape_reference(host: SystemdHost, reference: Reference) -> list[str]:
    """Waits for the reference's port, checks that it runs exactly its command line, and
    scrapes /metrics twice (an exporter's own HTTP metrics appear once it has answered)."""
    host.wait_port(reference.port, unit=reference.unit)
    pid = host.unit_state(reference.unit).main_pid
    ran = tuple(host.cmdline(pid))
    assert ran == reference.argv, f"the reference ran {ran}, not {reference.argv}"
    return [host.scrape(reference.port) for _ in range(2)]


def stop_reference(host: SystemdHost, unit: str) -> None:
    # Not --collect: a failed run stays "failed", which wait_port reports at once.
    host.systemctl("stop", unit, check=False)
    host.systemctl("reset-failed", unit, check=False)


# --- reading an installed system ---------------------------------------------------------------------


def accounts_in(passwd: str, name: str) -> list[Account]:
    out = []
    for line in passwd.splitlines():
        f = line.split(":")
        if len(f) == 7 and f[0] == name:
            out.append(Account(f[0], int(f[2]), int(f[3]), f[4], f[5], f[6]))
    return out


def group_ids_in(group: str, name: str) -> list[int]:
    return [int(f[2]) for f in (line.split(":") for line in group.splitlines()) if len(f) == 4 and f[0] == name]


def environment_text(text: str) -> dict[str, str]:
    """KEY=VALUE lines of an EnvironmentFile, with the quoting our packages use (none, '', "")."""
    env = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_]\w*", key.strip()), f"not an environment assignment: {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


class HostFiles:
    """An installed system in a running container."""

    def __init__(self, host: SystemdHost) -> None:
        self.host = host

    def read_bytes(self, path: str) -> bytes:
        return self.host.read_bytes(path)

    def read_text(self, path: str) -> str:
        return self.host.read(path)

    def is_file(self, path: str) -> bool:
        return self.host.exec("test", "-f", path, check=False).returncode == 0

    def owner_mode(self, path: str) -> tuple[int, int]:
        uid, mode = self.host.exec("stat", "-c", "%u %a", path).stdout.split()
        return int(uid), int(mode, 8)

    def elf_machine(self, path: str) -> int | None:
        # The first 20 bytes only (od prints them in hex): binaries are tens of megabytes.
        return _elf_machine(bytes.fromhex(self.host.exec("od", "-An", "-tx1", "-N20", path).stdout))

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return self.host.exec(*argv, check=False)


class RootFiles:
    """An installed system in a directory tree (a chroot)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read_bytes(self, path: str) -> bytes:
        return inside(self.root, path).read_bytes()

    def read_text(self, path: str) -> str:
        return inside(self.root, path).read_text()

    def is_file(self, path: str) -> bool:
        return inside(self.root, path).is_file()

    def owner_mode(self, path: str) -> tuple[int, int]:
        st = inside(self.root, path).stat()
        return st.st_uid, stat.S_IMODE(st.st_mode)

    def elf_machine(self, path: str) -> int | None:
        with open(inside(self.root, path), "rb") as f:
            return _elf_machine(f.read(20))

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return run([chroot_cmd(), self.root, *argv], env=chroot_env(), check=False)


def _elf_machine(head: bytes) -> int | None:
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


# --- docs/unit-exposure.md ----------------------------------------------------------------------------


def documented_exposure(doc: Path) -> dict[str, float]:
    """{exporter: score} from the table of docs/unit-exposure.md (`| name | `user` | 1.9 OK | ...`)."""
    out = {}
    for line in doc.read_text().splitlines():
        m = re.match(r"^\| (\w+) \| `[^`]+` \| ([0-9]+\.[0-9]) [A-Z]+ \|", line)
        if m:
            out[m[1]] = float(m[2])
    return out
