"""Checksums files among a release's assets, and the sha256 they give an archive.

Releases made with goreleaser, promu and the like publish the sha256 of their archives in a
**checksums file**: ``<archive>.sha256`` (or ``.sha256sum``) for one archive, or one shared
file such as ``sha256sums.txt``, ``SHA256SUMS``, ``checksums.txt`` or
``<name>_<version>_checksums.txt``, in GNU (``<hex>  <file>``) or BSD
(``SHA256 (<file>) = <hex>``) format.

Where the API lists a release's assets, :func:`checksum_assets` picks the checksums files among
them. Without the API (a mirror, an air-gapped site), :func:`conventional_checksum_names` are
the names releases publish them under, and :func:`find_published` reads the first that names
the archive. A **published** sha256 (:class:`Published`) says where it came from, so that a
mismatch (:func:`check_published`) names both digests and the source of each.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import MutableMapping, Sequence

from hub.common import http
from hub.common.errors import HubError
from hub.upstream.github import Asset, Release

MAX_CHECKSUMS_BYTES = 1 << 20
METHOD_DIGEST = "api-digest"
METHOD_CHECKSUMS = "checksums-file"

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


@dataclass(frozen=True)
class Published:
    """A sha256 the release publishes for an archive, and where it was read."""

    sha256: str
    method: str  # METHOD_DIGEST or METHOD_CHECKSUMS
    source: str  # "the GitHub API's digest of <asset>", or the checksums file's URL


def check_published(url: str, actual: str, published: Published | None) -> None:
    """Refuses an archive whose sha256 is not the one its release publishes."""
    if published is not None and actual != published.sha256:
        raise HubError(
            f"sha256 mismatch for {url}: the archive's sha256 is {actual}, but {published.source} "
            f"gives {published.sha256}; refusing to pin it (expected the published digest)"
        )


def conventional_checksum_names(archive: str, names: Sequence[str], clean_version: str) -> list[str]:
    """The names releases publish checksums files under, for when no API lists the assets:
    ``<archive>.sha256(sum)``, ``sha256sums.txt`` (promu), ``SHA256SUMS``, ``checksums.txt``
    and ``<name>_<version>_checksums.txt`` (goreleaser) for each of ``names`` (the exporter's
    name, the repository's)."""
    candidates = [f"{archive}.sha256", f"{archive}.sha256sum", "sha256sums.txt", "SHA256SUMS", "checksums.txt"]
    candidates += [f"{name}_{clean_version}_checksums.txt" for name in names]
    return list(dict.fromkeys(candidates))


def find_published(
    base_url: str,
    archive: str,
    names: Sequence[str],
    *,
    timeout: float,
    cache: MutableMapping[str, str | None] | None = None,
) -> Published | None:
    """The sha256 of ``archive`` from the first of the checksums files ``names`` under
    ``base_url`` (a release's download directory, or a mirror's copy of it) that lists it;
    None when none does. A file that is not there is skipped; any other failure is an error.
    ``cache`` keeps each file read (or found missing) for the release's other archives."""
    cache = {} if cache is None else cache
    for name in names:
        url = f"{base_url.rstrip('/')}/{name}"
        if url not in cache:
            cache[url] = _read_optional(url, timeout)
        text = cache[url]
        found = parse_checksums(text, archive) if text is not None else None
        if found:
            return Published(found, METHOD_CHECKSUMS, f"the checksums file {url}")
    return None


def _read_optional(url: str, timeout: float) -> str | None:
    """A small text file at ``url`` (http(s) or file), or None when it does not exist."""
    if url.startswith("file:"):
        path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
        if not os.path.isfile(path):
            return None
    try:
        body = http.get(url, max_bytes=MAX_CHECKSUMS_BYTES, timeout=timeout).body
    except http.HttpStatusError as e:
        if e.status == 404:
            return None
        raise
    return body.decode("utf-8", errors="replace")
