"""`hub update-upstreams`: bump manifests to the newest upstream release and refresh their locks.

For each manifest whose ``upstream.strategy`` is ``latest_release`` (``pinned`` ones are never
touched, nor are local upstreams), the GitHub releases API (``--api-url``, default
https://api.github.com; ``GITHUB_TOKEN`` is sent as a Bearer token when set) is read, every
page of it, and the newest release is chosen **by semantic version** (not by date): drafts,
releases flagged prerelease, tags with a semver prerelease part (``v2.0.0-rc.1``) and tags that
do not fit the manifest's ``upstream.tag`` pattern are skipped.

When that release is newer than the manifest's version:

1. the manifest's top-level ``version:`` line is rewritten in place: only the value changes,
   so comments, anchors, quoting and the rest of the file stay as they were; the result is
   reloaded with :func:`hub.manifest.load.load_manifest` before it replaces the file;
2. the lock (``upstream.lock.json``) pins every built arch's asset, named by
   ``Manifest.archive_name(arch)``, at its canonical ``https://github.com/...`` URL. The
   sha256 comes, in this order, from the asset's ``digest`` field in the API ("api-digest"),
   from a checksums file among the release's assets such as ``sha256sums.txt`` or
   ``<name>_<version>_checksums.txt`` ("checksums-file"), or from downloading the asset
   ("download"); the size is the asset's. ``source_date`` is the newest archive member mtime
   when every archive was downloaded (``--download`` forces that, as ``update-lock`` does),
   otherwise the release's ``published_at``. ``update-lock --force`` recomputes it from the
   bytes at any time.

A manifest without ``license`` gets the SPDX id GitHub reports for the repository (never
``NOASSERTION``). Downloads use the asset's ``browser_download_url``, or the mirror
(``--mirror``, same rewrite as :func:`hub.upstream.download.mirror_url`) applied to the canonical URL.

Failures are per exporter (a missing asset, a repository gone, a rate limit): the others go on,
the summary lists them, and the exit code is 1. A rate limit (HTTP 403/429 with
``x-ratelimit-remaining: 0`` or ``retry-after``) is waited out only within ``--max-wait``
seconds (default 0: report it and go on); the exporters after it fail fast without a request
until the limit resets. Bad input (a manifest) exits 2 before anything is asked.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from hub import __version__
from hub.common import files, http
from hub.common.errors import HubError
from hub.common.semver import SEMVER_PATTERN, SemVer, is_semver, parse_semver
from hub.manifest.load import load_manifest
from hub.manifest.model import GITHUB_PREFIX, Manifest
from hub.upstream.download import download, mirror_url
from hub.upstream.lock import Lock, LockedArchive, lock_path_for, write_lock
from hub.upstream.source_date import source_date_of
from hub.common.dates import format_source_date, parse_source_date

__all__ = [
    "Asset",
    "GitHubClient",
    "GitHubError",
    "RateLimited",
    "Release",
    "UpdateResult",
    "bump_manifest_text",
    "newest_release",
    "summary_markdown",
    "update_exporter",
    "version_of_tag",
]

DEFAULT_API_URL = "https://api.github.com"
TOKEN_ENV = "GITHUB_TOKEN"
API_VERSION = "2022-11-28"
DEFAULT_TIMEOUT = 30.0
MAX_PAGES = 30  # 100 releases per page
MAX_API_BYTES = 32 << 20
MAX_CHECKSUMS_BYTES = 1 << 20
USER_AGENT = f"monitoring-hub/{__version__} (update-upstreams)"

METHOD_DIGEST = "api-digest"
METHOD_CHECKSUMS = "checksums-file"
METHOD_DOWNLOAD = "download"


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


# --------------------------------------------------------------------------------------------
# The GitHub REST client
# --------------------------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str]:
    p = urllib.parse.urlsplit(url)
    return (p.scheme.lower(), p.netloc.lower())


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects (a renamed repository answers 301) but never carries the token to
    another origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
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
                response = http.get(url, max_bytes=MAX_API_BYTES, timeout=self.timeout, headers=self._headers(url),
                                    opener=self._opener.open, service="the GitHub API", error=GitHubError)
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
        if not isinstance(a, dict) or not isinstance(a.get("name"), str) or not isinstance(a.get("browser_download_url"), str):
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


# --------------------------------------------------------------------------------------------
# Choosing the release
# --------------------------------------------------------------------------------------------

_TAG_PLACEHOLDER_RE = re.compile(r"\{(name|version|clean_version)\}")


def _group_free(pattern: str) -> str:
    """SEMVER_PATTERN without its named groups, to embed it several times."""
    return re.sub(r"\(\?P<[a-z]+>", "(?:", pattern)


def version_of_tag(manifest: Manifest, tag: str) -> str | None:
    """The manifest ``version`` a release tag stands for, under ``upstream.tag``; None when the
    tag does not fit the pattern or is not a semantic version.

    With ``{version}`` in the pattern the tag's own spelling is kept (``v1.2.3`` or ``1.2.3``, as
    upstream tags it); with only ``{clean_version}``, the manifest's current style of leading
    "v" is kept.
    """
    template = manifest.upstream.tag
    body = _group_free(SEMVER_PATTERN)
    parts: list[str] = []
    seen: set[str] = set()
    pos = 0
    for m in _TAG_PLACEHOLDER_RE.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        key = m.group(1)
        if key == "name":
            parts.append(re.escape(manifest.name))
        elif key in seen:
            parts.append(f"(?P={key})")
        else:
            seen.add(key)
            parts.append(f"(?P<{key}>{body})")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    if not seen:
        raise HubError(
            f"{manifest.path}: upstream.tag: {template!r} has no {{version}} or {{clean_version}}, "
            "so release tags cannot tell versions apart"
        )
    m = re.fullmatch("".join(parts), tag)
    if m is None:
        return None
    if "version" in seen:
        version = m.group("version")
    else:
        clean = m.group("clean_version")
        version = ("v" + clean) if manifest.version.startswith("v") else clean
    if not is_semver(version):
        return None
    candidate = dataclasses.replace(manifest, version=version)
    if candidate.tag != tag:  # {version} and {clean_version} disagree
        return None
    return version


def newest_release(manifest: Manifest, releases: Sequence[Release]) -> tuple[Release, str] | None:
    """The newest stable release by semantic version, with the manifest version it stands for."""
    best: tuple[SemVer, Release, str] | None = None
    for release in releases:
        if release.draft or release.prerelease:
            continue
        version = version_of_tag(manifest, release.tag)
        if version is None:
            continue
        v = parse_semver(version)
        if v.is_prerelease:
            continue  # a semver prerelease is not a release, whatever the flag says
        if best is None or v > best[0]:
            best = (v, release, version)
    return (best[1], best[2]) if best is not None else None


# --------------------------------------------------------------------------------------------
# Editing the manifest in place
# --------------------------------------------------------------------------------------------

_VERSION_LINE_RE = re.compile(
    r"^(?P<head>version:[ \t]*(?P<anchor>&[^\s]+[ \t]+)?)(?P<q>[\"']?)(?P<value>[^\s\"'#]+)(?P=q)"
    r"(?P<tail>[ \t]*(?:#[^\r\n]*)?)(?P<eol>\r?)$",
    re.M,
)
_LICENSE_LINE_RE = re.compile(
    r"^license:[ \t]*(?:null|Null|NULL|~)?(?P<tail>[ \t]*(?:#[^\r\n]*)?)(?P<eol>\r?)$", re.M
)


def bump_manifest_text(text: str, old_version: str, new_version: str, *, license: str | None = None,
                       file: str = "manifest.yaml") -> str:
    """``text`` with the top-level ``version:`` value replaced (quoting, anchor and comment
    kept), and a ``license:`` line set when ``license`` is given. HubError when the line is
    not found exactly once."""
    matches = list(_VERSION_LINE_RE.finditer(text))
    if len(matches) != 1:
        found = "no" if not matches else "more than one"
        raise HubError(f"{file}: version: found {found} top-level `version: <value>` line to rewrite; edit it by hand")
    m = matches[0]
    if m.group("value") != old_version:
        raise HubError(f"{file}: version: the line says {m.group('value')!r}, the manifest {old_version!r}; edit it by hand")
    new_line = f"{m.group('head')}{m.group('q')}{new_version}{m.group('q')}{m.group('tail')}{m.group('eol')}"
    out = text[: m.start()] + new_line + text[m.end() :]
    if license is not None:
        lm = _LICENSE_LINE_RE.search(out)
        if lm is not None:
            out = out[: lm.start()] + f"license: {license}{lm.group('tail')}{lm.group('eol')}" + out[lm.end() :]
        else:
            vm = _VERSION_LINE_RE.search(out)
            assert vm is not None
            newline = vm.group("eol") + "\n"  # the file's own line ending
            if out[vm.end() : vm.end() + 1] == "\n":
                end = vm.end() + 1
                out = out[:end] + f"license: {license}{newline}" + out[end:]
            else:  # the version line is the last one, without a line ending
                out = out + newline + f"license: {license}{newline}"
    return out


def _write_manifest(manifest: Manifest, new_text: str, new_version: str, license: str | None) -> None:
    """Writes the edited manifest atomically, keeping its mode, once the temporary file reloads
    as exactly the old manifest with the new version (and license). The temporary file is in
    the same directory, so relative paths in it resolve the same way."""
    path = manifest.path

    def changed_only_the_version(tmp: Path) -> None:
        reloaded = load_manifest(tmp, display_path=f"{path} (after the update)")
        expected = dataclasses.replace(manifest, version=new_version, license=license or manifest.license)
        actual = dataclasses.replace(reloaded, path=manifest.path)
        anchored = bool(re.search(r"^version:[ \t]*&", new_text, re.M))
        if actual.version != new_version or actual.license != expected.license or (actual != expected and not anchored):
            raise HubError(f"{path}: rewriting the version line changed more than the version; edit it by hand")

    files.write_atomic(path, new_text.encode("utf-8"), mode=files.KEEP_MODE, durable=True,
                       check=changed_only_the_version)


# --------------------------------------------------------------------------------------------
# Pinning the assets
# --------------------------------------------------------------------------------------------

_DIGEST_RE = re.compile(r"sha256:([0-9a-fA-F]{64})")
_GNU_LINE_RE = re.compile(r"([0-9a-fA-F]{64})[ \t]+\*?(\S.*?)[ \t]*")
_BSD_LINE_RE = re.compile(r"SHA256 ?\((.+)\) ?= ?([0-9a-fA-F]{64})[ \t]*")
_CHECKSUMS_RE = re.compile(r"(?i)(?:.*[._-])?(?:sha256sums?|sha256|checksums?)(?:\.txt)?")


def checksum_assets(release: Release, archive: str) -> list[Asset]:
    """Assets that may hold the sha256 of ``archive``: ``<archive>.sha256(sum)`` first, then
    files like ``sha256sums.txt``, ``SHA256SUMS``, ``checksums.txt``,
    ``<name>_<version>_checksums.txt``."""
    own = [a for a in release.assets if a.name in (f"{archive}.sha256", f"{archive}.sha256sum")]
    shared = [
        a for a in release.assets
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


@dataclass
class PinnedAsset:
    arch: str
    name: str
    url: str  # canonical
    sha256: str | None  # None in a dry run when it would be downloaded
    size: int | None
    method: str

    def to_json(self) -> dict[str, Any]:
        return {"arch": self.arch, "name": self.name, "url": self.url, "sha256": self.sha256,
                "size": self.size, "method": self.method}


class _Pinner:
    """Pins one release's assets; caches the checksums files it reads."""

    def __init__(self, manifest: Manifest, release: Release, tmp: str, *, mirror: str | None,
                 download_all: bool, dry_run: bool, timeout: float):
        self.manifest = manifest
        self.release = release
        self.tmp = tmp
        self.mirror = mirror
        self.download_all = download_all
        self.dry_run = dry_run
        self.timeout = timeout
        self._checksums: dict[str, str] = {}
        self.dates: list[int] = []

    def url_of(self, asset: Asset) -> str:
        """Where to download an asset: the mirror applied to its canonical URL, or the API's
        browser_download_url."""
        if self.mirror:
            repo = self.manifest.upstream.repo
            canonical = f"{GITHUB_PREFIX}{repo}/releases/download/{self.release.tag}/{asset.name}"
            return mirror_url(canonical, self.mirror)
        return asset.download_url

    def _checksums_text(self, asset: Asset) -> str:
        if asset.name not in self._checksums:
            dest = os.path.join(self.tmp, f"checksums-{len(self._checksums)}")
            expected = _DIGEST_RE.fullmatch(asset.digest or "")
            download(self.url_of(asset), dest, max_size=MAX_CHECKSUMS_BYTES, timeout=self.timeout,
                     expected_sha256=expected.group(1).lower() if expected else None)
            with open(dest, "rb") as f:
                self._checksums[asset.name] = f.read().decode("utf-8", errors="replace")
        return self._checksums[asset.name]

    def pin(self, arch: str, asset: Asset, canonical: str) -> PinnedAsset:
        """sha256 from the API digest, else a checksums file, else the bytes; downloads only
        when needed (or asked). A dry run downloads nothing and reports the planned method."""
        digest = _DIGEST_RE.fullmatch(asset.digest or "")
        sha256: str | None = digest.group(1).lower() if digest else None
        method = METHOD_DIGEST if sha256 else ""
        if sha256 is None:
            candidates = checksum_assets(self.release, asset.name)
            if candidates and self.dry_run:
                method = METHOD_CHECKSUMS  # planned: the file is not read in a dry run
            for candidate in candidates if not self.dry_run else ():
                found = parse_checksums(self._checksums_text(candidate), asset.name)
                if found:
                    sha256, method = found, METHOD_CHECKSUMS
                    break
        if self.dry_run:
            planned = METHOD_DOWNLOAD if self.download_all or not method else method
            return PinnedAsset(arch, asset.name, canonical, sha256, asset.size, planned)
        if self.download_all or sha256 is None:
            dest = os.path.join(self.tmp, f"{arch}-{asset.name}")
            got = download(self.url_of(asset), dest, expected_sha256=sha256, expected_size=asset.size,
                           timeout=self.timeout)
            self.dates.append(source_date_of(dest))
            how = f"{METHOD_DOWNLOAD} (matches {method})" if method else METHOD_DOWNLOAD
            return PinnedAsset(arch, asset.name, canonical, got.sha256, got.size, how)
        if asset.size is None:
            raise HubError(f"release {self.release.tag}: asset {asset.name} has no size in the API answer; use --download")
        return PinnedAsset(arch, asset.name, canonical, sha256, asset.size, method)


# --------------------------------------------------------------------------------------------
# One exporter
# --------------------------------------------------------------------------------------------


@dataclass
class UpdateResult:
    exporter: str
    manifest: str
    strategy: str
    status: str  # updated | available (dry run) | up-to-date | skipped | error
    old_version: str
    new_version: str | None = None
    tag: str | None = None
    release_url: str | None = None
    source_date: str | None = None
    license: str | None = None  # set from the GitHub API by this run
    assets: list[PinnedAsset] = field(default_factory=list)
    message: str | None = None  # why skipped / up to date / the error

    def to_json(self) -> dict[str, Any]:
        return {
            "exporter": self.exporter,
            "manifest": self.manifest,
            "strategy": self.strategy,
            "status": self.status,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "tag": self.tag,
            "release_url": self.release_url,
            "source_date": self.source_date,
            "license": self.license,
            "assets": [a.to_json() for a in self.assets],
            "message": self.message,
        }


def _license_from_api(client: GitHubClient, repo: str) -> str | None:
    data = client.repository(repo)
    lic = data.get("license")
    spdx = lic.get("spdx_id") if isinstance(lic, dict) else None
    if isinstance(spdx, str) and spdx != "NOASSERTION" and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]*", spdx):
        return spdx
    return None


def update_exporter(
    manifest: Manifest,
    client: GitHubClient,
    *,
    mirror: str | None = None,
    dry_run: bool = False,
    download_all: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> UpdateResult:
    """Checks one exporter and, unless ``dry_run``, bumps its manifest and lock. Errors of this
    exporter (API, assets, downloads) end up in the result, never raised."""
    result = UpdateResult(manifest.name, manifest.path, manifest.upstream.strategy, "up-to-date", manifest.version)
    if manifest.upstream.strategy == "pinned":
        result.status, result.message = "skipped", "upstream.strategy is pinned: never bumped automatically"
        return result
    if manifest.upstream.repo is None:
        result.status, result.message = "skipped", "local upstream (upstream.local): no releases to ask"
        return result
    repo = manifest.upstream.repo
    try:
        current = parse_semver(manifest.version, what=f"{manifest.path}: version")
        found = newest_release(manifest, client.releases(repo))
        if found is None:
            raise HubError(
                f"{repo}: no stable release whose tag fits upstream.tag {manifest.upstream.tag!r} "
                "(drafts, prereleases and non-semver tags are skipped)"
            )
        release, new_version = found
        new_license = None
        if manifest.license is None:
            new_license = _license_from_api(client, repo)
            result.license = new_license
        result.tag, result.release_url = release.tag, release.html_url
        if parse_semver(new_version) <= current:
            ahead = parse_semver(new_version) < current
            result.message = (
                f"the newest stable release is {new_version}" + (" (the manifest is ahead of it)" if ahead else "")
            )
            result.tag, result.release_url = None, None
            if new_license is not None and not dry_run:
                text = _read_text(manifest.path)
                new_text = bump_manifest_text(text, manifest.version, manifest.version,
                                              license=new_license, file=manifest.path)
                _write_manifest(manifest, new_text, manifest.version, new_license)
            return result

        result.new_version = new_version
        bumped = dataclasses.replace(manifest, version=new_version)
        missing = [
            f"{arch}: {bumped.archive_name(arch)}" for arch in bumped.build.archs if release.asset(bumped.archive_name(arch)) is None
        ]
        if missing:
            names = ", ".join(a.name for a in release.assets[:12]) or "none"
            more = f" (+{len(release.assets) - 12} more)" if len(release.assets) > 12 else ""
            raise HubError(
                f"release {release.tag} of {repo} has no asset {'; '.join(missing)} "
                f"(from upstream.archive_name {manifest.upstream.archive_name!r}); its assets: {names}{more}"
            )
        text = _read_text(manifest.path)
        new_text = bump_manifest_text(text, manifest.version, new_version, license=new_license, file=manifest.path)

        published = release.published_at
        try:
            published_epoch = parse_source_date(published) if published else None
        except ValueError:
            published_epoch = None
        with tempfile.TemporaryDirectory(prefix="hub-update-upstreams-") as tmp:
            pinner = _Pinner(manifest, release, tmp, mirror=mirror, dry_run=dry_run, timeout=timeout,
                             download_all=download_all or published_epoch is None)
            for arch in bumped.build.archs:
                asset = release.asset(bumped.archive_name(arch))
                assert asset is not None
                result.assets.append(pinner.pin(arch, asset, bumped.archive_url(arch)))
        downloaded_all = bool(pinner.dates) and len(pinner.dates) == len(result.assets)
        if downloaded_all:
            result.source_date = format_source_date(max(pinner.dates))
        elif published_epoch is not None:
            result.source_date = format_source_date(published_epoch)
        if dry_run:
            result.status = "available"
            return result
        assert result.source_date is not None
        lock = Lock(
            exporter=manifest.name,
            version=new_version,
            source_date=result.source_date,
            archives={a.arch: LockedArchive(a.url, str(a.sha256), int(a.size or 0)) for a in result.assets},
        )
        _write_manifest(manifest, new_text, new_version, new_license)
        write_lock(lock_path_for(manifest.path), lock)
        result.status = "updated"
        return result
    except HubError as e:
        result.status = "error"
        result.message = str(e)
        return result


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except OSError as e:
        raise HubError(f"{path}: cannot read: {e.strerror or e}") from None


# --------------------------------------------------------------------------------------------
# The summary (a PR body)
# --------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Plain text safe inside a Markdown table cell or list item."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text)
    return re.sub(r"([\\`*\[\]<>|])", r"\\\1", text)


def _code(text: str) -> str:
    """A code span for names and versions (never containing a backtick, pipe or newline)."""
    if re.fullmatch(r"[^`|\x00-\x1f\x7f]+", text):
        return f"`{text}`"
    return _cell(text)


def summary_markdown(results: Sequence[UpdateResult], *, dry_run: bool = False) -> str:
    """Markdown for a pull request body: what was bumped, how each asset was pinned, and what
    was not (errors first)."""
    changed = [r for r in results if r.status in ("updated", "available")]
    lines = ["## Upstream updates" + (" (dry run: nothing written)" if dry_run else ""), ""]
    if changed:
        lines += ["| exporter | version | release | assets pinned |", "|---|---|---|---|"]
        for r in changed:
            tag = _code(r.tag or "")
            url = r.release_url or ""
            release = f"[{tag}]({url})" if re.fullmatch(r"https://[^\s()<>]+", url) else tag
            assets = "<br>".join(f"{a.arch}: {_code(a.name)} ({_cell(a.method)})" for a in r.assets)
            lines.append(f"| {_code(r.exporter)} | {_code(r.old_version)} → {_code(r.new_version or '')} | {release} | {assets} |")
        lines.append("")
        if any(not a.method.startswith(METHOD_DOWNLOAD) for r in changed for a in r.assets):
            lines += [
                "Assets pinned from the API digest or a checksums file were not downloaded: "
                "their lock's `source_date` is the release's `published_at`; "
                "`./pants update-lock --force` recomputes it from the archives.",
                "",
            ]
    else:
        lines += ["No exporter was bumped." if any(r.status == "error" for r in results)
                  else "No exporter has a newer upstream release.", ""]
    licensed = [r for r in results if r.license]
    if licensed:
        lines.append(
            ("License from the GitHub API (would be set): " if dry_run else "License set from the GitHub API: ")
            + ", ".join(f"{_code(r.exporter)} ({_code(r.license or '')})" for r in licensed)
        )
        lines.append("")
    errors = [r for r in results if r.status == "error"]
    if errors:
        lines += ["### Errors", ""]
        lines += [f"- {_code(r.exporter)}: {_cell(r.message or '')}" for r in errors]
        lines.append("")
    skipped = [r for r in results if r.status == "skipped"]
    if skipped:
        lines += ["### Skipped", ""]
        lines += [f"- {_code(r.exporter)} {_code(r.old_version)}: {_cell(r.message or '')}" for r in skipped]
        lines.append("")
    current = [r for r in results if r.status == "up-to-date"]
    if current:
        lines.append("Up to date: " + ", ".join(f"{_code(r.exporter)} {_code(r.old_version)}" for r in current))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
