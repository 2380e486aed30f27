"""Download one pinned upstream archive, verified: `fetch_archive.py URL SHA256 SIZE OUT`.

The plugin runs this script as a cached process (hub_plugin/upstream.py) rather than through
Pants' `DownloadFile`, whose result lives only in the local store: a process's output also goes
to the remote cache, so a machine that reads it gets the archive from there and never contacts
the upstream or the mirror. It is a PEX of this one file, with no requirement and no import of
the engine, so editing the engine never downloads an archive again.

Standard library only (the plugin's Python 3.9 runs its tests). Writes OUT only when the bytes
have the pinned size and sha256; exit status 1 with the reason on stderr otherwise.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Sequence

CHUNK = 1 << 20
ATTEMPTS = 3  # transient network errors only; a wrong digest is never retried
TIMEOUT = 60.0
USER_AGENT = "monitoring-hub-fetch"


class FetchError(Exception):
    pass


def _download_once(url: str, out: str, size: int) -> str:
    digest = hashlib.sha256()
    got = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response, open(out, "wb") as f:  # noqa: S310
        while True:
            chunk = response.read(CHUNK)
            if not chunk:
                break
            got += len(chunk)
            if got > size:
                raise FetchError(f"size mismatch for {url}: expected {size} bytes, got more")
            digest.update(chunk)
            f.write(chunk)
    if got != size:
        raise FetchError(f"size mismatch for {url}: expected {size} bytes, got {got}")
    return digest.hexdigest()


def fetch(url: str, sha256: str, size: int, out: str, *, attempts: int = ATTEMPTS, pause: float = 1.0) -> None:
    """Downloads `url` to `out` and checks its size and sha256; FetchError on any failure
    (and `out` is removed)."""
    for attempt in range(1, attempts + 1):
        try:
            actual = _download_once(url, out, size)
            break
        except FetchError:
            os.unlink(out)
            raise
        except urllib.error.HTTPError as e:
            if os.path.exists(out):
                os.unlink(out)
            if e.code < 500 or attempt == attempts:
                raise FetchError(f"cannot download {url}: HTTP {e.code} {e.reason}") from None
        except (OSError, urllib.error.URLError) as e:
            if os.path.exists(out):
                os.unlink(out)
            if attempt == attempts:
                reason = getattr(e, "reason", None) or e
                raise FetchError(f"cannot download {url}: {reason}") from None
        time.sleep(pause * attempt)
    if actual != sha256.lower():
        os.unlink(out)
        raise FetchError(f"sha256 mismatch for {url}: expected {sha256.lower()}, got {actual}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 4 or not args[2].isdigit():
        print("usage: fetch_archive.py URL SHA256 SIZE OUT", file=sys.stderr)
        return 2
    url, sha256, size, out = args
    try:
        fetch(url, sha256, int(size), out)
    except FetchError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
