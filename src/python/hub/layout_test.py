"""The engine's layout shows its architecture (docs/architecture.md), and stays so.

- one subpackage per layer, bottom up; a layer imports only the layers below it;
- no production module over MAX_MODULE_LINES lines;
- no test support inside the engine (it lives in tests/testkit, outside the engine PEX).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1]  # src/python
ENGINE = SRC / "hub"
# The engine's layers, bottom up: each imports only the layers below it.
LAYERS = ("common", "manifest", "upstream", "catalog", "packaging", "image", "repos", "site")
MAX_MODULE_LINES = 700


def production_modules() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if not p.name.endswith("_test.py") and p.name != "conftest.py")


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return {name.split(".")[1] for name in names if name.startswith("hub.") and name.count(".") >= 1}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    below = set(LAYERS[: LAYERS.index(layer) + 1])
    for path in production_modules():
        if path.parent.name == layer:
            wrong = _imported_layers(path) - below
            assert not wrong, f"{path.relative_to(SRC)} imports {sorted(wrong)}, which are above {layer}"


def test_every_module_is_in_a_layer() -> None:
    top = sorted(p.name for p in ENGINE.glob("*.py") if not p.name.endswith("_test.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py"]
    packages = sorted(p.name for p in ENGINE.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(LAYERS)
    assert not [p for p in ENGINE.glob("*/*/__init__.py")], "layers have no subpackages"


def test_no_production_module_is_too_long() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in production_modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these modules (at most {MAX_MODULE_LINES} lines each): {long}"


def test_no_test_support_in_the_engine() -> None:
    """Test kits live in tests/testkit: in the engine they would ship in its PEX, and editing
    one would rebuild every artifact."""
    kits = [p for p in production_modules() if "testkit" in p.name or p.name.startswith(("synthetic", "fake"))]
    assert not kits
    for path in production_modules():
        imports = {n.module for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imports if m and m.split(".")[0] in ("testkit", "pytest")}, path
