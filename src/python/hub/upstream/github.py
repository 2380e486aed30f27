"""A small client for the parts of GitHub's REST API that ``update-upstreams`` reads.

* :class:`Release` and :class:`Asset`: a release as the API describes it (tag, flags, the
  ``published_at`` date, the assets with their size, ``digest`` and download URL); answers
  that do not fit are skipped rather than trusted;
* :class:`GitHubClient`: GET with the API's headers (``GITHUB_TOKEN`` as a Bearer token, sent
  to the API's origin only, even across redirects), every page of a list (RFC 8288 ``Link``
  headers, :func:`next_link`), and **rate limits** (HTTP 403/429 with
  ``x-ratelimit-remaining: 0`` or ``retry-after``) waited out only within ``max_wait`` seconds
  in total; once a limit is hit, later requests fail fast until it resets;
* :class:`GitHubError` (the message names the URL), :class:`NotFound`, :class:`RateLimited`.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPMessage
from typing import IO, Any, Callable, Mapping

from hub import __version__
from hub.common import http
from hub.common.dates import format_source_date
from hub.common.errors import HubError

__all__ = [
    "Asset",
    "GitHubClient",
    "GitHubError",
    "NotFound",
    "RateLimited",
    "Release",
    "next_link",
]

DEFAULT_API_URL = "https://api.github.com"
TOKEN_ENV = "GITHUB_TOKEN"
API_VERSION = "2022-11-28"
DEFAULT_TIMEOUT = 30.0
MAX_PAGES = 30  # 100 releases per page
MAX_API_BYTES = 32 << 20
USER_AGENT = f"monitoring-hub/{__version__} (update-upstreams)"


class GitHubError(HubError):
    """The API answered with an error (or not at all): the message names the URL."""


class NotFound(GitHubError):
    pass


class RateLimited(GitHubError):
    def __init__(self, message: str, reset_at: float | None):
        super().__init__(message)
        self.reset_at = reset_at


@dataclass(frozen=True)
class Asset:
    name: str
    size: int | None
    digest: str | None  # "sha256:<hex>" when GitHub knows it
    download_url: str  # browser_download_url
    api_url: str | None


@dataclass(frozen=True)
class Release:
    tag: str
    name: str | None
    draft: bool
    prerelease: bool
    published_at: str | None
    html_url: str | None
    assets: tuple[Asset, ...]

    def asset(self, name: str) -> Asset | None:
        return next((a for a in self.assets if a.name == name), None)


def _origin(url: str) -> tuple[str, str]:
    p = urllib.parse.urlsplit(url)
    return (p.scheme.lower(), p.netloc.lower())


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects (a renamed repository answers 301) but never carries the token to
    another origin."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


_LINK_RE = re.compile(r'<([^>]*)>\s*((?:;\s*[A-Za-z]+\s*=\s*(?:"[^"]*"|[^;,]*)\s*)*)')


def next_link(header: str | None) -> str | None:
    """The rel="next" URL of an RFC 8288 Link header (GitHub's pagination)."""
    if not header:
        return None
    for m in _LINK_RE.finditer(header):
        for param in re.finditer(r';\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))', m.group(2)):
            rels = (param.group(1) or param.group(2) or "").split()
            if "next" in rels:
                return m.group(1)
    return None


class GitHubClient:
    """A small client for the parts of GitHub's REST API the update needs."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_wait: float = 0.0,
        max_pages: int = MAX_PAGES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        if not re.match(r"^https?://[^/\s]+", api_url or ""):
            raise HubError(f"--api-url: expected an http(s) URL, got {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self.token = token or None
        self.timeout = timeout
        self.max_wait = max(0.0, max_wait)
        self.max_pages = max_pages
        self.sleep = sleep
        self.clock = clock
        self.waited = 0.0  # seconds slept on rate limits so far (bounded by max_wait)
        self._blocked: RateLimited | None = None
        self._opener = urllib.request.build_opener(_RedirectHandler)
        self.requests = 0

    # -- transport ---------------------------------------------------------------------------

    def _headers(self, url: str) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Api-Version": API_VERSION,
        }
        if self.token and _origin(url) == _origin(self.api_url):
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def get(self, url: str) -> tuple[Any, Mapping[str, str]]:
        """GET one API URL: (parsed JSON, response headers). Waits out a rate limit within
        ``max_wait`` in total; raises GitHubError/NotFound/RateLimited otherwise."""
        while True:
            if self._blocked is not None:
                reset_at = self._blocked.reset_at
                if reset_at is None or self.clock() < reset_at:
                    raise RateLimited(f"{url}: not asked: {self._blocked}", reset_at)
                self._blocked = None
            self.requests += 1
            try:
                response = http.get(
                    url,
                    max_bytes=MAX_API_BYTES,
                    timeout=self.timeout,
                    headers=self._headers(url),
                    opener=self._opener.open,
                    service="the GitHub API",
                    error=GitHubError,
                )
            except http.HttpStatusError as e:
                wait = self._handle_http_error(url, e)
                self.sleep(wait)
                self.waited += wait
                continue
            try:
                return json.loads(response.body.decode("utf-8")), response.headers
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise GitHubError(f"{url}: the API returned invalid JSON ({e})") from None

    def _handle_http_error(self, url: str, e: http.HttpStatusError) -> float:
        """Seconds to wait before retrying a rate-limited request, or raises."""
        headers = e.headers
        message = _api_message(e.body)
        detail = f": {message}" if message else ""
        if e.status in (403, 429) and (headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers):
            now = self.clock()
            wait: float | None = None
            reset_at: float | None = None
            retry_after = headers.get("retry-after", "").strip()
            reset = headers.get("x-ratelimit-reset", "").strip()
            if retry_after.isdigit():
                wait = float(retry_after)
                reset_at = now + wait
            elif reset.isdigit():
                reset_at = float(reset)
                wait = max(0.0, reset_at - now) + 1.0  # a second of margin for clock skew
            if wait is not None and self.waited + wait <= self.max_wait:
                return wait
            when = (
                f"resets at {format_source_date(int(reset_at))} (in {int(max(0.0, reset_at - now))} s)"
                if reset_at is not None
                else "reset time unknown"
            )
            hint = "" if self.token else f"; set {TOKEN_ENV} for a higher limit"
            error = RateLimited(
                f"GitHub API rate limit exceeded (HTTP {e.status}) for {url}: {when}{hint}; "
                f"--max-wait allows waiting up to {self.max_wait:g} s in total",
                reset_at,
            )
            self._blocked = error
            raise error
        if e.status == 404:
            raise NotFound(f"{url}: not found (HTTP 404){detail}")
        if e.status == 401:
            raise GitHubError(f"{url}: HTTP 401: GitHub rejected the token in {TOKEN_ENV}{detail}")
        raise GitHubError(f"{url}: HTTP {e.status} {e.reason}{detail}")

    # -- endpoints ---------------------------------------------------------------------------

    def _repo_url(self, repo: str, suffix: str = "") -> str:
        owner, name = repo.split("/", 1)
        return f"{self.api_url}/repos/{urllib.parse.quote(owner)}/{urllib.parse.quote(name)}{suffix}"

    def releases(self, repo: str) -> list[Release]:
        """Every release of ``repo``, following the Link rel="next" pages."""
        url: str | None = self._repo_url(repo, "/releases?per_page=100")
        out: list[Release] = []
        pages = 0
        try:
            while url is not None:
                pages += 1
                if pages > self.max_pages:
                    raise GitHubError(f"{repo}: more than {self.max_pages} pages of releases; stopped")
                data, headers = self.get(url)
                if not isinstance(data, list):
                    raise GitHubError(f"{url}: expected a list of releases, got {type(data).__name__}")
                out.extend(r for r in map(_release, data) if r is not None)
                following = next_link(headers.get("link"))
                url = urllib.parse.urljoin(url, following) if following else None
        except NotFound:
            raise NotFound(
                f"{repo}: repository not found on GitHub (HTTP 404 from {self._repo_url(repo, '/releases')}): "
                "renamed, deleted or private? fix upstream.repo"
            ) from None
        return out

    def release(self, repo: str, tag: str) -> Release:
        """The release tagged ``tag`` (drafts are not visible here)."""
        url = self._repo_url(repo, f"/releases/tags/{urllib.parse.quote(tag, safe='')}")
        try:
            data, _ = self.get(url)
        except NotFound:
            raise NotFound(f"{repo}: no release tagged {tag!r} on GitHub (HTTP 404 from {url})") from None
        found = _release(data)
        if found is None:
            raise GitHubError(f"{url}: expected a release object")
        return found

    def repository(self, repo: str) -> Mapping[str, Any]:
        url = self._repo_url(repo)
        try:
            data, _ = self.get(url)
        except NotFound:
            raise NotFound(f"{repo}: repository not found on GitHub (HTTP 404 from {url})") from None
        if not isinstance(data, dict):
            raise GitHubError(f"{url}: expected a repository object")
        return data


def _clean_text(text: str, limit: int = 200) -> str:
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _api_message(body: bytes) -> str:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return _clean_text(message) if isinstance(message, str) else ""


def _release(data: Any) -> Release | None:
    if not isinstance(data, dict) or not isinstance(data.get("tag_name"), str):
        return None
    assets = []
    for a in data.get("assets") or []:
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("name"), str)
            or not isinstance(a.get("browser_download_url"), str)
        ):
            continue
        size = a.get("size")
        digest = a.get("digest")
        assets.append(
            Asset(
                name=a["name"],
                size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                digest=digest if isinstance(digest, str) else None,
                download_url=a["browser_download_url"],
                api_url=a.get("url") if isinstance(a.get("url"), str) else None,
            )
        )
    published = data.get("published_at")
    html_url = data.get("html_url")
    return Release(
        tag=data["tag_name"],
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        draft=data.get("draft") is True,
        prerelease=data.get("prerelease") is True,
        published_at=published if isinstance(published, str) else None,
        html_url=html_url if isinstance(html_url, str) else None,
        assets=tuple(assets),
    )
