"""The report of an ``update-upstreams`` run: a Markdown summary (a pull request body) and JSON.

Names and versions are code spans; every other text from outside (API messages, errors) is
escaped, so a release name cannot inject Markdown or HTML into the pull request.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from hub.upstream.assets import METHOD_DOWNLOAD
from hub.upstream.bump import UpdateResult


def _cell(text: str) -> str:
    """Plain text safe inside a Markdown table cell or list item."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text)
    return re.sub(r"([\\`*\[\]<>|])", r"\\\1", text)


def _code(text: str) -> str:
    """A code span for names and versions (never containing a backtick, pipe or newline)."""
    if re.fullmatch(r"[^`|\x00-\x1f\x7f]+", text):
        return f"`{text}`"
    return _cell(text)


def summary_markdown(results: Sequence[UpdateResult], *, dry_run: bool = False) -> str:
    """Markdown for a pull request body: what was bumped, how each asset was pinned, and what
    was not (errors first)."""
    changed = [r for r in results if r.status in ("updated", "available")]
    lines = ["## Upstream updates" + (" (dry run: nothing written)" if dry_run else ""), ""]
    if changed:
        lines += ["| exporter | version | release | assets pinned |", "|---|---|---|---|"]
        for r in changed:
            tag = _code(r.tag or "")
            url = r.release_url or ""
            release = f"[{tag}]({url})" if re.fullmatch(r"https://[^\s()<>]+", url) else tag
            assets = "<br>".join(f"{a.arch}: {_code(a.name)} ({_cell(a.method)})" for a in r.assets)
            lines.append(
                f"| {_code(r.exporter)} | {_code(r.old_version)} → {_code(r.new_version or '')} | {release} | {assets} |"
            )
        lines.append("")
        if any(not a.method.startswith(METHOD_DOWNLOAD) for r in changed for a in r.assets):
            lines += [
                "Assets pinned from the API digest or a checksums file were not downloaded: "
                "their lock's `source_date` is the release's `published_at`; "
                "`./pants update-lock --force` recomputes it from the archives.",
                "",
            ]
    else:
        lines += [
            (
                "No exporter was bumped."
                if any(r.status == "error" for r in results)
                else "No exporter has a newer upstream release."
            ),
            "",
        ]
    licensed = [r for r in results if r.license]
    if licensed:
        lines.append(
            ("License from the GitHub API (would be set): " if dry_run else "License set from the GitHub API: ")
            + ", ".join(f"{_code(r.exporter)} ({_code(r.license or '')})" for r in licensed)
        )
        lines.append("")
    errors = [r for r in results if r.status == "error"]
    if errors:
        lines += ["### Errors", ""]
        lines += [f"- {_code(r.exporter)}: {_cell(r.message or '')}" for r in errors]
        lines.append("")
    skipped = [r for r in results if r.status == "skipped"]
    if skipped:
        lines += ["### Skipped", ""]
        lines += [f"- {_code(r.exporter)} {_code(r.old_version)}: {_cell(r.message or '')}" for r in skipped]
        lines.append("")
    current = [r for r in results if r.status == "up-to-date"]
    if current:
        lines.append("Up to date: " + ", ".join(f"{_code(r.exporter)} {_code(r.old_version)}" for r in current))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def report_json(results: Sequence[UpdateResult], *, dry_run: bool = False) -> dict[str, Any]:
    """The ``--json`` report: which exporters were updated, changed or failed, and each result."""
    return {
        "dry_run": bool(dry_run),
        "updated": [r.exporter for r in results if r.status in ("updated", "available")],
        # Exporters whose files were (or, in a dry run, would be) rewritten, license-only too.
        "changed": [r.exporter for r in results if r.status in ("updated", "available") or r.license],
        "errors": [r.exporter for r in results if r.status == "error"],
        "results": [r.to_json() for r in results],
    }
