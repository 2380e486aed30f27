"""Crash points of `hub publish`: named steps where a test may kill the process.

Test-only hook: `HUB_PUBLISH_CRASH_AT=<point name>` or `=<N>` makes the process exit at once
with status 137 (`os._exit`, no clean-up, like `kill -9`) right after that crash point (or the
N-th one reached, counting from 1). Each point is logged on stderr as `publish: point N name`.
The Pants rule never passes it. The points and their order are listed in docs/repositories.md
("Publishing: order, atomic switch, crash safety").
"""

from __future__ import annotations

import os
from typing import Any

CRASH_ENV = "HUB_PUBLISH_CRASH_AT"
CRASH_STATUS = 137


class CrashPoints:
    """Counts and logs the crash points; exits like `kill -9` at the one `HUB_PUBLISH_CRASH_AT`
    names (a point name, or N for the N-th point reached)."""

    def __init__(self, spec: str | None, log: Any = None):
        self.spec = (spec or "").strip()
        self.count = 0
        self.log = log

    def __call__(self, name: str) -> None:
        self.count += 1
        if self.log is not None:
            print(f"publish: point {self.count} {name}", file=self.log, flush=True)
        if self.spec and (self.spec == name or self.spec == str(self.count)):
            os._exit(CRASH_STATUS)
