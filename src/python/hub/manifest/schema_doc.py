"""`hub manifest-doc`: docs/manifest.md's field reference, generated from the manifest schema.

The schema's descriptions are the documentation, so the reference can never drift from what
`./pants lint` enforces; a test checks the committed file is current.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from hub.manifest.load import load_schema

HEADER = """\
# Manifest reference

Every exporter is described by `exporters/<name>/manifest.yaml`, validated by the JSON Schema
`src/python/hub/schemas/manifest.schema.json` (draft 2020-12) plus semantic checks (files
exist, paths stay inside the exporter directory, binaries are unique...). Unknown keys are
errors. `./pants lint ::` reports every problem with the file, the field path and what was
expected, for example:

```
exporters/foo/manifest.yaml: artifacts.rpm.targets[1]: 'el7' is not one of el8, el9, el10
```

`artifacts.rpm` and `artifacts.deb` take the same fields; a YAML anchor lets them share one
block (`rpm: &package ...` then `deb: *package`, or `deb: {<<: *package, conflicts: [...]}`).
An absent `artifacts.<format>` section means that format with its defaults.

Placeholders in `upstream.archive_name` and `upstream.tag`: `{name}`, `{version}` (as upstream
tags it, `v1.11.0`), `{clean_version}` (without the leading `v`), `{arch}` (amd64, arm64),
`{rpm_arch}` (x86_64, aarch64), `{upstream_linux_arch}` (x86_64, arm64); `upstream.arch_names`
overrides them per arch.

This table is generated from the schema: `./pants run src/python/hub:cli -- manifest-doc > docs/manifest.md`.

| field | type | default | description |
|---|---|---|---|
"""


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"].split("/")[-1]
        merged = {**schema["$defs"][ref], **{k: v for k, v in node.items() if k != "$ref"}}
        node = merged
    return node


def _type(node: dict[str, Any], schema: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    t = node.get("type")
    if t == "array":
        return f"list of {_type(_resolve(schema, node.get('items', {})), schema)}"
    if isinstance(t, list):
        return " or ".join(t)
    return t or "any"


def rows(schema: dict[str, Any], node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, ...]]:
    required = set(node.get("required", ()))
    for key, sub in node.get("properties", {}).items():
        sub = _resolve(schema, sub)
        path = f"{prefix}{key}"
        default = f"`{json.dumps(sub['default'])}`" if "default" in sub else ("required" if key in required else "")
        description = " ".join(sub.get("description", "").split()).replace("|", "\\|")
        yield path, _type(sub, schema), default, description
        if sub.get("type") == "object":
            yield from rows(schema, sub, f"{path}.")
        items = _resolve(schema, sub.get("items", {})) if sub.get("type") == "array" else {}
        if items.get("type") == "object":
            yield from rows(schema, items, f"{path}[].")


def render() -> str:
    schema = load_schema()
    lines = [f"| `{p}` | {t} | {d} | {desc} |" for p, t, d, desc in rows(schema, schema)]
    return HEADER + "\n".join(lines) + "\n"
