"""Fixtures of the image layer's tests (their helpers are in tests/testkit/images.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.images import Workspace, make_ws


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """The demo exporter's workspace, as its manifest is."""
    return make_ws(tmp_path, {})
