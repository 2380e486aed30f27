"""Schema errors in words: each jsonschema error becomes FieldErrors a manifest author reads.

jsonschema's own messages quote the schema (``'x' does not match '^[a-z0-9]...'``); these say
what was expected instead, from the schema's ``x-expected`` text where a pattern needs one,
and describe what was found (``got integer 420``, ``got a list``). One value gets one error:
a value of the wrong type is not also reported for its pattern or length.
"""

from __future__ import annotations

import datetime
from typing import Any

from hub.common import schemas
from hub.common.errors import FieldError
from hub.common.schemas import field_path

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def schema_errors(data: Any) -> list[FieldError]:
    """Every problem of ``data`` against the manifest schema, explained, without repeats."""
    raw = list(schemas.validator("manifest").iter_errors(data))
    typed = {tuple(e.absolute_path) for e in raw if e.validator == "type"}
    # Keys refused by propertyNames (an unknown arch): their values are not checked further.
    unknown = {(*e.absolute_path, e.instance) for e in raw if _is_key_error(e)}
    out: list[FieldError] = []
    for err in raw:
        if err.validator != "type" and tuple(err.absolute_path) in typed:
            continue  # one error per value: its type
        path = tuple(err.absolute_path)
        if any(path[:n] in unknown for n in range(1, len(path) + 1)):
            continue  # inside an unknown field, already reported
        for fe in _explain(err):
            if fe not in out:
                out.append(fe)
    return out


def _is_key_error(err: Any) -> bool:
    """An error about a mapping's key (its instance is the key), not about a value."""
    return "propertyNames" in err.absolute_schema_path


def _explain(err: Any) -> list[FieldError]:
    parts = list(err.absolute_path)
    where = field_path(parts)
    kind, inst, schema = err.validator, err.instance, err.schema
    expected = schema.get("x-expected") if isinstance(schema, dict) else None
    if _is_key_error(err):
        # Where the keys are the matrix's arches: the same words as a fixed list of fields.
        known = ", ".join(map(str, err.validator_value)) if kind == "enum" else None
        if known is not None:
            return [FieldError(where, f"unknown field {quote(str(inst))} (expected one of: {known})")]
        if expected:  # keys from more than one list (the matrix's DEB dists, fedora, epel)
            return [FieldError(where, f"unknown field {quote(str(inst))} (expected {expected})")]
        return [FieldError(where, f"field name {quote(str(inst))}: {err.message}")]
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        return [
            FieldError(where, f"unknown field {quote(str(k))} (expected one of: {', '.join(allowed)})")
            for k in inst
            if k not in allowed
        ]
    if kind == "required":
        return [
            FieldError(field_path([*parts, k]), "required field is missing")
            for k in err.validator_value
            if k not in inst
        ]
    if kind == "type":
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        want = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        hint = schema.get("x-type-hint")
        return [FieldError(where, f"expected {want}, got {describe(inst)}" + (f" ({hint})" if hint else ""))]
    if kind == "enum":
        return [FieldError(where, f"{value(inst)} is not one of {', '.join(map(str, err.validator_value))}")]
    if kind == "uniqueItems":
        return [
            FieldError(field_path([*parts, i]), f"duplicate value {value(item)}")
            for i, item in enumerate(inst)
            if item in inst[:i]
        ]
    if kind == "minItems":
        n = err.validator_value
        got = "an empty list" if not inst else f"{len(inst)}"
        return [FieldError(where, f"expected at least {n} item{'s' if n != 1 else ''}, got {got}")]
    if kind == "maxItems":
        n = err.validator_value
        return [FieldError(where, f"expected at most {n} item{'s' if n != 1 else ''}, got {len(inst)}")]
    if expected:
        return [FieldError(where, f"expected {expected}, got {value(inst)}")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        return [FieldError(where, f"expected a number {words[kind]} {err.validator_value}, got {value(inst)}")]
    if kind == "maxLength":
        return [FieldError(where, f"expected at most {err.validator_value} characters, got {len(inst)}")]
    if kind == "minLength":
        return [FieldError(where, f"expected at least {err.validator_value} characters, got {len(inst)}")]
    return [FieldError(where, err.message)]


def quote(s: str) -> str:
    """A string as the messages show it: repr, cut to 80 characters."""
    return repr(s) if len(s) <= 80 else repr(s[:77]) + "..."


def value(v: Any) -> str:
    """A value the author wrote: a string quoted as is, anything else described."""
    return quote(v) if isinstance(v, str) else describe(v)


def describe(v: Any) -> str:
    """What YAML made of a value, in words: ``integer 420``, ``a list``, ``date 2025-01-01``."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean {'true' if v else 'false'}"
    if isinstance(v, int):
        return f"integer {v}"
    if isinstance(v, float):
        return f"number {v!r}"
    if isinstance(v, str):
        return f"string {quote(v)}"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, (datetime.date, datetime.datetime)):
        return f"date {v.isoformat()} (quote it to make it text)"
    if isinstance(v, bytes):
        return "binary data"
    return type(v).__name__  # pragma: no cover
