"""A fresh machine pointed at a remote cache rebuilds node_exporter entirely from it.

Real BuildGrid on 127.0.0.1; real ./pants in a copy of the repository. The first build writes
to the remote cache; the second starts from an empty local store, reads everything back, and
must produce byte-identical packages, with the upstream mirror stopped: nothing may be fetched.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import urllib.parse
from pathlib import Path

from hub.upstream.mirror import serve

from integration.buildgrid import buildgrid, counters
from integration.offline import build_offline_mirror
from integration.workspace import copy_workspace, git, run_pants


def digests(dist: Path) -> dict[str, str]:
    return {
        str(p.relative_to(dist)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(dist.rglob("*"))
        if p.is_file()
    }


def test_rebuild_from_remote_cache_only(tmp_path: Path) -> None:
    mirror = build_offline_mirror(tmp_path / "mirror", ["node_exporter"])
    repo = copy_workspace(tmp_path / "repo")
    with buildgrid(tmp_path / "bgd") as address:
        remote = [
            f"--remote-store-address={address}",
            "--remote-instance-name=",
            "--no-local-cache",
            "--stats-log",
        ]
        with serve(mirror) as mirror_url:
            env = {"PANTS_HUB_UPSTREAM_MIRROR": mirror_url}
            run_pants(repo, "update-lock", "exporters/node_exporter::", env=env, check=True)
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", "pin")
            first = run_pants(
                repo,
                *remote,
                "--remote-cache-write",
                f"--local-store-dir={tmp_path / 'store-1'}",
                "package",
                "exporters/node_exporter::",
                env=env,
                check=True,
            )
        written = counters(first.stderr)
        # 2 package builds (one per arch: its 7 packages and their entries), 2 downloads,
        # 2 extractions and the image, besides the tools' own PEX builds
        assert written["remote_cache_write_successes"] >= 7, first.stderr
        assert written["remote_cache_write_errors"] == 0
        before = digests(repo / "dist" / "node_exporter")
        assert sum(1 for name in before if name.endswith((".rpm", ".deb"))) == 14

        # "A fresh machine": an empty local store and no dist/. The mirror is stopped (the build
        # still points at it), so fetching an upstream archive would fail the build.
        assert_refused(mirror_url)
        shutil.rmtree(repo / "dist")
        second = run_pants(
            repo,
            *remote,
            "--remote-cache-read",
            f"--local-store-dir={tmp_path / 'store-2'}",
            "package",
            "exporters/node_exporter::",
            env=env,
            check=True,
        )
        read = counters(second.stderr)
        assert read["remote_cache_read_errors"] == 0, second.stderr
        assert read["remote_cache_requests_uncached"] == 0, second.stderr
        assert read["remote_cache_requests_cached"] == read["remote_cache_requests"] >= 7
        assert digests(repo / "dist" / "node_exporter") == before


def assert_refused(url: str) -> None:
    """Nothing answers at `url` any more."""
    parsed = urllib.parse.urlsplit(url)
    with socket.socket() as s:
        assert s.connect_ex((parsed.hostname, parsed.port)) != 0, f"{url} still answers"
