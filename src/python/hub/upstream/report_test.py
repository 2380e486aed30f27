"""Tests for hub.upstream.report and the `update-upstreams` command: the summary, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from hub import cli
from hub.manifest.load import load_manifest
from hub.upstream.bump import UpdateResult
from hub.upstream.report import summary_markdown
from testkit.fake_github import (
    FOO,
    FakeGitHub,
    archive,
    foo_world,
    running_github,
    simple,
    write,
)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with running_github() as gh:
        yield gh


def test_cli_summary_json_and_exit_code(
    github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("PANTS_HUB_UPSTREAM_MIRROR", raising=False)
    foo_world(github)
    repo = "acme/half_exporter"
    amd = github.asset(repo, "v1.1.0", "half_exporter-1.1.0.linux-amd64.tar.gz", archive("half", "amd64"))
    github.releases(repo, [[github.release(repo, "v1.1.0", [amd])]])
    foo = write(tmp_path, "foo_exporter", FOO)
    half = write(tmp_path, "half_exporter", simple("half_exporter", "v1.0.0"))
    pinned = write(
        tmp_path, "pinned_exporter", simple("pinned_exporter", "v1.0.0", extra_upstream="  strategy: pinned\n")
    )
    summary = tmp_path / "summary.md"

    argv = ["update-upstreams", "--api-url", github.url, "--summary", str(summary), str(tmp_path / "exporters")]
    assert (
        cli.main(["update-upstreams", "--api-url", github.url, "--dry-run", "--json", str(tmp_path / "exporters")]) == 1
    )
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and dry["updated"] == ["foo_exporter"] and dry["errors"] == ["half_exporter"]
    assert dry["changed"] == ["foo_exporter"]
    assert "version: v1.2.0" in foo.read_text()

    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert load_manifest(foo).version == "v1.10.0"
    assert "version: v1.0.0" in half.read_text() and "version: v1.0.0" in pinned.read_text()
    assert "error: " in captured.err and "has no asset arm64" in captured.err
    md = captured.out
    assert summary.read_text() == md
    assert md.startswith("## Upstream updates\n\n| exporter | version | release | assets pinned |\n|---|---|---|---|\n")
    assert (
        "| `foo_exporter` | `v1.2.0` → `v1.10.0` | [`v1.10.0`](https://github.com/acme/foo_exporter/releases/tag/v1.10.0) | "
        "amd64: `foo-1.10.0.linux-amd64.tar.gz` (api-digest)<br>arm64: `foo-1.10.0.linux-arm64.tar.gz` (api-digest) |"
    ) in md
    assert "### Errors\n\n- `half_exporter`: release v1.1.0 of acme/half_exporter has no asset arm64" in md
    assert "### Skipped\n\n- `pinned_exporter` `v1.0.0`: upstream.strategy is pinned" in md
    assert "`source_date` is the release's `published_at`" in md

    # Run again: everything is current now.
    assert cli.main([*argv[:-1], "--json", str(foo)]) == 0
    report = json.loads(capsys.readouterr().out)
    [r] = report["results"]
    assert set(r) == {
        "exporter",
        "manifest",
        "strategy",
        "status",
        "old_version",
        "new_version",
        "tag",
        "release_url",
        "source_date",
        "license",
        "assets",
        "message",
    }
    assert (r["status"], r["old_version"], r["new_version"]) == ("up-to-date", "v1.10.0", None)


def test_summary_without_updates() -> None:
    assert summary_markdown([]) == "## Upstream updates\n\nNo exporter has a newer upstream release.\n"
    failed = UpdateResult("x_exporter", "m.yaml", "latest_release", "error", "v1.0.0", message="boom | *bold* <b>")
    assert summary_markdown([failed], dry_run=True) == (
        "## Upstream updates (dry run: nothing written)\n\nNo exporter was bumped.\n\n"
        "### Errors\n\n- `x_exporter`: boom \\| \\*bold\\* \\<b\\>\n"
    )
