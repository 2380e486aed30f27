"""Checksums files among a release's assets, and the sha256 they give an archive.

Releases made with goreleaser, promu and the like publish the sha256 of their archives in a
**checksums file**: ``<archive>.sha256`` (or ``.sha256sum``) for one archive, or one shared
file such as ``sha256sums.txt``, ``SHA256SUMS``, ``checksums.txt`` or
``<name>_<version>_checksums.txt``, in GNU (``<hex>  <file>``) or BSD
(``SHA256 (<file>) = <hex>``) format.
"""

from __future__ import annotations

import re

from hub.upstream.github import Asset, Release

_GNU_LINE_RE = re.compile(r"([0-9a-fA-F]{64})[ \t]+\*?(\S.*?)[ \t]*")
_BSD_LINE_RE = re.compile(r"SHA256 ?\((.+)\) ?= ?([0-9a-fA-F]{64})[ \t]*")
_CHECKSUMS_RE = re.compile(r"(?i)(?:.*[._-])?(?:sha256sums?|sha256|checksums?)(?:\.txt)?")


def checksum_assets(release: Release, archive: str) -> list[Asset]:
    """Assets that may hold the sha256 of ``archive``: ``<archive>.sha256(sum)`` first, then
    files like ``sha256sums.txt``, ``SHA256SUMS``, ``checksums.txt``,
    ``<name>_<version>_checksums.txt``."""
    own = [a for a in release.assets if a.name in (f"{archive}.sha256", f"{archive}.sha256sum")]
    shared = [
        a
        for a in release.assets
        if a not in own and _CHECKSUMS_RE.fullmatch(a.name) and not a.name.lower().endswith((".sig", ".asc", ".pem"))
    ]
    return own + sorted(shared, key=lambda a: a.name)


def parse_checksums(text: str, archive: str) -> str | None:
    """The sha256 of ``archive`` in a checksums file: GNU ``<hex>  <file>`` (or ``*<file>``,
    ``./<file>``, ``dir/<file>``), BSD ``SHA256 (<file>) = <hex>``, or a lone ``<hex>``."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line in lines:
        m = _GNU_LINE_RE.fullmatch(line)
        if m and m.group(2).rsplit("/", 1)[-1] == archive:
            return m.group(1).lower()
        m = _BSD_LINE_RE.fullmatch(line)
        if m and m.group(1).rsplit("/", 1)[-1] == archive:
            return m.group(2).lower()
    if len(lines) == 1 and re.fullmatch(r"[0-9a-fA-F]{64}", lines[0]):
        return lines[0].lower()
    return None
