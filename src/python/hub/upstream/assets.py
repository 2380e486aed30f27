"""Pinning a release's assets for ``update-upstreams``: where each asset's sha256 comes from.

The **method** of each pin, in order of preference:

* ``api-digest``: the asset's ``digest`` field in the API answer (``sha256:<hex>``);
* ``checksums-file``: a checksums file among the release's assets (:mod:`hub.upstream.checksums`);
* ``download``: the bytes themselves, downloaded and hashed. With ``--download`` every asset is
  downloaded, checked against what the API or a checksums file says (``download (matches
  api-digest)``), and its source date read from the archive.

A dry run downloads nothing and reports the method it would use.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from hub.common.errors import HubError
from hub.manifest.model import GITHUB_PREFIX, Manifest
from hub.upstream.checksums import (
    MAX_CHECKSUMS_BYTES,
    METHOD_CHECKSUMS,
    METHOD_DIGEST,
    Published,
    check_published,
    checksum_assets,
    parse_checksums,
)
from hub.upstream.download import download, mirror_url
from hub.upstream.github import Asset, Release
from hub.upstream.source_date import source_date_of

METHOD_DOWNLOAD = "download"

_DIGEST_RE = re.compile(r"sha256:([0-9a-fA-F]{64})")


@dataclass
class PinnedAsset:
    arch: str
    name: str
    url: str  # canonical
    sha256: str | None  # None in a dry run when it would be downloaded
    size: int | None
    method: str

    def to_json(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "name": self.name,
            "url": self.url,
            "sha256": self.sha256,
            "size": self.size,
            "method": self.method,
        }


class AssetPinner:
    """Pins one release's assets; caches the checksums files it reads."""

    def __init__(
        self,
        manifest: Manifest,
        release: Release,
        tmp: str,
        *,
        mirror: str | None,
        download_all: bool,
        dry_run: bool,
        timeout: float,
    ):
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
            download(
                self.url_of(asset),
                dest,
                max_size=MAX_CHECKSUMS_BYTES,
                timeout=self.timeout,
                expected_sha256=expected.group(1).lower() if expected else None,
            )
            with open(dest, "rb") as f:
                self._checksums[asset.name] = f.read().decode("utf-8", errors="replace")
        return self._checksums[asset.name]

    def published(self, asset: Asset) -> Published | None:
        """The sha256 the release publishes for ``asset``: the API digest, else the first
        checksums file that lists it (read once per file), else None."""
        digest = _DIGEST_RE.fullmatch(asset.digest or "")
        if digest:
            return Published(digest.group(1).lower(), METHOD_DIGEST, f"the GitHub API's digest of {asset.name}")
        for candidate in checksum_assets(self.release, asset.name):
            found = parse_checksums(self._checksums_text(candidate), asset.name)
            if found:
                return Published(found, METHOD_CHECKSUMS, f"the checksums file {self.url_of(candidate)}")
        return None

    def pin(self, arch: str, asset: Asset, canonical: str) -> PinnedAsset:
        """sha256 from the API digest, else a checksums file, else the bytes; downloads only
        when needed (or asked), and then checks the bytes against what the release publishes.
        A dry run downloads nothing and reports the planned method."""
        if self.dry_run:
            digest = _DIGEST_RE.fullmatch(asset.digest or "")
            method = METHOD_DIGEST if digest else METHOD_CHECKSUMS if checksum_assets(self.release, asset.name) else ""
            planned = METHOD_DOWNLOAD if self.download_all or not method else method
            sha256 = digest.group(1).lower() if digest else None
            return PinnedAsset(arch, asset.name, canonical, sha256, asset.size, planned)
        published = self.published(asset)
        if self.download_all or published is None:
            dest = os.path.join(self.tmp, f"{arch}-{asset.name}")
            url = self.url_of(asset)
            got = download(url, dest, expected_size=asset.size, timeout=self.timeout)
            check_published(url, got.sha256, published)
            self.dates.append(source_date_of(dest, display_name=url))
            how = f"{METHOD_DOWNLOAD} (matches {published.method})" if published else METHOD_DOWNLOAD
            return PinnedAsset(arch, asset.name, canonical, got.sha256, got.size, how)
        if asset.size is None:
            raise HubError(
                f"release {self.release.tag}: asset {asset.name} has no size in the API answer; use --download"
            )
        return PinnedAsset(arch, asset.name, canonical, published.sha256, asset.size, published.method)
