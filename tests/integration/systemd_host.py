"""A real systemd to run packages under: Debian containers whose PID 1 is systemd.

The install tests put packages into throwaway roots where no init runs; units, maintainer
scripts and sandboxing settings need a real systemd. This module gives one per test:

- `systemd_root_tarball(suite)`: `mmdebstrap --variant=minbase` of Debian 12 (bookworm) or
  13 (trixie) with systemd, dbus, curl, adduser, rpm (RPM scriptlets run under the same
  systemd with `rpm -i/-U/-e`), procps and iproute2 (`ss`). Built once, cached next to the
  install tests' roots (keyed by suite and package list), behind a file lock, renamed into
  place atomically.
- `systemd_image(dockerd, suite)`: that tarball `docker import`ed into a private dockerd
  (integration.services.dockerd) once per daemon, i.e. once per test session that shares it.
- `systemd_host(dockerd, suite)`: a container running /lib/systemd/systemd as PID 1, with
  its own network namespace (`--network none`: only a loopback of its own, so two hosts can
  both listen on port 9100), tmpfs /run, /run/lock and /tmp, and the host's cgroup tree
  (Docker binds it read-only at the top only: the v1 controllers below stay writable, which is
  what lets systemd manage its units' cgroups). CAP_SYS_ADMIN is added, because without it
  systemd skips most of a unit's sandbox in silence (see CAP_ADD); `--privileged` is never
  used. It waits until `systemctl is-system-running` says `running`, yields a `SystemdHost`,
  and always removes the container afterwards.
- `apt_install(host, repo, public_key, package)`: apt-get from a signed repository directory
  copied into the container, through the deb822 source users get (hub.repos.user_files),
  with `URIs: file:/srv/...` and `Signed-By:`.
- `rpm(host, ...)`: the image's rpm with EL's database path, for RPM scriptlets under the
  same systemd.

What the container can and cannot prove about a unit's sandbox is shown, setting by setting,
by systemd_host_test.py.

Docker runs through its CLI against the private daemon, commands in the container through
`docker exec`; a failure raises integration.roots.CommandFailed showing the command, its exit
status, stdout and stderr. Containers are removed by their ID, never by name patterns.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shlex
import subprocess
import tarfile
import threading
import time
from pathlib import Path
from typing import Iterator, Mapping, NamedTuple, Sequence

from integration.roots import CommandFailed, base_env, cache_dir, describe, mmdebstrap_tarball
from integration.services import Dockerd

SUITES = ("bookworm", "trixie")
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "curl",
    "ca-certificates",
    "adduser",
    "rpm",  # RPM scriptlets under the same systemd (rpm -i/-U/-e)
    "procps",  # ps, pgrep, sysctl
    "iproute2",  # ss, ip
)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE_REPOSITORY = "hub-systemd-host"
# What the container gets on top of Docker's default capabilities. systemd sets up a unit's
# sandbox (mount, UTS, user and network namespaces, ProtectProc's procfs, the BPF firewall) as
# PID 1 with CAP_SYS_ADMIN. Without it, systemd *silently* runs the service unsandboxed when
# only "soft" settings such as ProtectSystem= or PrivateTmp= ask for a mount namespace (257
# says "Failed to set up namespace, assuming containerized execution and ignoring" at debug
# level, 252 nothing): the unit starts and `systemd-analyze security` scores it well, yet
# nothing is enforced. PrivateNetwork= needs CAP_NET_ADMIN as well (for the service's loopback; systemd
# 257 otherwise runs the service in the host's network namespace, with a warning); that is
# only granted with --network none, where it reaches the container's own namespace alone.
# systemd_host_test.py shows all of this. Never --privileged: the host's devices, /proc/sys and
# /sys stay out of reach (read-only or masked), and Docker's seccomp profile stays on.
CAP_ADD = ("SYS_ADMIN",)
CAP_ADD_PRIVATE_NETWORK = ("NET_ADMIN",)


def _package_key(packages: Sequence[str]) -> str:
    return hashlib.sha256(",".join(sorted(packages)).encode()).hexdigest()[:10]


# --- the root tarball ---------------------------------------------------------------------------


def systemd_root_tarball(suite: str, cache: Path | None = None, packages: Sequence[str] = PACKAGES) -> Path:
    """`mmdebstrap --variant=minbase --include=<packages> <suite>` as a tarball, built once
    and kept (keyed by suite and package list, not by date; delete it to refresh). Concurrent
    test processes wait for one build (a file lock); the tarball appears by an atomic rename."""
    if suite not in SUITES:
        raise ValueError(f"suite {suite!r}: expected one of {', '.join(SUITES)}")
    name = f"debian-{suite}-systemd-{_package_key(packages)}.tar"
    return mmdebstrap_tarball(suite, packages, (cache or cache_dir()) / "roots" / name)


# --- the private dockerd's CLI ------------------------------------------------------------------


def docker_env(daemon: Dockerd) -> dict[str, str]:
    """The docker CLI for the private engine: its socket, and a client configuration of its own
    (no credential helpers or contexts of the machine's user)."""
    config = daemon.root / "docker-cli"
    config.mkdir(exist_ok=True)
    return base_env(DOCKER_HOST=daemon.url, DOCKER_CONFIG=str(config))


def docker(
    daemon: Dockerd,
    *args: str | os.PathLike[str],
    input: bytes | None = None,
    check: bool = True,
    timeout: float = 300,
    what: str = "",
) -> subprocess.CompletedProcess:
    """The docker CLI against `daemon`. stdout and stderr are bytes when `input` is given
    (binary-safe), else text."""
    argv = ["docker", *map(str, args)]
    try:
        result = subprocess.run(
            argv,
            env=docker_env(daemon),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise CommandFailed("`docker` is not installed: run build-support/ci/install-tools.sh first") from None
    except subprocess.TimeoutExpired as e:
        raise CommandFailed(f"$ {shlex.join(argv)}\ntimed out after {timeout} s\n{e.stdout!r}\n{e.stderr!r}") from None
    if input is None:
        result.stdout = result.stdout.decode("utf-8", "replace")
        result.stderr = result.stderr.decode("utf-8", "replace")
    if check and result.returncode != 0:
        shown = subprocess.CompletedProcess(argv, result.returncode, _text(result.stdout), _text(result.stderr))
        raise CommandFailed(f"{what + ': ' if what else ''}command failed\n{describe(shown)}")
    return result


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


_imported: set[tuple[str, str]] = set()
_import_lock = threading.Lock()


def systemd_image(daemon: Dockerd, suite: str, cache: Path | None = None) -> str:
    """The tag of the suite's systemd image in `daemon`, imported from the cached tarball on
    first use (once per daemon: a module- or session-scoped dockerd imports each suite once)."""
    tarball = systemd_root_tarball(suite, cache)
    tag = f"{IMAGE_REPOSITORY}:{suite}-{tarball.stem.rsplit('-', 1)[-1]}"
    key = (str(daemon.socket), tag)
    with _import_lock:
        if key in _imported:
            return tag
        if docker(daemon, "image", "inspect", tag, check=False).returncode != 0:
            docker(daemon, "import", tarball, tag, timeout=600, what=f"importing the {suite} root")
        _imported.add(key)
    return tag


# --- the container ------------------------------------------------------------------------------


class UnitState(NamedTuple):
    """What `systemctl show` says of a unit."""

    active: str  # ActiveState
    sub: str  # SubState
    file_state: str  # UnitFileState
    restarts: int  # NRestarts
    main_pid: int  # MainPID


class Process(NamedTuple):
    """One process of the container, read from its /proc."""

    pid: int
    user: str  # the account of the real uid, or the number when /etc/passwd has none
    argv: tuple[str, ...]
    unit: str  # the unit whose cgroup holds it (`foo.service`, `init.scope`), or ""
    cgroup: str  # that systemd cgroup path, relative to the container's own cgroup
    uid: int
    comm: str


# Prints the reading shell's PID, then per process: pid, ppid, real uid, comm, the systemd
# cgroup line and the command line (fields \037, argv words \036, records \035).
_PROCESSES_SCRIPT = r"""
printf '%s\035' "$$"
for d in /proc/[0-9]*; do
  status=$(cat "$d/status" 2>/dev/null) || continue
  uid=$(printf '%s\n' "$status" | sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p')
  ppid=$(printf '%s\n' "$status" | sed -n 's/^PPid:[[:space:]]*\([0-9]*\).*/\1/p')
  [ -n "$uid" ] || continue
  comm=$(cat "$d/comm" 2>/dev/null)
  cg=$(grep -E '^(1:name=systemd|0::)' "$d/cgroup" 2>/dev/null | sort | tail -n 1 | cut -d: -f3-)
  printf '%s\037%s\037%s\037%s\037%s\037' "${d#/proc/}" "$ppid" "$uid" "$comm" "$cg"
  tr '\0' '\036' < "$d/cmdline" 2>/dev/null
  printf '\035'
done
"""

# A stand-in exporter: a Prometheus text endpoint on 127.0.0.1:<port>, in perl (perl-base is
# in every Debian system). It reads the request, answers, and names its host and user. Tests
# run it as a service of their own: `/usr/bin/perl <script> <port>`.
HTTP_EXPORTER = r"""
use strict;
use IO::Socket::INET;
my $port = shift or die "usage: $0 PORT\n";
my $server = IO::Socket::INET->new(
    LocalAddr => "127.0.0.1", LocalPort => $port, Proto => "tcp", Listen => 16, ReuseAddr => 1,
) or die "cannot listen on 127.0.0.1:$port: $!\n";
open(my $fh, "<", "/proc/sys/kernel/hostname") or die "hostname: $!\n";
chomp(my $host = <$fh>);
my $user = getpwuid($<) // $<;
$| = 1;
print "listening on 127.0.0.1:$port\n";
while (my $client = $server->accept) {
    while (defined(my $line = <$client>)) { last if $line =~ /^\r?\n\z/ }
    print $client "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\r\n"
        . "# TYPE hub_probe_up gauge\nhub_probe_up{host=\"$host\",user=\"$user\"} 1\n";
    close $client;
}
"""

ONESHOT_DIR = "/usr/local/lib/hub-test-oneshot"
ONESHOT_OUTPUT = "/run/hub-test-oneshot"
_UNIT_SUFFIXES = (".service", ".scope", ".socket", ".mount", ".swap", ".slice")


def oneshot_files(name: str, script: str, settings: Sequence[str] = ()) -> dict[str, tuple[str, int]]:
    """The files of `<name>.service`: `/bin/sh <script>` as a Type=oneshot service with the
    given [Service] lines (User=, sandboxing...). Its stdout and stderr go to a file that PID 1
    opens before the sandbox applies, so SystemdHost.run_oneshot reads them whatever the
    settings."""
    script_path = f"{ONESHOT_DIR}/{name}.sh"
    unit = (
        "[Unit]\n"
        f"Description=Test oneshot {name}\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart=/bin/sh {script_path}\n"
        f"StandardOutput=truncate:{ONESHOT_OUTPUT}/{name}.out\n"
        "StandardError=inherit\n" + "".join(f"{line}\n" for line in settings)
    )
    return {script_path: (script, 0o755), f"/etc/systemd/system/{name}.service": (unit, 0o644)}


class SystemdHost:
    """A running container whose PID 1 is systemd. Commands run with `docker exec`, as root
    unless `user` says otherwise, with a root shell's PATH and LC_ALL=C."""

    def __init__(self, daemon: Dockerd, container: str, suite: str, image: str, hostname: str = "") -> None:
        self.daemon = daemon
        self.container = container
        self.suite = suite
        self.image = image
        self.hostname = hostname

    # -- commands --

    def exec(
        self,
        *argv: str,
        check: bool = True,
        input: str | bytes | None = None,
        user: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess:
        """Runs `argv` in the container; stdout and stderr as text. With `check`, a non-zero
        exit raises CommandFailed showing the command and everything it printed."""
        opts = ["--workdir", "/", "--env", f"PATH={PATH}", "--env", "LC_ALL=C", "--env", "LANG=C"]
        for k, v in (env or {}).items():
            opts += ["--env", f"{k}={v}"]
        if user is not None:
            opts += ["--user", user]
        if input is not None:
            opts.append("--interactive")
        data = input.encode() if isinstance(input, str) else input
        raw = docker(self.daemon, "exec", *opts, self.container, *argv, input=data, check=False, timeout=timeout)
        result = subprocess.CompletedProcess(list(argv), raw.returncode, _text(raw.stdout), _text(raw.stderr))
        if check and result.returncode != 0:
            who = f" (as {user})" if user else ""
            raise CommandFailed(f"in the {self.suite} container{who}: command failed\n{describe(result)}")
        return result

    def sh(
        self, script: str, *, check: bool = True, user: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        """`sh -euc script` in the container."""
        return self.exec("sh", "-euc", script, check=check, user=user, timeout=timeout)

    def systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.exec("systemctl", "--no-pager", *args, check=check)

    # -- files --

    def copy_in(self, local_path: str | os.PathLike[str], dest: str, *, readable: bool = True) -> None:
        """Copies a local file or directory tree to `dest` (its parent must exist), owned by
        root. Streamed through `tar` inside the container, so tmpfs mounts (/tmp, /run) work
        too. With `readable`, directories become 0755 and files 0644 (0755 when executable),
        so unprivileged users (apt's `_apt`, a service) can read them."""
        local = Path(local_path)
        if not dest.startswith("/") or dest.rstrip("/") == "":
            raise ValueError(f"dest {dest!r}: expected an absolute path below /")
        parent, name = dest.rstrip("/").rsplit("/", 1)

        def own(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if readable and not info.issym():
                executable = info.isdir() or info.mode & 0o111
                info.mode = 0o755 if executable else 0o644
            return info

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(local, arcname=name, filter=own)
        self.exec("tar", "-x", "-f", "-", "-C", parent or "/", "--same-owner", input=buf.getvalue())

    def write(self, dest: str, data: str | bytes, mode: int = 0o644, *, owner: str = "root:root") -> None:
        """Writes one file (parent directories created), then sets its mode and owner."""
        self.exec(
            "sh",
            "-euc",
            'mkdir -p "$(dirname "$1")"; cat > "$1"; chown "$3" "$1"; chmod "$2" "$1"',
            "sh",
            dest,
            f"{mode:o}",
            owner,
            input=data.encode() if isinstance(data, str) else data,
        )

    def write_files(self, files: Mapping[str, str | bytes | tuple[str | bytes, int]]) -> None:
        """Writes several files in one go, owned by root: {absolute path: data, or (data,
        mode)}; mode 0644 when not given, missing parent directories made 0755."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, value in files.items():
                data, mode = value if isinstance(value, tuple) else (value, 0o644)
                raw = data.encode() if isinstance(data, str) else data
                if not path.startswith("/"):
                    raise ValueError(f"{path!r}: expected an absolute path")
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size, info.mode, info.mtime = len(raw), mode, int(time.time())
                tar.addfile(info, io.BytesIO(raw))
        self.exec("tar", "-x", "-f", "-", "-C", "/", "--same-owner", "--no-overwrite-dir", input=buf.getvalue())

    def read_bytes(self, path: str) -> bytes:
        # input=b"": docker() then keeps stdout as bytes.
        raw = docker(self.daemon, "exec", self.container, "cat", "--", path, input=b"", check=False)
        if raw.returncode != 0:
            raise CommandFailed(f"in the {self.suite} container: cannot read {path}: {_text(raw.stderr)}")
        return raw.stdout

    def read(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8", "replace")

    def exists(self, path: str) -> bool:
        return self.exec("test", "-e", path, check=False).returncode == 0

    def lexists(self, path: str) -> bool:
        """Whether anything, a dangling symbolic link included, is at `path`."""
        return self.exec("sh", "-c", 'test -e "$1" || test -L "$1"', "sh", path, check=False).returncode == 0

    def stat(self, path: str) -> str:
        """`<type> <uid>:<gid> <octal mode> <links>` of `path` itself (never through a link)."""
        return self.exec("stat", "-c", "%F %u:%g %a %h", "--", path).stdout.strip()

    def listing(self, roots: Sequence[str], *, pruned: Sequence[str] = ()) -> dict[str, str]:
        """Every path below `roots` (one file system each) -> `<type> <owner>:<group> <mode>`,
        leaving out the trees in `pruned`."""
        prune: list[str] = []
        for path in pruned:
            prune += (["-o"] if prune else []) + ["-path", path]
        argv = ["find", *roots, "-xdev"]
        if prune:
            argv += ["(", *prune, ")", "-prune", "-o"]
        argv += ["-printf", r"%y %u:%g %m\t%p\0"]
        out = {}
        for record in self.exec(*argv).stdout.split("\0"):
            if record:
                meta, _, path = record.partition("\t")
                out[path] = meta
        return out

    # -- units --

    def write_unit(self, name: str, text: str, *, directory: str = "/etc/systemd/system") -> None:
        """Installs a unit file and reloads systemd."""
        self.write(f"{directory}/{name}", text)
        self.systemctl("daemon-reload")

    def write_oneshot(self, name: str, script: str, settings: Sequence[str] = (), *, reload: bool = True) -> str:
        """Installs `<name>.service` (oneshot_files) and, unless `reload` is false, reloads
        systemd. Returns the unit name. Many at once: write_files of several oneshot_files,
        then one `systemctl daemon-reload`."""
        self.write_files(oneshot_files(name, script, settings))
        if reload:
            self.systemctl("daemon-reload")
        return f"{name}.service"

    def run_oneshot(self, unit: str, *, timeout: float = 120) -> subprocess.CompletedProcess:
        """Starts a oneshot written by write_oneshot and waits for it. returncode is its main
        process's exit status (128 + signal when killed by one), stdout what it printed, stderr
        the unit's journal when it did not succeed."""
        name = unit.removesuffix(".service")
        marker = f"--- {os.urandom(8).hex()} ---"
        out = self.exec(
            "sh",
            "-c",
            'mkdir -p "$1"; rm -f "$1/$2.out"; systemctl reset-failed "$2.service" 2>/dev/null;'
            ' systemctl start "$2.service" >/dev/null 2>&1;'
            ' systemctl show -p ExecMainCode,ExecMainStatus,Result "$2.service"; echo "$3"; cat "$1/$2.out" 2>/dev/null',
            "sh",
            ONESHOT_OUTPUT,
            name,
            marker,
            timeout=timeout,
        ).stdout
        shown, _, output = out.partition(f"{marker}\n")
        props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        status = int(props.get("ExecMainStatus") or 0)
        if props.get("ExecMainCode") in ("2", "3"):  # CLD_KILLED, CLD_DUMPED: status is the signal
            status += 128
        journal = self.journal(unit, lines=60) if props.get("Result") != "success" else ""
        return subprocess.CompletedProcess([unit], status, output, journal)

    def journal(self, unit: str, *, lines: int = 200) -> str:
        """The unit's journal (this boot), as text; what systemd itself logged about it too."""
        result = self.exec(
            "journalctl", "--no-pager", "-b", "-o", "short-precise", "-n", str(lines), "-u", unit, check=False
        )
        return result.stdout + result.stderr

    def unit_state(self, unit: str) -> UnitState:
        """(ActiveState, SubState, UnitFileState, NRestarts, MainPID)."""
        out = self.systemctl("show", "-p", "ActiveState,SubState,UnitFileState,NRestarts,MainPID", unit).stdout
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return UnitState(
            props.get("ActiveState", ""),
            props.get("SubState", ""),
            props.get("UnitFileState", ""),
            int(props.get("NRestarts") or 0),
            int(props.get("MainPID") or 0),
        )

    def _unit_failure(self, unit: str, why: str) -> AssertionError:
        status = self.systemctl("status", "--lines=0", unit, check=False).stdout
        return AssertionError(
            f"{unit} in the {self.suite} container: {why}\n--- systemctl status ---\n{status}"
            f"--- journalctl -u {unit} ---\n{self.journal(unit)}"
        )

    def wait_active(self, unit: str, timeout: float = 30) -> UnitState:
        """Waits until the unit is active; fails at once when it failed, with its journal."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.unit_state(unit)
            if state.active == "active":
                return state
            if state.active == "failed":
                raise self._unit_failure(unit, f"failed ({state})")
            if time.monotonic() > deadline:
                raise self._unit_failure(unit, f"not active after {timeout} s ({state})")
            time.sleep(0.2)

    def listening(self, port: int) -> bool:
        out = self.exec("ss", "-H", "-t", "-l", "-n", f"sport = :{port}", check=False).stdout
        return bool(out.strip())

    def wait_port(self, port: int, timeout: float = 30, *, unit: str | None = None) -> None:
        """Waits until something listens on TCP `port` in the container. With `unit`, fails at
        once when that unit failed, and the message carries its journal."""
        deadline = time.monotonic() + timeout
        while not self.listening(port):
            if unit and self.unit_state(unit).active == "failed":
                raise self._unit_failure(unit, f"failed before anything listened on port {port}")
            if time.monotonic() > deadline:
                if unit:
                    raise self._unit_failure(unit, f"nothing listens on port {port} after {timeout} s")
                listeners = self.exec("ss", "-H", "-t", "-l", "-n", "-p", check=False).stdout
                raise AssertionError(
                    f"nothing listens on port {port} in the {self.suite} container after {timeout} s;"
                    f" listening:\n{listeners}"
                )
            time.sleep(0.2)

    def scrape(self, port: int, path: str = "/metrics", *, timeout: float = 10) -> str:
        """GET http://127.0.0.1:<port><path> with curl inside the container (its own loopback)."""
        return self.exec(
            "curl", "-fsS", "--max-time", str(timeout), f"http://127.0.0.1:{port}{path}", timeout=timeout + 30
        ).stdout

    def security(self, unit: str) -> float:
        """`systemd-analyze security`'s overall exposure of a loaded unit (0 best, 10 worst)."""
        out = self.exec("systemd-analyze", "security", "--no-pager", unit).stdout
        m = re.search(r"Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)", out)
        if not m:
            raise AssertionError(f"systemd-analyze security {unit}: no overall exposure in:\n{out}")
        return float(m.group(1))

    # -- processes --

    def proc_status(self, pid: int) -> dict[str, str]:
        """/proc/<pid>/status as {field: value} (Uid, CapEff, NoNewPrivs, Seccomp...), read by
        root in the container: a service's ProtectProc= hides nothing from there."""
        text = self.exec("cat", f"/proc/{pid}/status").stdout
        return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}

    def cmdline(self, pid: int) -> list[str]:
        """The command line of a process, word by word."""
        raw = self.exec("cat", f"/proc/{pid}/cmdline").stdout
        return [word for word in raw.split("\0") if word]

    def users(self) -> dict[int, str]:
        """uid -> name from the container's /etc/passwd."""
        out = {}
        for line in self.read("/etc/passwd").splitlines():
            f = line.split(":")
            if len(f) >= 3 and f[2].isdigit():
                out.setdefault(int(f[2]), f[0])
        return out

    def processes(self) -> list[Process]:
        """Every process of the container (read from its /proc by root): pid, user, command
        line and the unit whose cgroup holds it. The reading shell itself is left out."""
        shell, *records = self.exec("sh", "-c", _PROCESSES_SCRIPT).stdout.split("\035")
        names = self.users()
        rows, parent = [], {}
        for record in records:
            fields = record.split("\037")
            if len(fields) != 6 or not all(f.isdigit() for f in fields[:3]):
                continue  # gone while being read
            pid, ppid, uid = int(fields[0]), int(fields[1]), int(fields[2])
            parent[pid] = ppid
            rows.append((pid, uid, fields[3], fields[4], fields[5]))
        reader = {int(shell)} if shell.strip().isdigit() else set()
        changed = True
        while changed:  # the reading shell and everything it started
            grown = reader | {pid for pid, ppid in parent.items() if ppid in reader}
            changed, reader = grown != reader, grown
        # Docker shares the host's cgroup namespace on cgroup v1: paths start with the
        # container's own cgroup, the parent of PID 1's init.scope.
        top = next((cg for pid, _, _, cg, _ in rows if pid == 1), "").rsplit("/", 1)[0]
        procs = []
        for pid, uid, comm, cgroup, cmdline in rows:
            if pid in reader:
                continue
            argv = tuple(a for a in cmdline.split("\036") if a)
            if top and (cgroup == top or cgroup.startswith(top + "/")):
                cgroup = cgroup[len(top) :] or "/"
            unit = next((c for c in reversed(cgroup.split("/")) if c.endswith(_UNIT_SUFFIXES)), "")
            procs.append(Process(pid, names.get(uid, str(uid)), argv, unit, cgroup, uid, comm))
        return procs


def _boot_failure(host: SystemdHost, why: str) -> AssertionError:
    failed = host.systemctl("--failed", "--plain", "--no-legend", check=False).stdout
    journals = "".join(
        f"--- journalctl -u {unit} ---\n{host.journal(unit, lines=40)}"
        for unit in (line.split()[0] for line in failed.splitlines() if line.strip())
    )
    return AssertionError(
        f"the {host.suite} container ({host.image}): {why}\n--- systemctl --failed ---\n{failed}{journals}"
    )


def _container_logs(daemon: Dockerd, container: str) -> str:
    logs = docker(daemon, "logs", "--tail", "80", container, check=False)
    return (logs.stdout + logs.stderr)[-6000:]


def wait_running(host: SystemdHost, timeout: float = 90) -> str:
    """Waits until `systemctl is-system-running` says `running`; `degraded` fails at once with
    `systemctl --failed` and those units' journals, a container that exited with its log."""
    deadline = time.monotonic() + timeout
    while True:
        state = host.exec("systemctl", "is-system-running", check=False).stdout.strip()
        if state == "running":
            return state
        if state == "degraded":
            raise _boot_failure(host, "systemd booted degraded")
        if state in ("stopping", "maintenance"):
            raise _boot_failure(host, f"systemd is {state}")
        inspect = docker(host.daemon, "inspect", "-f", "{{.State.Running}}", host.container, check=False)
        if inspect.stdout.strip() != "true":
            raise AssertionError(
                f"the {host.suite} container exited while booting:\n{_container_logs(host.daemon, host.container)}"
            )
        if time.monotonic() > deadline:
            raise _boot_failure(host, f"not running after {timeout} s (is-system-running: {state or '?'})")
        time.sleep(0.3)


@contextlib.contextmanager
def systemd_host(
    daemon: Dockerd,
    suite: str,
    *,
    network: str = "none",
    boot_timeout: float = 90,
    cache: Path | None = None,
    cap_add: Sequence[str] | None = None,
) -> Iterator[SystemdHost]:
    """A container of `suite` whose PID 1 is systemd, booted to `running`; removed afterwards,
    whatever happens. `network` is "none" (a loopback of its own) or "host". `cap_add`: the
    capabilities added to Docker's default set; by default CAP_ADD, plus NET_ADMIN with
    --network none (`()` shows what systemd does without them)."""
    if network not in ("none", "host"):
        raise ValueError(f"network {network!r}: the private dockerd has no bridge; use 'none' or 'host'")
    if cap_add is None:
        cap_add = CAP_ADD + (CAP_ADD_PRIVATE_NETWORK if network == "none" else ())
    image = systemd_image(daemon, suite, cache)
    hostname = f"hub-{suite}-{os.urandom(3).hex()}"
    created = docker(
        daemon,
        "run",
        "--detach",
        f"--network={network}",
        "--tmpfs=/run:rw,nosuid,nodev,mode=755",
        "--tmpfs=/run/lock:rw,nosuid,nodev,noexec",
        "--tmpfs=/tmp:rw,nosuid,nodev,exec,mode=1777",
        "--volume=/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "--env=container=docker",
        "--stop-signal=SIGRTMIN+3",
        f"--hostname={hostname}",
        "--label=monitoring-hub.test=systemd-host",
        *(f"--cap-add={cap}" for cap in cap_add),
        image,
        "/lib/systemd/systemd",
        what=f"starting the {suite} systemd container",
    )
    container = created.stdout.strip()
    host = SystemdHost(daemon, container, suite, image, hostname)
    try:
        wait_running(host, boot_timeout)
        yield host
    finally:
        docker(daemon, "rm", "--force", "--volumes", container, check=False, timeout=120)


# --- apt from a signed repository directory -----------------------------------------------------

APT_REPOSITORY_DIR = "/srv/monitoring-hub-apt"
# apt-get with only our source (the image's Debian mirror is unreachable under --network none).
_APT_ONLY_OURS = ("-o", "Dir::Etc::SourceList=/dev/null", "-o", "Dir::Etc::SourceParts=/etc/apt/sources.list.d")


def add_apt_repository(host: SystemdHost, repository: Path, public_key: bytes, *, codename: str | None = None) -> str:
    """Copies a published APT repository (dists/, pool/) to /srv and configures apt for it as
    users do: the armored key at hub.repos.user_files.APT_KEYRING, the deb822 source the site
    ships (user_files.apt_sources_file) for a `file:` URI at APT_SOURCES_PATH. Any other
    source in sources.list.d is moved aside. Returns the source's text."""
    from hub.repos import user_files

    codename = codename or host.suite
    host.exec("rm", "-rf", APT_REPOSITORY_DIR)
    host.copy_in(repository, APT_REPOSITORY_DIR)
    host.write(user_files.APT_KEYRING, public_key, 0o644)
    sources = user_files.apt_sources_file(f"file:{APT_REPOSITORY_DIR}", codename)
    host.sh(
        "mkdir -p /etc/apt/sources.list.d.aside; for f in /etc/apt/sources.list.d/*; do "
        '[ -e "$f" ] || continue; mv "$f" /etc/apt/sources.list.d.aside/; done'
    )
    host.write(user_files.APT_SOURCES_PATH, sources, 0o644)
    return sources


def apt_get(host: SystemdHost, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """apt-get in the container with only the sources in sources.list.d, noninteractive."""
    return host.exec(
        "apt-get",
        *_APT_ONLY_OURS,
        *args,
        check=check,
        timeout=timeout,
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )


def apt_install(
    host: SystemdHost,
    repository: Path,
    public_key: bytes,
    *packages: str,
    codename: str | None = None,
) -> subprocess.CompletedProcess:
    """Configures the signed repository (add_apt_repository), `apt-get update --error-on=any`,
    then `apt-get install -y <packages>`: the maintainer scripts run under the container's
    systemd. Returns the install's result."""
    add_apt_repository(host, repository, public_key, codename=codename)
    apt_get(host, "update", "--error-on=any")
    return apt_get(host, "install", "-y", "--no-install-recommends", *packages)


# --- rpm ------------------------------------------------------------------------------------------

# EL's rpm database path. Debian 12's rpm defaults to ~/.rpmdb (13's to /var/lib/rpm), and
# prints an "use Alien instead" warning on stderr, then goes ahead.
RPM_DBPATH = "/var/lib/rpm"


def rpm(host: SystemdHost, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """rpm in the container with EL's database path: `rpm(host, "-i", "/root/x.rpm")`, -U, -e,
    -q. Scriptlets run under the container's systemd."""
    return host.exec("rpm", "--dbpath", RPM_DBPATH, *args, check=check)
