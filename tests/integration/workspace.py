"""A throwaway copy of the repository, as a git repository, to run the real ./pants in."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# Files that make up the workspace; the sandbox of a test depending on //:workspace holds them.
WORKSPACE_ROOTS = (
    "pants",
    "pants.toml",
    "BUILD",
    "build-support",
    "src",
    "exporters",
    "tests",
    "docs",
    ".github",
    ".ci",
    "README.md",
    # Tool configuration read by `pants lint/check` (flake8, mypy, black). Not .coveragerc: see
    # that file (copies never run coverage).
    ".flake8",
    "mypy.ini",
    "pyproject.toml",
)


def find_repo_root() -> Path:
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "pants.toml").is_file() and (candidate / "pants").is_file():
            return candidate
    raise RuntimeError("no pants.toml above the current directory")


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def copy_workspace(dest: Path) -> Path:
    """Copies the workspace into `dest`, makes it a git repository with one commit."""
    src = find_repo_root()
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKSPACE_ROOTS:
        path = src / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy2(path, dest / name)
    (dest / "pants").chmod(0o755)
    (dest / ".gitignore").write_text("/dist/\n/.pants.d/\n/.pids/\n")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "initial")
    return dest


def run_pants(
    repo: Path,
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = False,
    pantsd: bool = False,
):
    """Runs the real launcher, by default without pantsd so no daemon outlives the test.

    Tests that run many quick goals may use pantsd, and must call `stop_pantsd` when done.
    """
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PANTS_BUILDROOT_OVERRIDE", None)
    result = subprocess.run(
        ["./pants", "--pantsd" if pantsd else "--no-pantsd", "--no-dynamic-ui", *args],
        cwd=repo,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"./pants {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def stop_pantsd(repo: Path) -> None:
    """Stops the pantsd of `repo` (its pid file lives under the repository's .pids/)."""
    for pid_file in repo.glob(".pids/*/pantsd/pid"):
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ValueError, ProcessLookupError):
            pass
