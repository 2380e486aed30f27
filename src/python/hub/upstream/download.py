"""Verified downloads of upstream archives, and the mirror rewrite of their URLs.

A **mirror** stands in for GitHub's release downloads (an air-gapped site's copy, or the
offline mirror of :mod:`hub.upstream.mirror`): :func:`mirror_url` replaces the
``https://github.com/`` prefix of a canonical URL with it. :func:`download` streams a URL to a
file and checks its sha256 and size; nothing is left behind when it fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hub import __version__
from hub.common.errors import HubError
from hub.manifest.model import GITHUB_PREFIX

DEFAULT_MAX_SIZE = 1 << 30  # 1 GiB: the largest exporter release is ~120 MB
DEFAULT_TIMEOUT = 60.0  # seconds without progress
CHUNK_SIZE = 1 << 20
MIRROR_ENV = "PANTS_HUB_UPSTREAM_MIRROR"


@dataclass(frozen=True)
class Downloaded:
    sha256: str
    size: int


def mirror_url(url: str, mirror: str | None) -> str:
    """Replaces the ``https://github.com/`` prefix of ``url`` with ``mirror``, keeping the path.

    ``mirror`` may end with '/' or not. A mirror without a scheme is a local directory (turned
    into a file:// URL). URLs that are not on GitHub, or an empty mirror, are left unchanged.
    """
    if not mirror or not url.startswith(GITHUB_PREFIX):
        return url
    base = mirror if "://" in mirror else Path(os.path.abspath(mirror)).as_uri()
    if not base.endswith("/"):
        base += "/"
    return base + url[len(GITHUB_PREFIX) :]


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    timeout: float = DEFAULT_TIMEOUT,
) -> Downloaded:
    """Streams ``url`` to ``dest`` (through a temporary file, then rename) and verifies it.

    On any failure, including a sha256 or size mismatch, HubError is raised and nothing is left
    behind (an existing ``dest`` is untouched).
    """
    dest = os.fspath(dest)
    directory = os.path.dirname(os.path.abspath(dest))
    limit = min(max_size, expected_size) if expected_size is not None else max_size
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".part", dir=directory)
    except OSError as e:
        raise HubError(f"cannot write {dest}: {e.strerror or e}") from None
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": f"monitoring-hub/{__version__}"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    length = response.headers.get("Content-Length")
                    if length is not None and length.strip().isdigit():
                        _check_size(url, int(length), expected_size, max_size)
                    while True:
                        chunk = response.read(CHUNK_SIZE)
                        if not chunk:
                            break
                        size += len(chunk)
                        if size > limit:
                            _check_size(url, size, expected_size, max_size, at_least=True)
                        digest.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as e:
                raise HubError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
            except urllib.error.URLError as e:
                raise HubError(f"cannot download {url}: {e.reason}") from None
            except (OSError, http.client.HTTPException) as e:
                raise HubError(f"cannot download {url}: {e or type(e).__name__}") from None
            out.flush()
            os.fsync(out.fileno())
        _check_size(url, size, expected_size, max_size)
        actual = digest.hexdigest()
        if expected_sha256 is not None and actual != expected_sha256.lower():
            raise HubError(f"sha256 mismatch for {url}: expected {expected_sha256.lower()}, got {actual}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Downloaded(actual, size)


def _check_size(url: str, size: int, expected: int | None, max_size: int, *, at_least: bool = False) -> None:
    got = f"at least {size}" if at_least else f"{size}"
    if expected is not None and size != expected:
        raise HubError(f"size mismatch for {url}: expected {expected} bytes, got {got}")
    if size > max_size:
        raise HubError(f"{url} is larger than the limit of {max_size} bytes (got {got})")


def sha256_file(path: str) -> Downloaded:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            digest.update(chunk)
            size += len(chunk)
    return Downloaded(digest.hexdigest(), size)
