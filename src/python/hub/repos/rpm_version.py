"""rpm's version order (rpmvercmp), for YUM retention.

An RPM's EVR is `epoch:version-release`; epochs compare as numbers, then version and release
each with rpmvercmp: alphanumeric segments, digits as numbers and newer than letters, `~`
before everything (even the end), `^` after the end but before anything else.
"""

from __future__ import annotations

from typing import Any, Mapping


def rpmvercmp(a: str, b: str) -> int:
    """rpm's version comparison (rpmvercmp, rpm >= 4.15 with ~ and ^): -1, 0 or 1."""
    if a == b:
        return 0

    def alnum(c: str) -> bool:
        return c.isascii() and c.isalnum()

    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not alnum(b[j]) and b[j] not in "~^":
            j += 1
        ta = a[i] if i < len(a) else ""
        tb = b[j] if j < len(b) else ""
        if ta == "~" or tb == "~":  # a tilde sorts before everything, even the end
            if ta != "~":
                return 1
            if tb != "~":
                return -1
            i += 1
            j += 1
            continue
        if ta == "^" or tb == "^":  # a caret sorts after the end but before anything else
            if not ta:
                return -1
            if not tb:
                return 1
            if ta != "^":
                return 1
            if tb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not ta or not tb:
            break
        isnum = ta.isdigit()
        test = (lambda c: c.isascii() and c.isdigit()) if isnum else (lambda c: c.isascii() and c.isalpha())
        si = i
        while i < len(a) and test(a[i]):
            i += 1
        sj = j
        while j < len(b) and test(b[j]):
            j += 1
        sa, sb = a[si:i], b[sj:j]
        if not sb:  # different kinds of segment: a number is newer than letters
            return 1 if isnum else -1
        if isnum:
            sa, sb = sa.lstrip("0"), sb.lstrip("0")
            if len(sa) != len(sb):
                return 1 if len(sa) > len(sb) else -1
        if sa != sb:
            return 1 if sa > sb else -1
    rest_a, rest_b = i < len(a), j < len(b)
    if not rest_a and not rest_b:
        return 0
    return 1 if rest_a else -1


def evr_compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    """Compares two entries' (epoch, version, release)."""
    ea, eb = int(a.get("epoch") or 0), int(b.get("epoch") or 0)
    if ea != eb:
        return 1 if ea > eb else -1
    return rpmvercmp(a["version"], b["version"]) or rpmvercmp(a["release"], b["release"])


def evr(e: Mapping[str, Any]) -> str:
    """An entry's `epoch:version-release` (epoch 0 when absent)."""
    return f"{int(e.get('epoch') or 0)}:{e['version']}-{e['release']}"


def evr_cmp(x: str, y: str) -> int:
    """Compares two `epoch:version-release` strings (as `evr` makes them)."""

    def split(s: str) -> dict[str, Any]:
        epoch, _, rest = s.partition(":")
        version, _, release = rest.rpartition("-")
        return {"epoch": epoch, "version": version, "release": release}

    return evr_compare(split(x), split(y))
