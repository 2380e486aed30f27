"""hub.packaging.cli: `hub buildinfo` (`hub package` runs in build_integration_test.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from testkit.go_binaries import inline_blob, make_elf, uvarint

from hub.packaging.buildinfo import MAGIC


def test_cli_buildinfo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hub import cli

    good, bad, plain = tmp_path / "good", tmp_path / "bad", tmp_path / "plain"
    good.write_bytes(make_elf(inline_blob()))
    plain.write_bytes(make_elf(b"\x00" * 64, buildinfo=None))
    bad.write_bytes(make_elf(MAGIC + b"\x08\x02" + bytes(16) + uvarint(5000) + b"go1"))  # a length past the end
    assert cli.main(["buildinfo", str(good), str(plain)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[str(good)]["main"]["path"] == "example.com/exporter"
    assert out[str(good)]["deps"][1]["replace"]["path"] == "github.com/fork/thing"
    assert out[str(plain)] is None
    assert cli.main(["buildinfo", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and "Traceback" not in err
