import ast
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import COMMANDS, build_parser, main

SRC = Path(__file__).resolve().parents[1]  # src/python


def _choices(parser) -> set[str]:
    return set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001


@pytest.mark.parametrize("module", sorted(set(COMMANDS.values())))
def test_each_layer_defines_exactly_its_commands(module: str) -> None:
    mine = {c for c, m in COMMANDS.items() if m == module}
    assert _choices(build_parser(mine)) == mine


def test_every_command_is_in_the_table() -> None:
    assert _choices(build_parser()) == set(COMMANDS)


# The engine's layers, bottom up (docs/architecture.md): each imports only layers below it.
LAYERS = ("common", "manifest", "upstream", "catalog", "packaging", "image", "repos", "site")


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return {name.split(".")[1] for name in names if name.startswith("hub.") and name.count(".") >= 1}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    below = set(LAYERS[: LAYERS.index(layer) + 1])
    for path in sorted(p for p in (SRC / "hub" / layer).glob("*.py") if not p.name.endswith("_test.py")):
        wrong = _imported_layers(path) - below
        assert not wrong, f"{path.relative_to(SRC)} imports {sorted(wrong)}, which are above {layer}"


def test_every_module_is_in_a_layer() -> None:
    top = sorted(p.name for p in (SRC / "hub").glob("*.py") if not p.name.endswith("_test.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py"]
    assert sorted(p.name for p in (SRC / "hub").iterdir() if (p / "__init__.py").exists()) == sorted(LAYERS)


@pytest.mark.parametrize("command", ["extract", "package", "image", "yum-entry", "apt-entry"])
def test_a_run_imports_only_its_own_layer_and_below(command: str) -> None:
    """The build runs these once per package: they must not pay for the layers above."""
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
