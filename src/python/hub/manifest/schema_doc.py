"""`hub manifest-doc`: docs/manifest.md's field reference, generated from the manifest schema.

The schema's descriptions are the documentation, so the reference can never drift from what
`./pants lint` enforces; a test checks the committed file is current. The matrix's values
(arches, dists, the defaults that list them) come from hub/matrix.json, as in the schema.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from hub.common import matrix
from hub.common.schemas import NO_DEFAULT, default_value, resolve
from hub.manifest.load import load_schema

HEADER = """\
# Manifest reference

Every exporter is described by `exporters/<name>/manifest.yaml`, validated by the JSON Schema
`src/python/hub/schemas/manifest.schema.json` (draft 2020-12) plus semantic checks (files
exist, paths stay inside the exporter directory, binaries are unique...). Unknown keys are
errors. `./pants lint ::` reports every problem with the file, the field path and what was
expected, for example:

```
exporters/foo/manifest.yaml: artifacts.rpm.targets[1]: 'el7' is not one of %(rpm_dists)s
```

`artifacts.rpm` and `artifacts.deb` take the same fields; a YAML anchor lets them share one
block (`rpm: &package ...` then `deb: *package`, or `deb: {<<: *package, conflicts: [...]}`).
An absent `artifacts.<format>` section means that format with its defaults.

Placeholders in `upstream.archive_name` and `upstream.tag`: `{name}`, `{version}` (as upstream
tags it, `v1.11.0`), `{clean_version}` (without the leading `v`), `{arch}` (%(arch)s),
`{rpm_arch}` (%(rpm_arch)s), `{upstream_linux_arch}` (%(upstream_linux_arch)s); `upstream.arch_names`
overrides them per arch.

This table is generated from the schema: `./pants run src/python/hub:cli -- manifest-doc > docs/manifest.md`.

| field | type | default | description |
|---|---|---|---|
"""


def _type(node: dict[str, Any], schema: dict[str, Any]) -> str:
    if "enum" in node:
        return _choices(node["enum"])
    t = node.get("type")
    if t == "array":
        return f"list of {_type(resolve(node.get('items', {}), schema), schema)}"
    if isinstance(t, list):
        return " or ".join(t)
    return t or "any"


def _choices(values: list[Any]) -> str:
    return " \\| ".join(f"`{v}`" for v in values)


def _default(node: dict[str, Any], required: bool) -> str:
    default = default_value(node)
    if default is not NO_DEFAULT:
        return f"`{json.dumps(default)}`"
    return "required" if required else ""


def _description(node: dict[str, Any], note: str = "") -> str:
    text = " ".join([*node.get("description", "").split(), *note.split()])
    return text.replace("|", "\\|")


def _names(node: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The values a key schema allows: its enum, or those of each alternative of its anyOf."""
    if "enum" in node:
        return list(node["enum"])
    return [name for alternative in node["anyOf"] for name in _names(resolve(alternative, schema), schema)]


def rows(schema: dict[str, Any], node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, ...]]:
    """(field, type, default, description) of every field under ``node``, depth first."""
    required = set(node.get("required", ()))
    fields = [(key, resolve(sub, schema), key in required, "") for key, sub in node.get("properties", {}).items()]
    if isinstance(node.get("additionalProperties"), dict) and "propertyNames" in node:
        # Keys from a list (the matrix's arches): one row for them all, <arch>, naming them.
        key = "<" + node["propertyNames"]["$ref"].rsplit("/", 1)[-1] + ">"
        names = _names(resolve(node["propertyNames"], schema), schema)
        note = f"`{key}` is one of: {', '.join(f'`{n}`' for n in names)}."
        fields.append((key, resolve(node["additionalProperties"], schema), False, note))
    for key, sub, is_required, note in fields:
        path = f"{prefix}{key}"
        yield path, _type(sub, schema), _default(sub, is_required), _description(sub, note)
        if sub.get("type") == "object":
            yield from rows(schema, sub, f"{path}.")
        items = resolve(sub.get("items", {}), schema) if sub.get("type") == "array" else {}
        if items.get("type") == "object":
            yield from rows(schema, items, f"{path}[].")


def render() -> str:
    schema = load_schema()
    header = HEADER % {
        "rpm_dists": ", ".join(matrix.RPM_DISTS),
        "arch": ", ".join(matrix.ARCHES),
        "rpm_arch": ", ".join(matrix.RPM_ARCH.values()),
        "upstream_linux_arch": ", ".join(matrix.UPSTREAM_LINUX_ARCH.values()),
    }
    lines = [f"| `{p}` | {t} | {d} | {desc} |" for p, t, d, desc in rows(schema, schema)]
    return header + "\n".join(lines) + "\n"
