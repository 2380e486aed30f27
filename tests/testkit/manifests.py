"""Manifests for the manifest layer's tests: a valid base, edits of it, and how a refusal reads.

``edit(a__b=value)`` is BASE with ``a.b`` set (``DELETE`` removes it), made fresh on each
call, so test tables can hold it; ``expected(line, ...)`` is what validation prints for the
file shown as SHOWN.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import yaml

from hub.common.errors import ManifestError
from hub.manifest.load import load_manifest, validate_manifest_file

SHOWN = "exporters/foo/manifest.yaml"

BASE: dict[str, Any] = {
    "name": "foo",
    "description": "Foo exporter",
    "category": "System",
    "version": "v1.2.3",
    "license": "Apache-2.0",
    "upstream": {"repo": "acme/foo_exporter"},
    "build": {"binary_name": "foo_exporter"},
}

DELETE = object()


def write_manifest(
    root: Path, content: str | dict[str, Any], *, name: str = "foo", files: tuple[str, ...] = ()
) -> Path:
    """``root/<name>/manifest.yaml`` with ``content``, beside the given (YAML) files."""
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    for f in files:
        (directory / f).parent.mkdir(parents=True, exist_ok=True)
        (directory / f).write_text("x: 1\n")
    path = directory / "manifest.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def rendered(path: Path) -> list[str]:
    """Validation's messages for the file, as printed for SHOWN."""
    return [e.render(SHOWN) for e in validate_manifest_file(path)]


def edit(**changes: Any) -> Callable[[], dict[str, Any]]:
    """BASE with dotted paths set (a__b means a.b); DELETE removes the key."""

    def make() -> dict[str, Any]:
        data = copy.deepcopy(BASE)
        for dotted, value in changes.items():
            *parents, last = dotted.split("__")
            node = data
            for p in parents:
                node = node.setdefault(p, {})
            if value is DELETE:
                del node[last]
            else:
                node[last] = value
        return data

    return make


def expected(*lines: str) -> list[str]:
    return [f"{SHOWN}: {line}" if not line.startswith(SHOWN) else line for line in lines]


def refusals(root: Path, data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What validation prints for ``data`` and what loading it raises, line by line (a test
    expects the two to be the same)."""
    path = write_manifest(root, data, files=("assets/foo.yml",))
    try:
        load_manifest(path, display_path=SHOWN)
    except ManifestError as e:
        return rendered(path), str(e).splitlines()
    return rendered(path), []
