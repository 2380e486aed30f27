"""Semantic versions (https://semver.org/spec/v2.0.0.html), with an optional leading "v".

Upstreams tag releases as ``v1.11.0`` or ``1.4.0``; the state command and the upstream bump
compare them by semver precedence, never as strings.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hub.common.errors import HubError


_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
SEMVER_PATTERN = (
    rf"v?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?"
)
_SEMVER_RE = re.compile(SEMVER_PATTERN)
SEMVER_EXPECTED = (
    "a semantic version MAJOR.MINOR.PATCH with an optional leading 'v', -prerelease and +build "
    "(like v1.2.3, 1.2.3 or 1.2.3-rc.1; no leading zeros)"
)


@functools.total_ordering
class SemVer:
    """A parsed semantic version. Equality and order follow semver precedence, so build
    metadata is ignored (``1.0.0+a == 1.0.0+b``) and ``v1.0.0 == 1.0.0``; ``text`` keeps the
    original spelling."""

    __slots__ = ("text", "major", "minor", "patch", "prerelease", "build")

    def __init__(
        self,
        text: str,
        major: int,
        minor: int,
        patch: int,
        prerelease: tuple[str, ...] = (),
        build: tuple[str, ...] = (),
    ):
        self.text = text
        self.major, self.minor, self.patch = major, minor, patch
        self.prerelease = prerelease
        self.build = build

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[Any, ...]:
        # A release ranks above all of its prereleases; prerelease identifiers compare one by
        # one, numeric ones numerically and below alphanumeric ones; a longer list of equal
        # leading identifiers ranks higher (Python's tuple order does exactly that).
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.core, 0 if self.prerelease else 1, pre)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: SemVer) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"SemVer({self.text!r})"


def parse_semver(text: Any, *, what: str | None = None) -> SemVer:
    """Parses ``text`` strictly; HubError (naming ``what``, e.g. a file and field) otherwise."""
    m = _SEMVER_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        shown = repr(text) if isinstance(text, str) else f"{type(text).__name__} {text!r}"
        prefix = f"{what}: " if what else ""
        raise HubError(f"{prefix}{shown} is not {SEMVER_EXPECTED}")
    pre = m.group("pre")
    build = m.group("build")
    return SemVer(
        text,
        int(m.group("major")),
        int(m.group("minor")),
        int(m.group("patch")),
        tuple(pre.split(".")) if pre else (),
        tuple(build.split(".")) if build else (),
    )


def is_semver(text: Any) -> bool:
    return isinstance(text, str) and _SEMVER_RE.fullmatch(text) is not None
