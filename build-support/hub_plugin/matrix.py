"""The build matrix (arches, dists and each dist's package format), from the engine's file.

The matrix is declared once, in `src/python/hub/matrix.json`. The plugin runs in Pants' own
interpreter and never imports the engine, so it reads the same file, and only the names it
needs. Plugin code is imported when Pants starts: target fields take their `valid_choices` and
help from here, and pants.toml lists the file in `pantsd_invalidation_globs` so that pantsd
restarts when it changes.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pants.util.frozendict import FrozenDict

MATRIX_FILE = "src/python/hub/matrix.json"
# The plugin is loaded from <build root>/build-support (pants.toml's `pythonpath`), and test
# sandboxes keep that layout, so the build root is two levels above this package.
BUILD_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The package formats the engine builds, in the order their artifacts are listed.
FORMATS = ("rpm", "deb")


class MatrixFileError(Exception):
    """The matrix file is missing or malformed. Pants cannot start without it: say why."""


def parse_matrix(data: Any, where: str) -> tuple[tuple[str, ...], FrozenDict[str, str]]:
    """The arches and `{dist: format}`, both in file order."""
    try:
        arches = tuple(data["arches"])
        dists = FrozenDict({str(name): d["family"] for name, d in data["dists"].items()})
    except (TypeError, KeyError, AttributeError) as e:
        raise MatrixFileError(
            f"{where}: expected `arches` and `dists` mappings, each dist with a `family` ({e!r})"
        ) from e
    if not arches or not dists:
        raise MatrixFileError(f"{where}: `arches` and `dists` must not be empty")
    unknown = sorted({f for f in dists.values() if f not in FORMATS})
    if unknown:
        raise MatrixFileError(f"{where}: unknown family {unknown[0]!r} (expected one of {', '.join(FORMATS)})")
    return arches, dists


def load_matrix(path: str) -> tuple[tuple[str, ...], FrozenDict[str, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise MatrixFileError(f"{path}: cannot read the build matrix ({e})") from e
    return parse_matrix(data, path)


ARCHES, DIST_FORMAT = load_matrix(os.path.join(BUILD_ROOT, MATRIX_FILE))
DISTS: tuple[str, ...] = tuple(DIST_FORMAT)
FORMAT_DISTS: FrozenDict[str, tuple[str, ...]] = FrozenDict(
    {fmt: tuple(d for d, f in DIST_FORMAT.items() if f == fmt) for fmt in FORMATS}
)


def artifact_id(kind: str, arch: str | None = None, dist: str | None = None) -> str:
    """A generated target's name, as the engine names the artifact: rpm_amd64_el9, docker."""
    return "docker" if kind == "docker" else f"{kind}_{arch}_{dist}"
