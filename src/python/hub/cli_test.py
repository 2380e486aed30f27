import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import COMMANDS, build_parser, main
from hub.layout_test import LAYERS

SRC = Path(__file__).resolve().parents[1]  # src/python


def _choices(parser) -> set[str]:
    return set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001


@pytest.mark.parametrize("module", sorted(set(COMMANDS.values())))
def test_each_layer_defines_exactly_its_commands(module: str) -> None:
    mine = {c for c, m in COMMANDS.items() if m == module}
    assert _choices(build_parser(mine)) == mine


def test_every_command_is_in_the_table() -> None:
    assert _choices(build_parser()) == set(COMMANDS)


@pytest.mark.parametrize("command", ["extract", "package", "packages", "image", "yum-entry", "apt-entry"])
def test_a_run_imports_only_its_own_layer_and_below(command: str) -> None:
    """The build runs these once per package or per exporter and arch: they must not pay for
    the layers above."""
    layer = COMMANDS[command].split(".")[1]
    code = (
        "import sys; from hub.cli import main\n"
        f"try: main([{command!r}, '--help'])\nexcept SystemExit: pass\n"
        "print(' '.join(sorted({m.split('.')[1] for m in sys.modules if m.startswith('hub.')})))"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(SRC)}
        )
        .stdout.split("\n")[-2]
        .split()
    )
    allowed = {"cli", *LAYERS[: LAYERS.index(layer) + 1]}
    assert set(out) <= allowed, f"`hub {command}` imported {sorted(set(out) - allowed)}"


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "manifest.yaml"
    bad.write_text("name: [unclosed\n")
    assert main(["validate", str(bad)]) in (1, 2)
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err
