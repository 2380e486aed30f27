"""Fixtures of the packaging layer's tests (their exporter and helpers are in tests/testkit/packaging.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from testkit.packaging import MANIFEST, write_exporter

from hub.manifest.load import load_manifest


@pytest.fixture
def manifest(tmp_path: Path) -> Any:
    """The test exporter's manifest, as testkit.packaging.MANIFEST gives it."""
    return load_manifest(write_exporter(tmp_path, MANIFEST))
