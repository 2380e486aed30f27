"""The build matrix is declared once, in hub/matrix.json: no production module or schema lists it.

A copy is a literal list, tuple, set, enum or regex alternation, or the keys of one mapping,
holding two or more names of one kind of the matrix (arches, dists, RPM arches, OCI
platforms, APT codenames). Read them from hub.common.matrix (or, in a schema, refer to
matrix.schema.json#/$defs/...) instead. Prose in docstrings and comments is not scanned.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from hub.common import matrix

HUB = Path(__file__).resolve().parents[1]

KINDS = {
    "arches": set(matrix.ARCHES),
    "dists": set(matrix.DISTS),
    "RPM arches": set(matrix.RPM_ARCH.values()),
    "OCI platforms": {f"{p['os']}/{p['architecture']}" for p in matrix.OCI_PLATFORM.values()},
    "APT codenames": {d.codename for d in matrix.DISTS.values() if d.family == "deb"},
}


def _copy_of(values: Iterator[Any]) -> str | None:
    """The kind of matrix names ``values`` lists two or more of, if any."""
    names = {v for v in values if isinstance(v, str)}
    return next((kind for kind, members in KINDS.items() if len(names & members) >= 2), None)


def _alternatives(text: str) -> Iterator[str]:
    """The branches of regex alternations in a string: (rpm|deb) -> rpm, deb."""
    if "|" in text:
        yield from (part.replace("\\", "") for part in re.split(r"[|()^$]", text))


def python_copies(source: str) -> Iterator[tuple[int, str]]:
    """(line, kind) of every copy of the matrix in Python source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            values: Iterator[Any] = (e.value for e in node.elts if isinstance(e, ast.Constant))
        elif isinstance(node, ast.Dict):
            values = (k.value for k in node.keys if isinstance(k, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            values = _alternatives(node.value)
        else:
            continue
        kind = _copy_of(values)
        if kind:
            yield node.lineno, kind


def json_copies(data: Any, path: str = "#") -> Iterator[tuple[str, str]]:
    """(JSON pointer, kind) of every copy of the matrix in a JSON document."""
    if isinstance(data, dict):
        kind = _copy_of(iter(data))
        if kind:
            yield path, kind
        for key, value in data.items():
            yield from json_copies(value, f"{path}/{key}")
    elif isinstance(data, list):
        kind = _copy_of(iter(data))
        if kind:
            yield path, kind
        for i, value in enumerate(data):
            yield from json_copies(value, f"{path}/{i}")
    elif isinstance(data, str):
        kind = _copy_of(_alternatives(data))
        if kind:
            yield path, kind


def test_the_scan_finds_copies() -> None:
    source = 'A = ("amd64", "arm64")\nB = {"el8": 1, "el9": 2}\nC = r"(amd64|arm64)_x"\nD = ["amd64"]\n'
    assert list(python_copies(source)) == [(1, "arches"), (2, "dists"), (3, "arches")]
    schema = {"enum": ["linux/amd64", "linux/arm64"], "properties": {"bookworm": {}, "trixie": {}}, "x": "^el8|el9$"}
    assert sorted(json_copies(schema)) == [
        ("#/enum", "OCI platforms"),
        ("#/properties", "APT codenames"),
        ("#/x", "dists"),
    ]


@pytest.mark.parametrize(
    "path",
    sorted(str(p.relative_to(HUB)) for p in HUB.rglob("*.py") if not p.name.endswith("_test.py")),
)
def test_no_module_lists_the_matrix(path: str) -> None:
    copies = [f"line {line}: {kind}" for line, kind in python_copies((HUB / path).read_text(encoding="utf-8"))]
    assert not copies, f"hub/{path} lists the matrix (read it from hub.common.matrix): {copies}"


@pytest.mark.parametrize("path", sorted(p.name for p in (HUB / "schemas").glob("*.json")))
def test_no_schema_lists_the_matrix(path: str) -> None:
    copies = [f"{pointer}: {kind}" for pointer, kind in json_copies(json.loads((HUB / "schemas" / path).read_text()))]
    assert not copies, f"hub/schemas/{path} lists the matrix (refer to matrix.schema.json#/$defs/...): {copies}"


def test_the_scan_sees_the_engine() -> None:
    assert (HUB / "matrix.json").is_file() and len(list(HUB.rglob("*.py"))) > 30
    assert len(list((HUB / "schemas").glob("*.json"))) >= 6
