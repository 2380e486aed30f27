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

This module chooses the release and updates one exporter; the rest lives beside it:
:mod:`hub.upstream.github` (the API client), :mod:`hub.upstream.assets` and
:mod:`hub.upstream.checksums` (pinning the assets), :mod:`hub.upstream.manifest_edit` (the
in-place edit) and :mod:`hub.upstream.report` (the summary).
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Sequence

from hub.common.dates import format_source_date, parse_source_date
from hub.common.errors import HubError
from hub.common.semver import SEMVER_PATTERN, SemVer, is_semver, parse_semver
from hub.manifest.model import Manifest
from hub.upstream.assets import AssetPinner, PinnedAsset
from hub.upstream.github import DEFAULT_TIMEOUT, GitHubClient, Release
from hub.upstream.lock import Lock, LockedArchive, lock_path_for, write_lock
from hub.upstream.manifest_edit import bump_manifest_text, read_text, write_manifest

__all__ = [
    "UpdateResult",
    "newest_release",
    "update_exporter",
    "version_of_tag",
]


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
    found = re.fullmatch("".join(parts), tag)
    if found is None:
        return None
    if "version" in seen:
        version = found.group("version")
    else:
        clean = found.group("clean_version")
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
            result.message = f"the newest stable release is {new_version}" + (
                " (the manifest is ahead of it)" if ahead else ""
            )
            result.tag, result.release_url = None, None
            if new_license is not None and not dry_run:
                text = read_text(manifest.path)
                new_text = bump_manifest_text(
                    text, manifest.version, manifest.version, license=new_license, file=manifest.path
                )
                write_manifest(manifest, new_text, manifest.version, new_license)
            return result

        result.new_version = new_version
        bumped = dataclasses.replace(manifest, version=new_version)
        missing = [
            f"{arch}: {bumped.archive_name(arch)}"
            for arch in bumped.build.archs
            if release.asset(bumped.archive_name(arch)) is None
        ]
        if missing:
            names = ", ".join(a.name for a in release.assets[:12]) or "none"
            more = f" (+{len(release.assets) - 12} more)" if len(release.assets) > 12 else ""
            raise HubError(
                f"release {release.tag} of {repo} has no asset {'; '.join(missing)} "
                f"(from upstream.archive_name {manifest.upstream.archive_name!r}); its assets: {names}{more}"
            )
        text = read_text(manifest.path)
        new_text = bump_manifest_text(text, manifest.version, new_version, license=new_license, file=manifest.path)

        published = release.published_at
        try:
            published_epoch = parse_source_date(published) if published else None
        except ValueError:
            published_epoch = None
        with tempfile.TemporaryDirectory(prefix="hub-update-upstreams-") as tmp:
            pinner = AssetPinner(
                manifest,
                release,
                tmp,
                mirror=mirror,
                dry_run=dry_run,
                timeout=timeout,
                download_all=download_all or published_epoch is None,
            )
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
        write_manifest(manifest, new_text, new_version, new_license)
        write_lock(lock_path_for(manifest.path), lock)
        result.status = "updated"
        return result
    except HubError as e:
        result.status = "error"
        result.message = str(e)
        return result
