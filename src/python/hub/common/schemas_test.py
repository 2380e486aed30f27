"""The shipped schemas: valid, every $ref resolvable, the matrix's lists from matrix.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest

from hub.common import matrix, schemas

NAMES = sorted(
    p.name.removesuffix(".schema.json") for p in (Path(schemas.__file__).parents[1] / "schemas").glob("*.schema.json")
)


def _nodes(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_and_its_refs_resolve(name: str) -> None:
    schema = schemas.schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    for node in _nodes(schema):
        if "$ref" in node:
            assert "$ref" not in schemas.resolve(node, schema), node["$ref"]


def test_matrix_schema_is_the_matrix() -> None:
    defs = schemas.matrix_schema()["$defs"]
    jsonschema.Draft202012Validator.check_schema(schemas.matrix_schema())
    assert defs["arch"]["enum"] == list(matrix.ARCHES)
    assert defs["rpmArch"]["enum"] == [matrix.RPM_ARCH[a] for a in matrix.ARCHES]
    assert defs["platform"]["enum"] == [f"linux/{a}" for a in matrix.ARCHES]
    assert defs["dist"]["enum"] == list(matrix.DISTS)
    assert defs["rpmDist"]["enum"] + defs["debDist"]["enum"] == list(matrix.DISTS)


def test_resolve_follows_local_and_matrix_refs() -> None:
    root = {"$defs": {"arch": {"type": "string", "$ref": "matrix.schema.json#/$defs/arch"}}}
    node = {"description": "Mine.", "$ref": "#/$defs/arch"}
    assert schemas.resolve(node, root) == {"enum": list(matrix.ARCHES), "type": "string", "description": "Mine."}
    with pytest.raises(ValueError, match="unsupported"):
        schemas.resolve({"$ref": "other.json#/x"}, root)


def test_default_value() -> None:
    assert schemas.default_value({"x-default-from-matrix": "arches"}) == list(matrix.ARCHES)
    assert schemas.default_value({"x-default-from-matrix": "rpm"}) == list(matrix.RPM_DISTS)
    assert schemas.default_value({"x-default-from-matrix": "deb"}) == list(matrix.DEB_DISTS)
    shared = {"default": {"a": []}}
    value = schemas.default_value(shared)
    assert value == {"a": []} and value is not shared["default"]
    assert schemas.default_value({"type": "string"}) is schemas.NO_DEFAULT


def test_validator_resolves_the_matrix() -> None:
    errors = schemas.schema_errors({"archives": {"ppc64le": {}}}, "upstream-lock")
    assert ("archives", f"'ppc64le' is not one of {list(matrix.ARCHES)}") in [(e.field, e.message) for e in errors]
