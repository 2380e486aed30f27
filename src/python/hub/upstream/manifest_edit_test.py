"""Tests for hub.upstream.manifest_edit: the version and license lines, edited in place."""

from __future__ import annotations

import pytest

from hub.common.errors import HubError
from hub.upstream.manifest_edit import bump_manifest_text


@pytest.mark.parametrize(
    "before,after",
    [
        ("version: v1.2.0\n", "version: v1.10.0\n"),
        ("version: 'v1.2.0'  # c\n", "version: 'v1.10.0'  # c\n"),
        ('version: "v1.2.0"\r\n', 'version: "v1.10.0"\r\n'),
        ("version: &v v1.2.0\n", "version: &v v1.10.0\n"),
        ("a: 1\n  version: v1.2.0\nversion:   v1.2.0 # x\n", "a: 1\n  version: v1.2.0\nversion:   v1.10.0 # x\n"),
    ],
)
def test_bump_manifest_text(before: str, after: str) -> None:
    assert bump_manifest_text(before, "v1.2.0", "v1.10.0") == after


@pytest.mark.parametrize(
    "before,after",
    [
        ("name: x\nversion: v1\nupstream: {}\n", "name: x\nversion: v2\nlicense: MIT\nupstream: {}\n"),
        ("version: v1\nlicense:\n", "version: v2\nlicense: MIT\n"),
        ("version: v1\nlicense: null  # unknown\n", "version: v2\nlicense: MIT  # unknown\n"),
        ("version: v1", "version: v2\nlicense: MIT\n"),
        ("version: v1\r\nx: 1\r\n", "version: v2\r\nlicense: MIT\r\nx: 1\r\n"),
    ],
)
def test_bump_sets_the_license(before: str, after: str) -> None:
    assert bump_manifest_text(before, "v1", "v2", license="MIT") == after


@pytest.mark.parametrize(
    "text,message",
    [
        ("name: x\n", "found no top-level `version: <value>` line"),
        ("version: v1\nversion: v1\n", "found more than one top-level"),
        ("version: v0\n", "the line says 'v0', the manifest 'v1'"),
        ("{name: x, version: v1}\n", "found no top-level"),
    ],
)
def test_bump_refuses(text: str, message: str) -> None:
    with pytest.raises(HubError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bump_manifest_text(text, "v1", "v2", file="m.yaml")
