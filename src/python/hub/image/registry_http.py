"""The registry client's HTTP session: credentials bound to one origin, redirects followed by
hand, bounded retries.

urllib's own redirect handler copies every header, Authorization included, to whatever host a
307 names; a registry (or anything between it and us) could thereby collect the push
credentials. So this session:

- binds the credentials to the registry's **origin** (scheme, host, port), fixed when it
  starts: the Authorization header (Basic, or the bearer token obtained with them) goes to that
  origin only, never to another origin named by a redirect or an upload ``Location``;
- sends Basic credentials only over https, or over plain http to a loopback registry (a local
  test registry); a registry that asks for them otherwise is refused with an error;
- gives a token realm the Basic credentials only if the realm is https (or on loopback);
- retries a 5xx or 429 answer, or a broken connection, a bounded number of times with
  exponential backoff, then reports the last failure.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPMessage
from typing import IO, Callable, Mapping, Optional, Sequence, Tuple

from hub import __version__
from hub.common.errors import HubError, network_reason

Origin = Tuple[str, str, Optional[int]]  # (scheme, lower-case host, port)

CREDENTIALS_HINT = " (credentials: HUB_REGISTRY_USER/HUB_REGISTRY_PASSWORD, or `docker login`)"
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RETRY_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_ATTEMPTS = 4
MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 4 << 20  # registry answers are small JSON documents or empty
MAX_BACKOFF = 30.0  # seconds, also the most of a Retry-After we honour


def origin_of(url: str) -> Origin:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); other names are not resolved,
    since a name's address is whatever its DNS says."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def may_send_basic(url: str) -> bool:
    """Basic credentials travel in clear text: only over https, or to this machine."""
    scheme, host, _ = origin_of(url)
    return scheme == "https" or (scheme == "http" and is_loopback(host))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Every redirect comes back to :meth:`RegistrySession._exchange` as a status."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        return None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message  # as the server sent them (case-insensitive get)
    body: bytes
    url: str  # where it came from, after redirects: the base of a relative Location


class RegistrySession:
    """HTTP to one registry, ``base`` (``https://host[:port]``), for one ``repository``
    (the scope of the bearer token it asks for)."""

    def __init__(
        self,
        base: str,
        repository: str,
        *,
        credentials: tuple[str, str] | None = None,
        timeout: float = 120,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.base = base.rstrip("/")
        self.origin = origin_of(self.base)
        self.repository = repository
        self.credentials = credentials
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.authorization: str | None = None  # for self.origin only
        self.opener = urllib.request.build_opener(_NoRedirect())

    def url(self, path_or_url: str) -> str:
        """An absolute URL: a path is taken relative to the registry."""
        return urllib.parse.urljoin(self.base + "/", path_or_url)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Sequence[int] = (200,),
    ) -> Response:
        """Sends one request (following redirects, retrying failures, answering one 401
        challenge of the registry) and returns the answer, whose status must be in ``ok``."""
        url = self.url(url)
        challenged = False
        while True:
            response = self._exchange(method, url, body, headers, self.origin, self.authorization, ok)
            from_registry = origin_of(response.url) == self.origin
            if response.status == 401 and from_registry and not challenged:
                challenged = True
                if self._authenticate(response.headers.get("WWW-Authenticate", ""), response.url):
                    continue
            if response.status not in ok:
                raise HubError(_failure(method, response, self.attempts))
            return response

    def _exchange(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        auth_origin: Origin,
        authorization: str | None,
        ok: Sequence[int],
    ) -> Response:
        """Follows redirects by hand: ``authorization`` goes only to URLs of ``auth_origin``."""
        for _ in range(MAX_REDIRECTS + 1):
            sent_auth = authorization if origin_of(url) == auth_origin else None
            response = self._with_retries(method, url, body, headers, sent_auth)
            location = response.headers.get("Location")
            follow = response.status in (307, 308) or (
                response.status in REDIRECT_STATUSES and method in ("GET", "HEAD")
            )
            if response.status in ok or not follow or not location:
                return response
            url = urllib.parse.urljoin(url, location)
            if not url.startswith(("https://", "http://")):
                raise HubError(f"{method} {response.url}: redirected to {location!r}; expected an http(s) URL")
        raise HubError(f"{method} {url}: more than {MAX_REDIRECTS} redirects")

    def _with_retries(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None, authorization: str | None
    ) -> Response:
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(url, data=body, method=method)
            request.add_header("User-Agent", f"monitoring-hub/{__version__}")
            for name, value in (headers or {}).items():
                request.add_header(name, value)
            if authorization:
                request.add_header("Authorization", authorization)
            try:
                response = self._send(request)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                reason = network_reason(e.reason if isinstance(e, urllib.error.URLError) else e)
                if attempt == self.attempts:
                    raise HubError(f"{method} {url}: {reason} (after {attempt} attempts)") from None
                self.sleep(self._delay(attempt, None))
                continue
            if response.status not in RETRY_STATUSES or attempt == self.attempts:
                return response
            self.sleep(self._delay(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable")

    def _send(self, request: urllib.request.Request) -> Response:
        try:
            with self.opener.open(request, timeout=self.timeout) as resp:
                return Response(resp.status, resp.headers, resp.read(MAX_RESPONSE_BYTES), request.full_url)
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read(MAX_RESPONSE_BYTES), request.full_url)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.backoff * 2 ** (attempt - 1)
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after.strip()))
        return min(delay, MAX_BACKOFF)

    # --- authentication --------------------------------------------------------------------

    def _basic(self) -> str | None:
        if not self.credentials:
            return None
        raw = f"{self.credentials[0]}:{self.credentials[1]}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _authenticate(self, challenge: str, url: str) -> bool:
        """Answers a 401 challenge; returns whether the request is worth sending again."""
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.credentials:
                return False
            if not may_send_basic(self.base):
                raise HubError(
                    f"{url}: the registry asks for Basic credentials over plain http and {self.origin[1]} is not"
                    " a loopback address; refusing to send them in clear text (expected an https registry:"
                    " drop --insecure, or use a registry on 127.0.0.1)"
                )
            self.authorization = self._basic()
            return True
        if scheme.lower() != "bearer":
            return False
        values = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = values.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise HubError(f"{url}: the registry's bearer challenge names realm {realm!r}; expected an http(s) URL")
        basic = self._basic()
        if basic and not may_send_basic(realm):
            raise HubError(
                f"{url}: the registry's token realm {realm} is plain http on a host that is not a loopback"
                " address; refusing to send the registry credentials there (expected an https realm)"
            )
        query = {"service": values.get("service", ""), "scope": f"repository:{self.repository}:pull,push"}
        token_url = (
            realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode({k: v for k, v in query.items() if v})
        )
        response = self._exchange("GET", token_url, None, None, origin_of(realm), basic, (200,))
        if response.status != 200:
            hint = CREDENTIALS_HINT if response.status in (401, 403) else ""
            raise HubError(f"{realm}: cannot get a registry token: HTTP {response.status}{hint}")
        try:
            token = json.loads(response.body)
            value = token.get("token") or token.get("access_token")
        except (ValueError, AttributeError):
            raise HubError(f"{realm}: the token response is not a JSON object") from None
        if not value or not isinstance(value, str):
            raise HubError(f"{realm}: the token response has no token")
        self.authorization = f"Bearer {value}"
        return True


def _failure(method: str, response: Response, attempts: int) -> str:
    detail = response.body.decode("utf-8", "replace")[:500]
    hint = CREDENTIALS_HINT if response.status in (401, 403) else ""
    tried = f" after {attempts} attempts" if response.status in RETRY_STATUSES and attempts > 1 else ""
    return f"{method} {response.url}: HTTP {response.status}{tried}{hint}: {detail}"
