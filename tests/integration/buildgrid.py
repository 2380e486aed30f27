"""A real REAPI cache server (BuildGrid) on 127.0.0.1 for the remote-cache tests.

`bgd` comes from PyPI (build-support/ci/install-tools.sh installs it and exports HUB_BGD). The
server is cache-only: an action cache and a CAS on disk, no execution service.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

CONFIG = """\
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
# Pants fetches many blobs at once; the default limit refuses some of them.
maximum-concurrent-rpcs: 2000
thread-pool-size: 64
storages:
  - !disk-storage &cas
    path: {cas}
caches:
  - !lru-action-cache &action-cache
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
instances:
  - name: ""
    services:
      - !action-cache
        cache: *action-cache
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"""


def counters(stats: str) -> dict[str, int]:
    """The counters of Pants' `--stats-log` output (remote_cache_write_successes, ...)."""
    return {k: int(v) for k, v in re.findall(r"^\s+([a-z_]+): (\d+)$", stats, re.MULTILINE)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def buildgrid(workdir: Path) -> Iterator[str]:
    """Starts `bgd server start`, yields its grpc:// address, stops it by PID."""
    bgd = os.environ.get("HUB_BGD")
    assert bgd and Path(bgd).is_file(), "HUB_BGD must name BuildGrid's bgd (run build-support/ci/install-tools.sh)"
    port = free_port()
    (workdir / "cas").mkdir(parents=True, exist_ok=True)
    config = workdir / "bgd.yml"
    config.write_text(CONFIG.format(port=port, cas=workdir / "cas"))
    log = open(workdir / "bgd.log", "wb")
    proc = subprocess.Popen(
        [bgd, "server", "start", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"bgd exited: {(workdir / 'bgd.log').read_text()[-2000:]}"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "bgd did not listen within 60 s"
            time.sleep(0.2)
        yield f"grpc://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
