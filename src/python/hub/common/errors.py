"""Errors for bad input: they name the file, the field path and what was expected.

The CLI prints these as one line each and exits 2, with no traceback: a traceback is for
bugs in the engine, never for a user's mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class FieldError:
    """One problem at one place: ``field`` is a dotted path like ``artifacts.rpm.targets[1]``."""

    field: str
    message: str

    def render(self, file: str) -> str:
        where = f"{file}: {self.field}" if self.field else file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class LocatedError(FieldError):
    """A problem at a line and column of the file (YAML or JSON syntax): ``file:3:5: message``."""

    line: int = 0
    column: int = 0

    def render(self, file: str) -> str:
        return f"{file}:{self.line}:{self.column}: {self.message}"


class HubError(Exception):
    """Bad input. ``str()`` is the full, user-facing explanation."""


class ManifestError(HubError):
    def __init__(self, file: str, errors: Sequence[FieldError]):
        self.file = file
        self.errors = tuple(errors)
        super().__init__("\n".join(e.render(file) for e in self.errors))


def network_reason(reason: Any) -> str:
    """A short reason for a failed request: "timed out", "Connection refused", the HTTP error."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
