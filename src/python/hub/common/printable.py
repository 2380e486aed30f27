"""Printable text: the characters the engine refuses in names and free text.

Some characters make a text display differently from what it is, or break it across lines, so
that whoever reads a manifest, a log or an archive listing does not see what is there. The
engine refuses them in archive member names (hub.upstream.archive_members) and in the
manifests' free text (hub.manifest.checks); each adds what else its texts cannot hold.
"""

from __future__ import annotations

import unicodedata
from typing import Mapping

# Unicode general categories, each with how a message names its characters. Cc: C0 and C1
# controls (NUL, ESC, newline; NEL, a line break to some readers); Cf: invisible formatting
# characters (bidi overrides, zero-width characters); Zl, Zp: line and paragraph separators.
HIDDEN_OR_LINE_BREAKING = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def first_refused(text: str, refused: Mapping[str, str]) -> tuple[str, str] | None:
    """The first character of `text` whose category `refused` names, with that name and its
    code point, e.g. ("\\x1b", "a control character (U+001B)"); None if there is none."""
    for ch in text:
        what = refused.get(unicodedata.category(ch))
        if what is not None:
            return ch, f"{what} (U+{ord(ch):04X})"
    return None
