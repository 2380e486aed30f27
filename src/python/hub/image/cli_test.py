"""The image layer's commands through `hub.cli`: `hub image` and `hub image-base`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub import cli
from testkit.images import SOURCE_DATE, Workspace, make_base


def test_cli_image(ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ws.root)
    (ws.root / "request.json").write_text(json.dumps(ws.request()))
    assert cli.main(["image", "--request", "request.json"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"sha256:[0-9a-f]{64}", out)
    assert (ws.root / "out/docker.json").is_file()
    (ws.root / "request.json").write_text(json.dumps(ws.request(registry="bad registry")))
    assert cli.main(["image", "--request", "request.json"]) == 2
    assert "registry 'bad registry'" in capsys.readouterr().err


def test_cli_image_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, digest = make_base(tmp_path)
    args = [
        "image-base",
        "--root",
        f"amd64={tmp_path / 'root-amd64'}",
        "--root",
        f"arm64={tmp_path / 'root-arm64'}",
        "--out",
        str(tmp_path / "cli-base"),
        "--source-date",
        "2023-01-01T00:00:00Z",
    ]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.strip() == digest
    assert (
        cli.main(["image-base", "--root", "sparc=x", "--out", str(tmp_path / "x"), "--source-date", SOURCE_DATE]) == 2
    )
