"""The engine's one bounded HTTP GET: a size cap, a timeout, and errors that say what failed.

Used to read a deployed catalog (``hub state``) and GitHub's REST API (``update-upstreams``).
A response larger than the cap is refused rather than read whole; network failures become
a HubError naming the URL; an HTTP error status becomes :class:`HttpStatusError`, which the
caller may handle (a 404 for an optional document, a rate limit to wait out).
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from hub import __version__
from hub.common.errors import HubError, network_reason

USER_AGENT = f"monitoring-hub/{__version__}"
MAX_ERROR_BODY = 64 << 10  # what an error response may tell us (GitHub's message)

Opener = Callable[..., Any]  # urllib.request.urlopen, or an OpenerDirector's open


class HttpStatusError(HubError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, reason: str, headers: Mapping[str, str], body: bytes):
        self.url, self.status, self.reason = url, status, reason
        self.headers = headers  # lower-case names
        self.body = body  # at most MAX_ERROR_BODY bytes
        super().__init__(f"cannot fetch {url}: HTTP {status} {reason}")


@dataclass(frozen=True)
class Response:
    body: bytes
    headers: Mapping[str, str]  # lower-case names


def get(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    opener: Opener = urllib.request.urlopen,
    service: str = "",
    error: type[HubError] = HubError,
) -> Response:
    """GETs ``url``, reading at most ``max_bytes`` of its body. ``service`` names the server
    in messages ("the GitHub API"): "cannot reach the GitHub API at <url>: <reason>". Failures
    other than an HTTP status are raised as ``error``."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    where = f"{service} at {url}" if service else url
    try:
        with opener(request, timeout=timeout) as response:
            body = response.read(max_bytes + 1)
            response_headers = {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as e:
        try:
            error_body = e.read(MAX_ERROR_BODY)
        except Exception:  # noqa: BLE001 - the body only adds detail to the message
            error_body = b""
        error_headers = {k.lower(): v for k, v in (e.headers or {}).items()}
        raise HttpStatusError(url, e.code, str(e.reason), error_headers, error_body) from None
    except urllib.error.URLError as e:
        raise error(f"cannot reach {where}: {network_reason(e.reason)}") from None
    except TimeoutError:
        raise error(f"cannot fetch {url}: timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as e:
        raise error(f"cannot fetch {url}: {network_reason(e)}") from None
    if len(body) > max_bytes:
        raise error(f"{url}: the response is larger than {max_bytes} bytes")
    return Response(body, response_headers)
