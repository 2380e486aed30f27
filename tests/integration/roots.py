"""Throwaway systems to install our packages into, with the clients operators use.

- A Debian root: `mmdebstrap --variant=minbase --include=systemd bookworm`, cached as a tarball under
  `$XDG_CACHE_HOME/monitoring-hub/roots/` (default `~/.cache/...`) and unpacked per test.
  Packages are installed by the root's own dpkg, in a chroot, so the maintainer scripts run
  against the root's own passwd, dpkg-statoverride and deb-systemd-helper. Only a /proc is
  mounted, in a mount namespace of the command's own (DebRoot.chroot).
- An EL-like root for dnf: the same userland, plus a noarch stub RPM that provides what an
  EL base system would (/bin/sh, shadow-utils, systemd), installed with the host's dnf and rpm
  (`--installroot`) from a `file://` repository made by createrepo_c. rpm runs the
  scriptlets chrooted into the root, with the root's useradd and getent.
- An arm64 C library (Debian's libc6:arm64, unpacked) for `qemu-aarch64-static -L`.

Neither root runs systemd (no /run/systemd/system): the maintainer scripts must cope with
that, as they must in containers and image builds. The Debian root has systemd installed, as
every Debian host has (systemd-sysusers and systemd-tmpfiles work on files alone); the EL root
has no systemd tools, like an EL container image, so its RPM scriptlets take their fallbacks
(useradd). Packages under a running
systemd: systemd_host.py.

Every command goes through `run`, whose failure message shows the command, its exit status,
stdout and stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

SUITE = "bookworm"
# The PATH of a root user in the roots (chroot does not inherit a sensible one).
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the stub RPM stands for: the EL base packages the borrowed Debian userland provides.
STUB_NAME = "el-userland-stub"
STUB_PROVIDES = (
    "/bin/sh",
    "/usr/bin/sh",
    "/usr/sbin/useradd",
    "/usr/sbin/groupadd",
    "shadow-utils",
    "systemd",
    "systemd-units",
)
ELF_X86_64, ELF_AARCH64 = 62, 183


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "monitoring-hub"


# --- running commands ------------------------------------------------------------------------


class CommandFailed(AssertionError):
    pass


def describe(result: subprocess.CompletedProcess) -> str:
    cmd = result.args if isinstance(result.args, str) else " ".join(map(str, result.args))
    return (
        f"$ {cmd}\n(exit status {result.returncode})\n"
        f"--- stdout ---\n{result.stdout or ''}\n--- stderr ---\n{result.stderr or ''}"
    )


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = True,
    timeout: float = 300,
    what: str = "",
) -> subprocess.CompletedProcess:
    """Runs `cmd` (text output captured, stdin closed). With `check`, a non-zero exit raises
    CommandFailed that shows everything the command printed."""
    args = [str(c) for c in cmd]
    try:
        result = subprocess.run(
            args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except FileNotFoundError:
        raise CommandFailed(f"`{args[0]}` is not installed: run build-support/ci/install-tools.sh first") from None
    except subprocess.TimeoutExpired as e:
        raise CommandFailed(f"$ {' '.join(args)}\ntimed out after {timeout} s\n{e.stdout}\n{e.stderr}")
    if check and result.returncode != 0:
        raise CommandFailed(f"{what + ': ' if what else ''}command failed\n{describe(result)}")
    return result


def base_env(**extra: str) -> dict[str, str]:
    """A small, fixed environment (the host's PATH, so the host's tools are found)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LC_ALL": "C",
        "LANG": "C",
        "TZ": "UTC",
        "HOME": os.environ.get("HOME", "/root"),
    }
    if "/sbin" not in env["PATH"].split(":") and "/usr/sbin" not in env["PATH"].split(":"):
        env["PATH"] += ":/usr/sbin:/sbin"
    env.update(extra)
    return env


def chroot_env(**extra: str) -> dict[str, str]:
    """What a root shell inside the root would have, and what operators' automation sets."""
    env = {
        "PATH": ROOT_PATH,
        "LC_ALL": "C",
        "LANG": "C",
        "HOME": "/root",
        "DEBIAN_FRONTEND": "noninteractive",
    }
    env.update(extra)
    return env


def chroot_cmd() -> str:
    """The host's chroot, wherever it lives (PATH may lack sbin directories)."""
    path = shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin:/usr/bin")
    if not path:
        raise CommandFailed("chroot (coreutils) was not found")
    return path


# --- the Debian userland tarball ---------------------------------------------------------------


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# What every Debian host has on top of minbase: systemd (installed, not running here). Our DEBs
# depend on it for systemd-sysusers and systemd-tmpfiles, which work on files alone.
DEBIAN_ROOT_INCLUDES = ("systemd",)
# What the EL-like root removes from that userland: an EL container image has no systemd.
EL_ROOT_ABSENT = ("/usr/bin/systemctl", "/usr/bin/systemd-sysusers", "/usr/bin/systemd-tmpfiles")


def debian_root_tarball(cache: Path | None = None, suite: str = SUITE) -> Path:
    """`mmdebstrap --variant=minbase --mode=root --include=systemd <suite>` as a tarball (see
    mmdebstrap_tarball)."""
    name = f"debian-{suite}-minbase+{'+'.join(DEBIAN_ROOT_INCLUDES)}.tar"
    return mmdebstrap_tarball(suite, DEBIAN_ROOT_INCLUDES, (cache or cache_dir()) / "roots" / name)


def mmdebstrap_tarball(suite: str, packages: Sequence[str], tarball: Path, *, timeout: int = 1200) -> Path:
    """`mmdebstrap --variant=minbase --mode=root --include=<packages> <suite>` as `tarball`,
    built once and kept (its name is the cache key, not the date: delete it to refresh).
    Concurrent test processes wait for one build (a file lock); it appears by an atomic rename."""
    if tarball.is_file():
        return tarball
    roots = tarball.parent
    with _file_lock(roots / ".lock"):
        if tarball.is_file():  # built by another process while we waited
            return tarball
        fd, tmp = tempfile.mkstemp(prefix=f".{tarball.stem}.", suffix=".tar", dir=roots)
        os.close(fd)
        try:
            run(
                [
                    "mmdebstrap",
                    "--quiet",
                    "--variant=minbase",
                    "--mode=root",
                    f"--include={','.join(packages)}",
                    suite,
                    tmp,
                ],
                env=base_env(),
                timeout=timeout,
                what=f"building the {suite} root with {', '.join(packages)}",
            )
            os.chmod(tmp, 0o644)
            os.replace(tmp, tarball)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return tarball


# Unpacking a 170 MB root and deleting it again is disk-bound on shared CI machines; a tmpfs
# makes both nearly free. Used when it allows executables and has room, else the test's tmp_path.
_RAM_DIR = Path("/dev/shm")
_RAM_NEEDED = 2 << 30


_RAM_PREFIX = "hub-install-test-"


def _sweep_orphans(directory: Path) -> None:
    """Removes roots left in RAM by test processes that died before their clean-up (a killed
    or timed-out run; Pants also cancels a running test when its inputs change)."""
    for entry in directory.glob(f"{_RAM_PREFIX}*-*"):
        pid = entry.name[len(_RAM_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


def scratch_dir(fallback: Path) -> Path:
    """A fresh directory for one root: on a tmpfs when one is usable, else under `fallback`."""
    try:
        st = os.statvfs(_RAM_DIR)
        usable = (
            not st.f_flag & (os.ST_NOEXEC | os.ST_RDONLY)
            and st.f_bavail * st.f_frsize >= _RAM_NEEDED
            and os.access(_RAM_DIR, os.W_OK)
        )
    except OSError:
        usable = False
    if usable:
        _sweep_orphans(_RAM_DIR)
        return Path(tempfile.mkdtemp(prefix=f"{_RAM_PREFIX}{os.getpid()}-", dir=_RAM_DIR))
    fallback.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="root-", dir=fallback))


def unpack_root(tarball: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    # --numeric-owner: the tarball's owners are the root's accounts, not the host's.
    run(["tar", "--numeric-owner", "-xpf", tarball, "-C", dest], env=base_env(), what="unpacking the root")
    if (dest / "run" / "systemd" / "system").exists():
        raise AssertionError(f"{dest}: the root claims to run systemd; the tests assume it does not")
    return dest


@contextlib.contextmanager
def unpacked_root(tarball: Path, fallback: Path) -> Iterator[Path]:
    """A root unpacked for one test, removed afterwards (about 170 MB each, possibly in RAM);
    HUB_KEEP_ROOTS=1 keeps it for a post-mortem."""
    scratch = scratch_dir(fallback)
    try:
        yield unpack_root(tarball, scratch / "root")
    finally:
        if not os.environ.get("HUB_KEEP_ROOTS"):
            shutil.rmtree(scratch, ignore_errors=True)


# --- the Debian root -----------------------------------------------------------------------------


@dataclass
class DebRoot:
    path: Path

    def chroot(
        self, *cmd: str, check: bool = True, env: Mapping[str, str] | None = None, what: str = ""
    ) -> subprocess.CompletedProcess:
        """`cmd` chrooted into the root, with a /proc of its own, as chroots that install
        packages have (systemd-tmpfiles refuses to work without one): a private mount and PID
        namespace, so the mount ends with the command and never outlives it."""
        unshare = ["unshare", "--mount", "--pid", "--fork", f"--mount-proc={self.path / 'proc'}"]
        return run([*unshare, chroot_cmd(), self.path, *cmd], env=env or chroot_env(), check=check, what=what)

    def dpkg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The root's own dpkg, inside the root: maintainer scripts see the root."""
        return self.chroot("dpkg", *args, check=check, what="dpkg in the Debian root")

    def install(self, deb: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
        """`dpkg -i` as unattended automation runs it: noninteractive, and with
        `--force-confdef --force-confold` unless other options are given."""
        inside = Path("tmp") / deb.name
        shutil.copy2(deb, self.path / inside)
        try:
            opts = options or ("--force-confdef", "--force-confold")
            return self.dpkg(*opts, "-i", f"/{inside}", check=check)
        finally:
            (self.path / inside).unlink()

    def query(self, package: str, fmt: str) -> str | None:
        """dpkg-query on the root's database; None when the package is unknown."""
        result = run(
            ["dpkg-query", f"--admindir={self.path / 'var/lib/dpkg'}", "-W", f"-f={fmt}", package],
            env=base_env(),
            check=False,
        )
        return result.stdout if result.returncode == 0 else None

    def status(self, package: str) -> str | None:
        out = self.query(package, "${db:Status-Abbrev}${Version}")
        return out.strip() if out else None

    def conffiles(self, package: str) -> dict[str, str]:
        """{path: md5sum} of the package's conffiles, as dpkg recorded them."""
        out = self.query(package, "${Conffiles}") or ""
        found = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                found[parts[0]] = parts[1]
        return found


# --- the EL-like root ----------------------------------------------------------------------------


def rpm_home(dest: Path) -> Path:
    """A scratch HOME whose .rpmmacros makes Debian's rpm keep its database in the root's
    /var/lib/rpm, where EL keeps it (Debian's rpm defaults to ~/.rpmdb)."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    return dest


def build_stub_rpm(
    workdir: Path,
    name: str = STUB_NAME,
    provides: Sequence[str] = STUB_PROVIDES,
    *,
    symlinks: Mapping[str, str] | None = None,
) -> Path:
    """A noarch RPM standing for EL base packages whose files the borrowed Debian userland
    already has: it only Provides them, plus optional symbolic links (path -> target) as its
    payload. Built by rpmbuild in a scratch topdir and HOME."""
    top = workdir / f"rpmbuild-{name}"
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / f"{name}.spec"
    links = dict(symlinks or {})
    install = "".join(
        f"mkdir -p %{{buildroot}}{os.path.dirname(path)}\nln -s {target} %{{buildroot}}{path}\n"
        for path, target in links.items()
    )
    spec.write_text(
        f"Name: {name}\nVersion: 1\nRelease: 1\n"
        "Summary: Stands for EL base packages a borrowed Debian userland provides\n"
        "License: MIT\nBuildArch: noarch\n"
        f"Provides: {' '.join(provides)}\n"
        "%description\nTest stub: the root's files come from a Debian userland.\n"
        f"%install\n{install}"
        "%files\n" + "".join(f"{path}\n" for path in links)
    )
    home = rpm_home(workdir / "home")
    run(
        ["rpmbuild", "--quiet", "--define", f"_topdir {top}", "-bb", spec],
        env=base_env(HOME=str(home)),
        what=f"building the stub RPM {name}",
    )
    (rpm,) = (top / "RPMS" / "noarch").glob("*.rpm")
    return rpm


def createrepo(directory: Path) -> Path:
    run(["createrepo_c", "--quiet", directory], env=base_env(), what="createrepo_c")
    return directory


@dataclass
class ElRoot:
    """The Debian userland with rpm and dnf, without systemd's tools (see create)."""

    path: Path
    home: Path  # HOME for dnf and rpm: its .rpmmacros sets the database path
    conf: Path  # a private dnf.conf: only our file:// repository

    @classmethod
    def create(cls, path: Path, work: Path, repo: Path) -> "ElRoot":
        # Like an EL container image (ubi-minimal): no systemd at all, so the scriptlets take
        # their fallbacks (useradd instead of systemd-sysusers, no systemctl).
        for tool in EL_ROOT_ABSENT:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(inside(path, tool))
        home = rpm_home(work / "home")
        conf = work / "dnf.conf"
        conf.write_text(
            "[main]\n"
            "reposdir=\n"  # none of the host's repositories
            "plugins=0\n"
            "gpgcheck=0\n"  # unsigned test packages; signed repositories are tested elsewhere
            "install_weak_deps=0\n"
            "keepcache=0\n"
            "\n"
            "[hub]\n"
            "name=Monitoring Hub (test)\n"
            f"baseurl={repo.resolve().as_uri()}\n"
            "enabled=1\n"
            "gpgcheck=0\n"
            "repo_gpgcheck=0\n"
            "metadata_expire=0\n"
        )
        return cls(path, home, conf)

    def env(self) -> dict[str, str]:
        return base_env(HOME=str(self.home))

    def dnf(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(
            ["dnf", "-c", self.conf, f"--installroot={self.path}", "--releasever=9", "-y", *args],
            env=self.env(),
            check=check,
            what="dnf on the EL root",
        )

    def rpm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["rpm", "--root", self.path, *args], env=self.env(), check=check, what="rpm on the EL root")

    def installed(self, name: str) -> str | None:
        """name-version-release.arch, or None."""
        result = self.rpm("-q", name, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def chroot(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([chroot_cmd(), self.path, *cmd], env=chroot_env(), check=check)


# --- accounts, files, units ------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str


def accounts(root: Path, name: str) -> list[Account]:
    """Every /etc/passwd line of the root for `name` (a list: duplicates are a bug)."""
    out = []
    for line in (root / "etc/passwd").read_text().splitlines():
        f = line.split(":")
        if len(f) == 7 and f[0] == name:
            out.append(Account(f[0], int(f[2]), int(f[3]), f[4], f[5], f[6]))
    return out


def groups(root: Path, name: str) -> list[int]:
    """The gids of every /etc/group line of the root for `name`."""
    return [
        int(f[2])
        for f in (line.split(":") for line in (root / "etc/group").read_text().splitlines())
        if len(f) == 4 and f[0] == name
    ]


def login_defs(root: Path, key: str, default: int) -> int:
    for line in (root / "etc/login.defs").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return default


def inside(root: Path, path: str) -> Path:
    """The host path of an absolute path inside the root."""
    return root / path.lstrip("/")


def elf_machine(path: Path) -> int | None:
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def unit_section(text: str, section: str) -> dict[str, list[str]]:
    """The settings of one section of a unit file (repeated keys keep every value)."""
    current, out = None, {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current == section and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an EnvironmentFile (the quoting our packages use: none, '' or "")."""
    env = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise AssertionError(f"{path}: not an environment assignment: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def _words(line: str) -> list[tuple[bool, str]]:
    """systemd's splitting of a command line: (quoted, word) pairs, C escapes in quotes."""
    words, i, n = [], 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        if line[i] in "\"'":
            quote, i, buf = line[i], i + 1, []
            while i < n and line[i] != quote:
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(line[i])
                i += 1
            if i >= n:
                raise AssertionError(f"unterminated quote in ExecStart={line}")
            words.append((True, "".join(buf)))
            i += 1
        else:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            words.append((False, line[i:j]))
            i = j
    return words


def exec_start_argv(exec_start: str, env: Mapping[str, str]) -> list[str]:
    """The argv systemd would run for ExecStart=, for the syntax our units use: quoted words
    with `$$` and `%%`, and a bare `$NAME` word split at whitespace (systemd.service(5))."""
    argv: list[str] = []
    for quoted, word in _words(exec_start):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m and not quoted:
            argv.extend(env.get(m[1], "").split())
            continue
        rest = word.replace("$$", "").replace("%%", "")
        if "$" in rest or "%" in rest:
            raise AssertionError(f"ExecStart word {word!r}: a variable or specifier this helper does not expand")
        argv.append(word.replace("$$", "$").replace("%%", "%"))
    if not argv or not argv[0].startswith("/"):
        raise AssertionError(f"ExecStart={exec_start}: expected an absolute path first")
    return argv


def systemd_verify(root: Path, unit_path: str, workdir: Path) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` (the host's systemd) on a unit installed in `root`.

    The roots have no systemd, so the unit is checked in a small tree holding the host's
    target units, the unit and the binaries its ExecStart runs (verify checks they exist)."""
    tree = workdir / "systemd-verify"
    units = tree / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    for target in Path("/usr/lib/systemd/system").glob("*.target"):
        shutil.copy(target, units, follow_symlinks=True)
    unit = inside(root, unit_path)
    shutil.copy(unit, units / unit.name)
    for exec_line in unit_section(unit.read_text(), "Service").get("ExecStart", []):
        binary = _words(exec_line)[0][1].lstrip("-@+!:")
        dest = inside(tree, binary)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(inside(root, binary), dest)
        except OSError:  # another file system (the root may be on a tmpfs)
            shutil.copy2(inside(root, binary), dest)
    return run(
        ["systemd-analyze", "verify", "--man=no", "--generators=no", f"--root={tree}", unit.name],
        env=base_env(),
        check=False,
    )


# --- running the service as systemd would ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(cmd: Sequence[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Starts a background process (output to `log`), and stops it by its PID afterwards."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(c) for c in cmd], env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def http_get(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> str:
    """GET `url` once the process listens; fails with the process's output if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(
                f"the service exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode("utf-8", "replace")
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{url} did not answer within {timeout} s:\n{log.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.2)


# --- arm64 -------------------------------------------------------------------------------------


def arm64_sysroot(dest: Path, debs_cache: Path | None = None) -> Path:
    """Debian's libc6:arm64 unpacked in `dest`: the `-L` prefix for qemu-aarch64-static, which
    needs the dynamic loader and C library of the (dynamically linked) Debian builds."""
    from hub.upstream.debian import fetch_deb  # the same apt-get download and cache as the mirror

    deb = fetch_deb("libc6", "arm64", debs_cache or cache_dir() / "debian-debs")
    dest.mkdir(parents=True)
    run(["dpkg-deb", "-x", deb.path, dest], env=base_env(), what="unpacking libc6:arm64")
    if not (dest / "lib/ld-linux-aarch64.so.1").exists():
        raise AssertionError(f"{deb.path.name}: no lib/ld-linux-aarch64.so.1 after unpacking")
    return dest


def run_arm64(binary: Path, sysroot: Path, *args: str) -> subprocess.CompletedProcess:
    return run(
        ["qemu-aarch64-static", "-L", sysroot, binary, *args], env=base_env(), what="running an arm64 binary under qemu"
    )
