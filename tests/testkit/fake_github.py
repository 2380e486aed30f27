"""A fake GitHub for the update-upstreams tests: the REST API's real release format, pagination,
errors and rate limits, and the asset downloads, on a local HTTP server.

``foo_world`` publishes ``acme/foo_exporter`` over three pages of releases (drafts,
prereleases and non-semver tags among them); ``FOO`` is its manifest, written with comments,
quoting and anchors that a bump must keep.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

from hub.upstream.github import GitHubClient
from testkit.releases import sha

MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z, the newest member of every test archive
PUBLISHED = "2025-03-04T05:06:07Z"


def archive(name: str, arch: str) -> bytes:
    """A small, deterministic .tar.gz; member mtimes go up to MTIME."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i, member in enumerate((f"{name}/LICENSE", f"{name}/{arch}-binary")):
            data = f"{member}\n".encode()
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), MTIME - 100 + i * 100
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FakeGitHub:
    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.log: list[tuple[str, dict[str, str]]] = []
        self.next_id = 1000
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.log.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                queue = outer.routes.get(self.path)
                if queue:
                    status, headers, body = queue[0] if len(queue) == 1 else queue.pop(0)
                else:
                    status, headers = 404, {"Content-Type": "application/json; charset=utf-8"}
                    body = json.dumps(
                        {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
                    ).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    # -- routes --------------------------------------------------------------------------------

    def add(self, path: str, body: bytes, *, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Serves ``body`` at ``path``; several adds to the same path answer in turn (the last
        one repeats)."""
        self.routes.setdefault(path, []).append((status, headers or {}, body))

    def add_json(self, path: str, data: Any, **kw: Any) -> None:
        headers = {"Content-Type": "application/json; charset=utf-8", **kw.pop("headers", {})}
        self.add(path, json.dumps(data).encode(), headers=headers, **kw)

    def asset(self, repo: str, tag: str, name: str, data: bytes, *, digest: bool = True) -> dict[str, Any]:
        """A release asset in GitHub's format. The bytes are served at browser_download_url
        (here: /assets/...) and at the GitHub path under /mirror/ (for --mirror)."""
        self.next_id += 1
        browser = f"{self.url}/assets/{repo}/{tag}/{name}"
        self.add(f"/assets/{repo}/{tag}/{name}", data, headers={"Content-Type": "application/octet-stream"})
        self.add(f"/mirror/{repo}/releases/download/{tag}/{name}", data)
        return {
            "url": f"{self.url}/repos/{repo}/releases/assets/{self.next_id}",
            "id": self.next_id,
            "node_id": f"RA_kwDO{self.next_id}",
            "name": name,
            "label": "",
            "uploader": {"login": "release-bot", "id": 1, "type": "User"},
            "content_type": "application/gzip",
            "state": "uploaded",
            "size": len(data),
            "digest": f"sha256:{sha(data)}" if digest else None,
            "download_count": 42,
            "created_at": "2025-03-04T05:00:00Z",
            "updated_at": "2025-03-04T05:00:00Z",
            "browser_download_url": browser,
        }

    def release(
        self,
        repo: str,
        tag: str,
        assets: list[dict[str, Any]],
        *,
        draft: bool = False,
        prerelease: bool = False,
        published_at: str | None = PUBLISHED,
    ) -> dict[str, Any]:
        self.next_id += 1
        return {
            "url": f"{self.url}/repos/{repo}/releases/{self.next_id}",
            "assets_url": f"{self.url}/repos/{repo}/releases/{self.next_id}/assets",
            "upload_url": f"https://uploads.github.com/repos/{repo}/releases/{self.next_id}/assets{{?name,label}}",
            "html_url": f"https://github.com/{repo}/releases/tag/{tag}",
            "id": self.next_id,
            "author": {"login": "release-bot", "id": 1, "type": "User"},
            "node_id": f"RE_kwDO{self.next_id}",
            "tag_name": tag,
            "target_commitish": "main",
            "name": f"{tag} / 2025-03-04",
            "draft": draft,
            "immutable": False,
            "prerelease": prerelease,
            "created_at": "2025-03-04T05:00:00Z",
            "published_at": None if draft else published_at,
            "tarball_url": f"{self.url}/repos/{repo}/tarball/{tag}",
            "zipball_url": f"{self.url}/repos/{repo}/zipball/{tag}",
            "body": "## Changes\n* things",
            "assets": assets,
        }

    def releases(self, repo: str, pages: list[list[dict[str, Any]]]) -> None:
        """The releases list, paginated with Link headers like GitHub's."""
        base = f"/repos/{repo}/releases?per_page=100"
        paths = [base] + [f"{base}&page={n}" for n in range(2, len(pages) + 1)]
        for n, (path, page) in enumerate(zip(paths, pages), start=1):
            links = []
            if n > 1:
                links.append(f'<{self.url}{paths[n - 2]}>; rel="prev"')
            if n < len(pages):
                links.append(f'<{self.url}{paths[n]}>; rel="next"')
                links.append(f'<{self.url}{paths[-1]}>; rel="last"')
            if n > 1:
                links.append(f'<{self.url}{paths[0]}>; rel="first"')
            headers = {"Link": ", ".join(links)} if links else {}
            headers.update({"x-ratelimit-limit": "60", "x-ratelimit-remaining": "59", "x-ratelimit-resource": "core"})
            self.add_json(path, page, headers=headers)

    def repo(self, repo: str, spdx: str | None = "Apache-2.0") -> None:
        license = (
            None
            if spdx is None
            else {"key": spdx.lower(), "name": spdx, "spdx_id": spdx, "url": None, "node_id": "MDc6TGljZW5zZTI="}
        )
        self.add_json(f"/repos/{repo}", {"id": 1, "full_name": repo, "private": False, "license": license})

    def paths(self, prefix: str = "") -> list[str]:
        return [p for p, _ in self.log if p.startswith(prefix)]


@contextlib.contextmanager
def running_github() -> Iterator[FakeGitHub]:
    """A :class:`FakeGitHub` serving in a background thread, stopped on exit."""
    gh = FakeGitHub()
    thread = threading.Thread(target=gh.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield gh
    finally:
        gh.httpd.shutdown()
        gh.httpd.server_close()


FOO = """\
# Test manifest: comments, quoting and anchors must survive the bump.
name: foo_exporter
description: Foo exporter  # a trailing comment
category: System
version: v1.2.0  # bumped by update-upstreams
license: Apache-2.0
homepage: https://github.com/acme/foo_exporter

upstream:
  repo: acme/foo_exporter
  archive_name: 'foo-{clean_version}.linux-{arch}.tar.gz'  # not the exporter's name
  # version: v0.0.1 <- not the top-level version line

build:
  binary_name: foo_exporter
  archs: [amd64, arm64]

artifacts:
  rpm:
    targets: [el9]
    systemd: &unit
      after: [network-online.target]
  deb:
    targets: [debian-12]
    systemd: *unit
  docker:
    port: 9100
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / "exporters" / name / "manifest.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def simple(
    name: str, version: str, *, extra_upstream: str = "", license: bool = True, archs: str = "[amd64, arm64]"
) -> str:
    return (
        f"name: {name}\ndescription: The {name}\ncategory: System\nversion: {version}\n"
        + ("license: MIT\n" if license else "")
        + f"upstream:\n  repo: acme/{name}\n{extra_upstream}"
        + f"build:\n  binary_name: {name}\n  archs: {archs}\n"
    )


def foo_world(gh: FakeGitHub) -> dict[str, bytes]:
    """acme/foo_exporter over 3 pages: a newer prerelease and a newer draft (both skipped), a
    non-semver tag, a backport published after the newest, then the newest stable v1.10.0
    (which a string comparison would rank below v1.9.x)."""
    repo = "acme/foo_exporter"
    data = {arch: archive("foo_exporter", arch) for arch in ("amd64", "arm64")}

    def assets(tag: str, version: str) -> list[dict[str, Any]]:
        return [
            gh.asset(repo, tag, f"foo-{version}.linux-{arch}.tar.gz", archive("foo", arch))
            for arch in ("amd64", "arm64")
        ]

    newest = [gh.asset(repo, "v1.10.0", f"foo-1.10.0.linux-{arch}.tar.gz", data[arch]) for arch in ("amd64", "arm64")]
    newest.append(gh.asset(repo, "v1.10.0", "sha256sums.txt", b"not read: the digests are in the API\n"))
    gh.releases(
        repo,
        [
            [
                gh.release(repo, "v2.0.0-rc.1", assets("v2.0.0-rc.1", "2.0.0-rc.1"), prerelease=True),
                gh.release(repo, "v2.1.0", assets("v2.1.0", "2.1.0"), draft=True),
                gh.release(repo, "nightly", []),
                gh.release(repo, "v1.9.9", assets("v1.9.9", "1.9.9"), published_at="2025-04-01T00:00:00Z"),
            ],
            [
                gh.release(repo, "v1.10.0", newest),
                gh.release(repo, "v1.9.0", assets("v1.9.0", "1.9.0")),
            ],
            [
                gh.release(repo, "v1.2.0", assets("v1.2.0", "1.2.0")),
                gh.release(repo, "v1.1.0", assets("v1.1.0", "1.1.0")),
            ],
        ],
    )
    gh.repo(repo)
    return data


def client(gh: FakeGitHub, **kw: Any) -> GitHubClient:
    return GitHubClient(gh.url, kw.pop("token", None), **kw)
