"""Real services for the image tests, started by the tests and stopped by their PID.

- `dockerd`: Debian's docker.io engine with private state (`--data-root`, `--exec-root`,
  `--pidfile`, a unix socket of its own) that leaves the host network alone
  (`--bridge=none --iptables=false --ip-masq=false`): containers use `--network host` or
  `none`. It starts its own containerd under the private exec root; stopping dockerd stops it,
  and a containerd left behind is stopped by the PID in its pidfile. If the test process is
  killed (a Pants retry, a timeout), the kernel sends the daemons SIGTERM (PR_SET_PDEATHSIG).
- `registry`: Debian's `docker-registry serve <config>` (distribution 2.8) on a free port of
  127.0.0.1, filesystem storage in a temporary directory, optionally with htpasswd auth.

Nothing is stopped by name: only the processes started here, by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from integration.roots import base_env, free_port


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies, however it dies (a
    killed pytest must not leave a daemon behind). Linux prctl(PR_SET_PDEATHSIG)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _log_tail(log: Path, n: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def _stop_pid(pid: int, timeout: float = 30) -> None:
    """SIGTERM, wait, then SIGKILL: one process, by its PID."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _unmount_below(root: Path) -> None:
    """Unmounts whatever a killed daemon left mounted below `root` (deepest first)."""
    real = os.path.realpath(root)
    try:
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return
    for target in sorted((m for m in mounts if m == real or m.startswith(real + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


@dataclass
class Dockerd:
    socket: Path
    pid: int
    root: Path
    log: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self):  # type: ignore[no-untyped-def]
        import docker  # the Docker SDK, from the engine's lockfile

        return docker.DockerClient(base_url=self.url, version="auto", timeout=120)


_SHORT_PREFIX = "hubd-"
_STALE_AFTER = 15 * 60  # seconds: older private dirs whose dockerd is gone are leftovers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TMP = Path("/tmp")


def _sweep_stale(tmp: Path = _TMP) -> None:
    """Cleans up after a test process that was killed before its teardown ran (and whose
    dockerd was then killed too): only our own `hubd-*` directories, older than 15 minutes,
    whose recorded dockerd PID is gone. Their containers (through their containerd shims,
    matched by the socket path in our directory) are stopped by PID, and their mounts
    (netns, data root) unmounted."""
    import time as _time

    for short in tmp.glob(f"{_SHORT_PREFIX}*"):
        try:
            if _time.time() - short.stat().st_mtime < _STALE_AFTER:
                continue
            pid = int((short / "docker.pid").read_text().strip()) if (short / "docker.pid").exists() else 0
        except (OSError, ValueError):
            continue
        if pid and _alive(pid):
            continue
        marker = f"{short}/exec/containerd/containerd.sock"
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"containerd-shim" in cmdline[0] and marker.encode() in cmdline:
                with contextlib.suppress(OSError):  # the container's init, then the shim
                    for child in Path(f"/proc/{proc.name}/task/{proc.name}/children").read_text().split():
                        _stop_pid(int(child), timeout=10)
                _stop_pid(int(proc.name), timeout=10)
        with contextlib.suppress(OSError):
            data_root = Path((short / "data-root").read_text().strip())
            _unmount_below(data_root)
            shutil.rmtree(data_root, ignore_errors=True)
        _unmount_below(short)
        shutil.rmtree(short, ignore_errors=True)


@contextlib.contextmanager
def dockerd(workdir: Path, *, start_timeout: float = 90) -> Iterator[Dockerd]:
    """A private Docker engine for the duration of the block."""
    _sweep_stale()
    # unix socket paths are limited to 107 bytes: keep the exec root (containerd's sockets) short.
    workdir.mkdir(parents=True, exist_ok=True)
    short = Path(tempfile.mkdtemp(prefix=_SHORT_PREFIX, dir="/tmp"))
    data_root, exec_root = workdir / "data", short / "exec"
    socket, pidfile, log = short / "docker.sock", short / "docker.pid", workdir / "dockerd.log"
    (short / "data-root").write_text(str(data_root))  # for _sweep_stale, should teardown never run
    exec_root.mkdir(parents=True)
    cmd = [
        shutil.which("dockerd") or "/usr/sbin/dockerd",
        "--data-root",
        str(data_root),
        "--exec-root",
        str(exec_root),
        "--pidfile",
        str(pidfile),
        "-H",
        f"unix://{socket}",
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "--log-level=warn",
    ]
    env = base_env()
    env.pop("DOCKER_HOST", None)
    with open(log, "wb") as out:
        # Its own session, so that a kill of the test's process group (a Pants retry or timeout)
        # does not SIGKILL it; the parent-death SIGTERM then makes it stop its containers.
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
    daemon = Dockerd(socket, proc.pid, workdir, log)
    containerd_pid: int | None = None
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"dockerd exited with {proc.returncode}:\n{_log_tail(log)}")
            if socket.exists():
                try:
                    if daemon.client().ping():
                        break
                except Exception:  # noqa: BLE001 - not up yet
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"dockerd did not answer within {start_timeout} s:\n{_log_tail(log)}")
            time.sleep(0.3)
        with contextlib.suppress(OSError, ValueError):
            containerd_pid = int((exec_root / "containerd" / "containerd.pid").read_text().strip())
        yield daemon
    finally:
        if proc.poll() is None:
            with contextlib.suppress(Exception):
                client = daemon.client()
                for c in client.containers.list(all=True):
                    c.remove(force=True)
                client.close()
        _stop(proc)
        if containerd_pid:
            _stop_pid(containerd_pid)
        _unmount_below(workdir)
        _unmount_below(short)
        shutil.rmtree(workdir / "data", ignore_errors=True)
        shutil.rmtree(short, ignore_errors=True)


@dataclass
class Registry:
    host: str  # 127.0.0.1:<port>
    pid: int
    root: Path
    log: Path


def _htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry (the registry accepts only bcrypt), from libxcrypt via crypt."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # Python < 3.13; Debian's libcrypt (libxcrypt) implements $2b$

    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    salt = "".join(alphabet[b % 64] for b in os.urandom(22))
    hashed = crypt.crypt(password, f"$2b$05${salt}")
    if not hashed or not hashed.startswith("$2b$"):
        raise AssertionError("this system's crypt() cannot make bcrypt hashes")
    return f"{user}:{hashed}\n"


@contextlib.contextmanager
def registry(workdir: Path, *, auth: tuple[str, str] | None = None, start_timeout: float = 30) -> Iterator[Registry]:
    """`docker-registry serve` on a free 127.0.0.1 port; with `auth`, htpasswd basic auth."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir()
    config = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        "  secret: test-only-not-secret",
    ]
    if auth:
        (workdir / "htpasswd").write_text(_htpasswd_line(*auth))
        config += ["auth:", "  htpasswd:", "    realm: test", f"    path: {workdir / 'htpasswd'}"]
    cfg = workdir / "config.yml"
    cfg.write_text("\n".join(config) + "\n")
    log = workdir / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(cfg)],
            env=base_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"docker-registry exited with {proc.returncode}:\n{_log_tail(log)}")
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=2).close()
                break
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, and asking for credentials
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"docker-registry did not answer within {start_timeout} s:\n{_log_tail(log)}")
            time.sleep(0.2)
        yield Registry(host, proc.pid, workdir, log)
    finally:
        _stop(proc)
