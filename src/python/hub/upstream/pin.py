"""``update-lock``: pin every arch's upstream archive of a manifest in its lock.

Each archive is downloaded (through the mirror, if any) or, for a local upstream, read from the
exporter's directory; its sha256 and size are recorded at its canonical URL, and the newest
source date of all of them becomes the lock's ``source_date``.

A download is checked against what the release **publishes** for it, as ``update-upstreams``
does (:mod:`hub.upstream.assets`, :mod:`hub.upstream.checksums`):

* with a GitHub API (``github``, and no mirror): the release's assets say it, the asset's
  ``digest`` first, else a checksums file among the assets;
* otherwise (a mirror, an air-gapped site, or the API unreachable): the checksums files that
  releases publish under conventional names (``sha256sums.txt``, ``<name>_<version>_checksums.txt``,
  ...) next to the archive, as the offline mirror (:mod:`hub.upstream.mirror`) serves them.

A mismatch names both digests and where the published one came from, and writes nothing. A
release that publishes nothing is pinned from the bytes alone, as before.
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable

from hub.common.dates import format_source_date
from hub.common.errors import HubError
from hub.manifest.model import GITHUB_PREFIX, Manifest
from hub.upstream.assets import AssetPinner
from hub.upstream.checksums import Published, check_published, conventional_checksum_names, find_published
from hub.upstream.download import DEFAULT_TIMEOUT, download, mirror_url, sha256_file
from hub.upstream.github import GitHubClient, GitHubError
from hub.upstream.lock import Lock, LockedArchive, LockError, check_lock, read_lock, write_lock
from hub.upstream.source_date import source_date_of


def update_lock(
    manifest: Manifest,
    lock_path: str | os.PathLike[str],
    *,
    mirror: str | None = None,
    force: bool = False,
    github: GitHubClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    log: Callable[[str], None] = lambda s: None,
) -> Lock:
    """Pins every arch's archive of ``manifest`` and writes the lock (the URLs stay canonical).

    Downloads go through ``mirror`` (see mirror_url). A lock that already pins this version and
    these URLs is returned unchanged without any download, unless ``force``. ``github`` (used
    only without a mirror) is where the release's digests are asked; ``log`` hears why the
    API could not be used.
    """
    lock_path = os.fspath(lock_path)
    try:
        existing = read_lock(lock_path)
    except LockError:
        existing = None  # a broken lock is replaced
    if (
        not force
        and existing is not None
        and not check_lock(manifest, existing)
        and set(existing.archives) == set(manifest.build.archs)
    ):
        return existing
    archives: dict[str, LockedArchive] = {}
    dates = []
    with tempfile.TemporaryDirectory(prefix="hub-update-lock-") as tmp:
        published = _Publications(manifest, mirror, github, tmp, timeout, log)
        for arch in manifest.build.archs:
            if manifest.is_local:
                url = manifest.local_archive(arch)
                path = os.path.join(manifest.directory, url)
                shown = path
                try:
                    got = sha256_file(path)
                except OSError as e:
                    raise HubError(
                        f"{manifest.path}: upstream.local.{arch}: cannot read {url}: {e.strerror or e}"
                    ) from None
            else:
                url = manifest.archive_url(arch)
                shown, expected = published.archive(arch)
                path = os.path.join(tmp, f"{arch}-{manifest.archive_name(arch)}")
                got = download(shown, path, timeout=timeout)
                check_published(shown, got.sha256, expected)
            # read under the limits of an extraction (messages name the URL, not the temporary file)
            dates.append(source_date_of(path, display_name=shown))
            archives[arch] = LockedArchive(url, got.sha256, got.size)
    lock = Lock(manifest.name, manifest.version, format_source_date(max(dates)), archives)
    write_lock(lock_path, lock)
    return lock


class _Publications:
    """What one release publishes about its archives: from the API's assets when there is an
    API (and no mirror), else from checksums files under conventional names."""

    def __init__(
        self,
        manifest: Manifest,
        mirror: str | None,
        github: GitHubClient | None,
        tmp: str,
        timeout: float,
        log: Callable[[str], None],
    ):
        self.manifest = manifest
        self.mirror = mirror
        self.timeout = timeout
        self.pinner: AssetPinner | None = None
        self.checksums_files: dict[str, str | None] = {}  # by URL; None: not published
        if github is not None and not mirror and not manifest.is_local:
            assert manifest.upstream.repo is not None  # not local
            try:
                release = github.release(manifest.upstream.repo, manifest.tag)
            except GitHubError as e:
                log(f"{manifest.path}: {e}; looking for checksums files by their usual names instead")
            else:
                self.pinner = AssetPinner(
                    manifest, release, tmp, mirror=None, download_all=True, dry_run=False, timeout=timeout
                )

    def archive(self, arch: str) -> tuple[str, Published | None]:
        """Where to download ``arch``'s archive from, and the sha256 its release publishes."""
        name = self.manifest.archive_name(arch)
        if self.pinner is not None:
            asset = self.pinner.release.asset(name)
            if asset is None:
                raise HubError(
                    f"{self.manifest.path}: release {self.manifest.tag} of {self.manifest.upstream.repo} has no "
                    f"asset {name!r} (upstream.archive_name for {arch}); expected one"
                )
            return self.pinner.url_of(asset), self.pinner.published(asset)
        repo = self.manifest.upstream.repo or ""
        directory = mirror_url(f"{GITHUB_PREFIX}{repo}/releases/download/{self.manifest.tag}", self.mirror)
        names = conventional_checksum_names(
            name, (self.manifest.name, repo.rsplit("/", 1)[-1]), self.manifest.clean_version
        )
        return f"{directory}/{name}", find_published(
            directory, name, names, timeout=self.timeout, cache=self.checksums_files
        )
