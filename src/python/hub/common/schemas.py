"""The JSON Schemas shipped in ``hub/schemas/`` (draft 2020-12), read and applied in one place.

Schemas are read with pkgutil, so they work from a PEX. The build matrix is not repeated in
them: they refer to ``matrix.schema.json``, which is made here from ``hub/matrix.json``
(``{"$ref": "matrix.schema.json#/$defs/arch"}``; where arches are keys, ``propertyNames``
refers to it). A default that is a matrix list is named, not listed:
``"x-default-from-matrix": "arches"`` (or ``"rpm"``, ``"deb"``), which :func:`default_value`
reads. One validator per schema is built per process, since a catalog holds thousands of
documents and building a validator costs more than using it. jsonschema is imported lazily:
not every process that imports hub needs it.
"""

from __future__ import annotations

import copy
import functools
import json
import pkgutil
import re
import sys
from typing import Any, Iterable, Iterator

from hub.common import matrix
from hub.common.errors import FieldError, HubError

BASE_URI = "https://monitoring-hub.invalid/schemas/"
MATRIX_SCHEMA = "matrix.schema.json"


class SchemaError(HubError):
    """A document that does not match its schema: one line per problem, with its field path."""

    def __init__(self, what: str, errors: Iterable[FieldError]):
        self.errors = tuple(errors)
        super().__init__("\n".join(e.render(what) for e in self.errors))


def field_path(parts: Iterable[Any]) -> str:
    """["artifacts", "rpm", "targets", 1] -> artifacts.rpm.targets[1]."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


def load_schema(name: str) -> dict[str, Any]:
    """``schemas/<name>.schema.json``: a fresh copy, which the caller may change."""
    return copy.deepcopy(schema(name))


@functools.lru_cache(maxsize=None)
def schema(name: str) -> dict[str, Any]:
    """``schemas/<name>.schema.json``, parsed once per process and shared: only read it."""
    raw = pkgutil.get_data("hub", f"schemas/{name}.schema.json")
    if raw is None:  # pragma: no cover - a broken installation
        raise FileNotFoundError(f"hub/schemas/{name}.schema.json")
    return json.loads(raw.decode("utf-8"))


@functools.lru_cache(maxsize=None)
def matrix_schema() -> dict[str, Any]:
    """The matrix as schema definitions, for ``$ref`` from the other schemas (shared: only read it)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE_URI + MATRIX_SCHEMA,
        "$comment": "Made from hub/matrix.json when the schemas are loaded (hub.common.schemas).",
        "$defs": {
            "arch": {"enum": list(matrix.ARCHES)},
            "rpmArch": {"enum": list(matrix.RPM_ARCH.values())},
            "platform": {"enum": [f"linux/{arch}" for arch in matrix.ARCHES]},
            "dist": {"enum": list(matrix.DISTS)},
            "rpmDist": {"enum": list(matrix.RPM_DISTS)},
            "debDist": {"enum": list(matrix.DEB_DISTS)},
        },
    }


# What "x-default-from-matrix" may name: the lists a default can be.
MATRIX_DEFAULTS = {"arches": matrix.ARCHES, "rpm": matrix.RPM_DISTS, "deb": matrix.DEB_DISTS}
NO_DEFAULT: Any = object()


def default_value(node: dict[str, Any]) -> Any:
    """A (resolved) schema's default, a fresh copy: its ``default``, or the matrix list its
    ``x-default-from-matrix`` names; NO_DEFAULT when it has none."""
    if "default" in node:
        return copy.deepcopy(node["default"])
    if "x-default-from-matrix" in node:
        return list(MATRIX_DEFAULTS[node["x-default-from-matrix"]])
    return NO_DEFAULT


def resolve(node: Any, root: dict[str, Any]) -> Any:
    """``node`` with its ``$ref`` followed, in ``root`` (``#/...``) or in matrix.schema.json,
    and merged with the keywords beside it (theirs win), until no ``$ref`` is left."""
    while isinstance(node, dict) and "$ref" in node:
        document, _, pointer = node["$ref"].partition("#")
        if document == "":
            target: Any = root
        elif document == MATRIX_SCHEMA:
            target = matrix_schema()
        else:
            raise ValueError(f"unsupported $ref {node['$ref']!r}")
        for part in pointer.lstrip("/").split("/") if pointer.strip("/") else ():
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


@functools.lru_cache(maxsize=None)
def validator(name: str) -> Any:
    """The (cached) validator of ``schemas/<name>.schema.json``."""
    from referencing import Registry, Resource  # pants: no-infer-dep (jsonschema depends on it)

    registry = Registry().with_resource(BASE_URI + MATRIX_SCHEMA, Resource.from_contents(matrix_schema()))
    return _validator_class()(schema(name), registry=registry)


def _import_jsonschema() -> Any:
    """jsonschema, imported without rfc3987_syntax. When that package is installed (it is:
    cyclonedx-python-lib[json-validation] brings jsonschema[format-nongpl]), jsonschema
    imports it at once and it compiles 38 lark grammars: 1.1 s of CPU in every engine
    process, most of a package build's non-compression time (docs/benchmarks.md). It only
    adds "iri" format checkers, and our schemas use no formats: a None entry in sys.modules
    makes that import fail, which jsonschema expects and skips."""
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        import jsonschema

        return jsonschema
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    try:
        import jsonschema
    finally:
        del sys.modules["rfc3987_syntax"]
    return jsonschema


def _validator_class() -> Any:
    jsonschema = _import_jsonschema()

    def pattern(validator: Any, regex: str, instance: Any, schema: Any) -> Iterator[Any]:
        # JSON Schema regexes are ECMA-262, where `$` ends the input; Python's `$` also
        # matches before a final newline, which would let "<sha256>\n" through.
        if validator.is_type(instance, "string"):
            if re.search(regex, instance) is None or (regex.endswith("$") and instance.endswith("\n")):
                yield jsonschema.ValidationError(f"{instance!r} does not match {regex!r}")

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": pattern})


def schema_errors(data: Any, name: str) -> list[FieldError]:
    """Every problem of ``data`` against ``schemas/<name>.schema.json``, by field path."""
    errors = sorted(validator(name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [FieldError(field_path(e.absolute_path), e.message) for e in errors]


def validate(data: Any, name: str, *, what: str | None = None) -> None:
    """Raises SchemaError listing every problem; ``what`` names the document in messages."""
    errors = schema_errors(data, name)
    if errors:
        raise SchemaError(what or f"{name} document", errors)
