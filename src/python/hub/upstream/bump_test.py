from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from hub import cli
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.upstream.bump import (
    Asset,
    GitHubClient,
    Release,
    UpdateResult,
    bump_manifest_text,
    checksum_assets,
    newest_release,
    next_link,
    parse_checksums,
    summary_markdown,
    update_exporter,
    version_of_tag,
)
from hub.upstream.lock import check_lock, read_lock

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


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# A fake GitHub: the REST API's real release format, pagination, errors, and the downloads
# --------------------------------------------------------------------------------------------


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

    def release(self, repo: str, tag: str, assets: list[dict[str, Any]], *, draft: bool = False,
                prerelease: bool = False, published_at: str | None = PUBLISHED) -> dict[str, Any]:
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
        license = None if spdx is None else {"key": spdx.lower(), "name": spdx, "spdx_id": spdx, "url": None, "node_id": "MDc6TGljZW5zZTI="}
        self.add_json(f"/repos/{repo}", {"id": 1, "full_name": repo, "private": False, "license": license})

    def paths(self, prefix: str = "") -> list[str]:
        return [p for p, _ in self.log if p.startswith(prefix)]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    gh = FakeGitHub()
    thread = threading.Thread(target=gh.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield gh
    finally:
        gh.httpd.shutdown()
        gh.httpd.server_close()


# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------

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


def simple(name: str, version: str, *, extra_upstream: str = "", license: bool = True, archs: str = "[amd64, arm64]") -> str:
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
        return [gh.asset(repo, tag, f"foo-{version}.linux-{arch}.tar.gz", archive("foo", arch)) for arch in ("amd64", "arm64")]

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


# --------------------------------------------------------------------------------------------
# The main path: api-digest
# --------------------------------------------------------------------------------------------


def test_bump_with_api_digests(github: FakeGitHub, tmp_path: Path) -> None:
    data = foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated", result.message
    assert (result.old_version, result.new_version, result.tag) == ("v1.2.0", "v1.10.0", "v1.10.0")
    assert result.release_url == "https://github.com/acme/foo_exporter/releases/tag/v1.10.0"

    # Only the version line changed; comments, anchors and the rest are intact.
    assert path.read_text() == FOO.replace("version: v1.2.0  # bumped", "version: v1.10.0  # bumped")
    assert load_manifest(path).version == "v1.10.0"

    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None
    assert (lock.exporter, lock.version, lock.source_date) == ("foo_exporter", "v1.10.0", PUBLISHED)
    for arch in ("amd64", "arm64"):
        a = lock.archives[arch]
        # The canonical GitHub URL, never the fake server's download URL.
        assert a.url == f"https://github.com/acme/foo_exporter/releases/download/v1.10.0/foo-1.10.0.linux-{arch}.tar.gz"
        assert (a.sha256, a.size) == (sha(data[arch]), len(data[arch]))
    assert [a.method for a in result.assets] == ["api-digest", "api-digest"]
    assert check_lock(load_manifest(path), lock) == []  # what package builds will check

    # Every page was read; nothing was downloaded (the digests come from the API).
    pages = github.paths("/repos/acme/foo_exporter/releases")
    assert pages == [
        "/repos/acme/foo_exporter/releases?per_page=100",
        "/repos/acme/foo_exporter/releases?per_page=100&page=2",
        "/repos/acme/foo_exporter/releases?per_page=100&page=3",
    ]
    assert github.paths("/assets/") == [] and github.paths("/mirror/") == []


def test_api_headers_and_token(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github, token="t0k3n"), download_all=True)
    assert result.status == "updated", result.message
    api = [(p, h) for p, h in github.log if p.startswith("/repos/")]
    downloads = [(p, h) for p, h in github.log if p.startswith("/assets/")]
    assert api and downloads
    for _, h in api:
        assert h["authorization"] == "Bearer t0k3n"
        assert h["accept"] == "application/vnd.github+json"
        assert h["user-agent"].startswith("monitoring-hub/")
        assert h["x-github-api-version"] == "2022-11-28"
    for _, h in downloads:  # the token never leaves the API
        assert "authorization" not in h


def test_token_only_for_the_api_origin() -> None:
    c = GitHubClient("https://api.github.com", "secret")
    assert c._headers("https://api.github.com/repos/a/b/releases")["Authorization"] == "Bearer secret"
    assert "Authorization" not in c._headers("https://elsewhere.example/repos/a/b/releases?page=2")


def test_download_mode_takes_source_date_from_the_bytes(github: FakeGitHub, tmp_path: Path) -> None:
    data = foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github), download_all=True)
    assert result.status == "updated", result.message
    assert [a.method for a in result.assets] == ["download (matches api-digest)"] * 2
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.source_date == "2023-11-14T22:13:20Z"
    assert lock.archives["arm64"].sha256 == sha(data["arm64"])
    assert sorted(github.paths("/assets/")) == [
        "/assets/acme/foo_exporter/v1.10.0/foo-1.10.0.linux-amd64.tar.gz",
        "/assets/acme/foo_exporter/v1.10.0/foo-1.10.0.linux-arm64.tar.gz",
    ]


def test_mirror_is_used_for_downloads(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    result = update_exporter(load_manifest(path), client(github), download_all=True, mirror=f"{github.url}/mirror")
    assert result.status == "updated", result.message
    assert github.paths("/assets/") == []
    assert sorted(github.paths("/mirror/")) == [
        "/mirror/acme/foo_exporter/releases/download/v1.10.0/foo-1.10.0.linux-amd64.tar.gz",
        "/mirror/acme/foo_exporter/releases/download/v1.10.0/foo-1.10.0.linux-arm64.tar.gz",
    ]
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.archives["amd64"].url.startswith("https://github.com/acme/foo_exporter/")


def test_dry_run_changes_nothing(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO)
    before = sorted(p.name for p in path.parent.iterdir())
    result = update_exporter(load_manifest(path), client(github), dry_run=True)
    assert result.status == "available"
    assert (result.new_version, result.source_date) == ("v1.10.0", PUBLISHED)
    assert [a.method for a in result.assets] == ["api-digest", "api-digest"]
    assert path.read_text() == FOO
    assert sorted(p.name for p in path.parent.iterdir()) == before  # no lock, no temporary file
    assert github.paths("/assets/") == []


# --------------------------------------------------------------------------------------------
# Other ways to pin: a checksums file, a download
# --------------------------------------------------------------------------------------------


def test_checksums_file_when_the_api_has_no_digest(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/sums_exporter"
    data = {arch: archive("sums", arch) for arch in ("amd64", "arm64")}
    names = {arch: f"sums_exporter_0.5.0_linux_{arch}.tar.gz" for arch in data}
    sums = "".join(f"{sha(data[a])}  {names[a]}\n" for a in data) + f"{'0' * 64}  sums_exporter_0.5.0_darwin_arm64.tar.gz\n"
    assets = [github.asset(repo, "v0.5.0", names[a], data[a], digest=False) for a in data]
    assets.append(github.asset(repo, "v0.5.0", "sums_exporter_0.5.0_checksums.txt", sums.encode(), digest=False))
    github.releases(repo, [[github.release(repo, "v0.5.0", assets), github.release(repo, "v0.4.0", [])]])
    text = simple(
        "sums_exporter", "'0.4.0'",
        extra_upstream="  tag: 'v{clean_version}'\n  archive_name: '{name}_{clean_version}_linux_{arch}.tar.gz'\n",
    )
    path = write(tmp_path, "sums_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated", result.message
    # {clean_version} in the tag: the manifest keeps its own style (no leading v, quoted).
    assert path.read_text() == text.replace("version: '0.4.0'", "version: '0.5.0'")
    assert [a.method for a in result.assets] == ["checksums-file", "checksums-file"]
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.version == "0.5.0" and lock.source_date == PUBLISHED
    assert lock.archives["amd64"].sha256 == sha(data["amd64"])
    assert lock.archives["amd64"].url == (
        "https://github.com/acme/sums_exporter/releases/download/v0.5.0/sums_exporter_0.5.0_linux_amd64.tar.gz"
    )
    # Only the checksums file was downloaded, once.
    assert github.paths("/assets/") == ["/assets/acme/sums_exporter/v0.5.0/sums_exporter_0.5.0_checksums.txt"]


def test_download_when_nothing_else_knows_the_digest(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/dl_exporter"
    data = archive("dl", "amd64")
    asset = github.asset(repo, "v3.1.0", "dl_exporter-3.1.0.linux-amd64.tar.gz", data, digest=False)
    github.releases(repo, [[github.release(repo, "v3.1.0", [asset])]])
    path = write(tmp_path, "dl_exporter", simple("dl_exporter", "v3.0.0", archs="[amd64]"))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated", result.message
    assert [a.method for a in result.assets] == ["download"]
    lock = read_lock(path.parent / "upstream.lock.json")
    assert lock is not None and lock.archives["amd64"].sha256 == sha(data)
    assert lock.source_date == "2023-11-14T22:13:20Z"  # every archive was downloaded: from the bytes


def test_a_wrong_api_digest_is_caught_when_downloading(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/dl_exporter"
    asset = github.asset(repo, "v3.1.0", "dl_exporter-3.1.0.linux-amd64.tar.gz", archive("dl", "amd64"))
    asset["digest"] = "sha256:" + "0" * 64
    github.releases(repo, [[github.release(repo, "v3.1.0", [asset])]])
    path = write(tmp_path, "dl_exporter", simple("dl_exporter", "v3.0.0", archs="[amd64]"))
    result = update_exporter(load_manifest(path), client(github), download_all=True)
    assert result.status == "error"
    assert "sha256 mismatch" in (result.message or "")
    assert "version: v3.0.0" in path.read_text()
    assert not (path.parent / "upstream.lock.json").exists()


# --------------------------------------------------------------------------------------------
# Failures: one exporter fails, the others go on
# --------------------------------------------------------------------------------------------


def test_missing_arm64_asset(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/half_exporter"
    amd = github.asset(repo, "v1.1.0", "half_exporter-1.1.0.linux-amd64.tar.gz", archive("half", "amd64"))
    github.releases(repo, [[github.release(repo, "v1.1.0", [amd])]])
    text = simple("half_exporter", "v1.0.0")
    path = write(tmp_path, "half_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "error"
    assert result.message == (
        "release v1.1.0 of acme/half_exporter has no asset arm64: half_exporter-1.1.0.linux-arm64.tar.gz "
        "(from upstream.archive_name '{name}-{clean_version}.linux-{arch}.tar.gz'); "
        "its assets: half_exporter-1.1.0.linux-amd64.tar.gz"
    )
    assert path.read_text() == text and not (path.parent / "upstream.lock.json").exists()


def test_repository_gone(github: FakeGitHub, tmp_path: Path) -> None:
    path = write(tmp_path, "gone_exporter", simple("gone_exporter", "v1.0.0"))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "error"
    assert result.message == (
        f"acme/gone_exporter: repository not found on GitHub (HTTP 404 from {github.url}/repos/acme/gone_exporter/releases): "
        "renamed, deleted or private? fix upstream.repo"
    )


def rate_limited(gh: FakeGitHub, repo: str, reset: int) -> None:
    gh.add_json(
        f"/repos/{repo}/releases?per_page=100",
        {"message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit.)",
         "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"},
        status=403,
        headers={"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-used": "60",
                 "x-ratelimit-reset": str(reset), "x-ratelimit-resource": "core"},
    )


def test_rate_limit_is_reported_and_the_rest_fails_fast(github: FakeGitHub, tmp_path: Path) -> None:
    now = 1_750_000_000
    rate_limited(github, "acme/limited_exporter", now + 600)
    foo_world(github)
    c = client(github, clock=lambda: now, sleep=lambda s: pytest.fail("must not wait"))
    limited = update_exporter(load_manifest(write(tmp_path, "limited_exporter", simple("limited_exporter", "v1.0.0"))), c)
    assert limited.status == "error"
    assert limited.message == (
        f"GitHub API rate limit exceeded (HTTP 403) for {github.url}/repos/acme/limited_exporter/releases?per_page=100: "
        "resets at 2025-06-15T15:16:40Z (in 600 s); set GITHUB_TOKEN for a higher limit; "
        "--max-wait allows waiting up to 0 s in total"
    )
    # The limit is global: the next exporter is reported without asking again.
    foo = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), c)
    assert foo.status == "error" and "not asked: GitHub API rate limit exceeded" in (foo.message or "")
    assert github.paths("/repos/acme/foo_exporter") == []


def test_rate_limit_within_max_wait_is_waited_out(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/foo_exporter"
    github.add_json(f"/repos/{repo}/releases?per_page=100", {"message": "You have exceeded a secondary rate limit."},
                    status=429, headers={"retry-after": "7"})
    foo_world(github)
    waits: list[float] = []
    c = client(github, max_wait=10, sleep=waits.append)
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), c)
    assert result.status == "updated", result.message
    assert waits == [7.0]


def test_rate_limit_beyond_max_wait(github: FakeGitHub, tmp_path: Path) -> None:
    github.add_json("/repos/acme/foo_exporter/releases?per_page=100", {"message": "slow down"},
                    status=429, headers={"retry-after": "60"})
    c = client(github, max_wait=10, sleep=lambda s: pytest.fail("must not wait"))
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), c)
    assert result.status == "error" and "rate limit exceeded (HTTP 429)" in (result.message or "")
    assert "(in 60 s)" in (result.message or "")


def test_other_http_errors(github: FakeGitHub, tmp_path: Path) -> None:
    github.add_json("/repos/acme/foo_exporter/releases?per_page=100", {"message": "Bad credentials"}, status=401)
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), client(github, token="bad"))
    assert result.message == (
        f"{github.url}/repos/acme/foo_exporter/releases?per_page=100: HTTP 401: GitHub rejected the token in GITHUB_TOKEN: Bad credentials"
    )


def test_only_prereleases(github: FakeGitHub, tmp_path: Path) -> None:
    repo = "acme/foo_exporter"
    github.releases(repo, [[github.release(repo, "v2.0.0-rc.1", [], prerelease=True),
                            github.release(repo, "v2.0.0-beta.1", [])]])  # not flagged, still a prerelease
    result = update_exporter(load_manifest(write(tmp_path, "foo_exporter", FOO)), client(github))
    assert result.status == "error"
    assert result.message == (
        "acme/foo_exporter: no stable release whose tag fits upstream.tag '{version}' "
        "(drafts, prereleases and non-semver tags are skipped)"
    )


# --------------------------------------------------------------------------------------------
# Strategies and up-to-date exporters
# --------------------------------------------------------------------------------------------


def test_pinned_strategy_is_untouched(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    text = FOO.replace("  repo: acme/foo_exporter\n", "  repo: acme/foo_exporter\n  strategy: pinned\n")
    path = write(tmp_path, "foo_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert (result.status, result.message) == ("skipped", "upstream.strategy is pinned: never bumped automatically")
    assert path.read_text() == text and not (path.parent / "upstream.lock.json").exists()
    assert github.log == []


def test_up_to_date(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    text = FOO.replace("version: v1.2.0", "version: v1.10.0")
    path = write(tmp_path, "foo_exporter", text)
    result = update_exporter(load_manifest(path), client(github))
    assert (result.status, result.message) == ("up-to-date", "the newest stable release is v1.10.0")
    assert path.read_text() == text
    ahead = write(tmp_path / "b", "foo_exporter", FOO.replace("version: v1.2.0", "version: v1.11.0-rc.1"))
    result = update_exporter(load_manifest(ahead), client(github))
    assert result.message == "the newest stable release is v1.10.0 (the manifest is ahead of it)"


def test_license_is_filled_from_the_api(github: FakeGitHub, tmp_path: Path) -> None:
    foo_world(github)
    path = write(tmp_path, "foo_exporter", FOO.replace("license: Apache-2.0\n", ""))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "updated" and result.license == "Apache-2.0"
    assert path.read_text() == FOO.replace("version: v1.2.0  # bumped", "version: v1.10.0  # bumped")

    # Up to date: the license alone is set. NOASSERTION is never written.
    github.routes.pop("/repos/acme/foo_exporter")
    github.repo("acme/foo_exporter", "NOASSERTION")
    path = write(tmp_path / "b", "foo_exporter", FOO.replace("license: Apache-2.0\n", "").replace("v1.2.0", "v1.10.0"))
    result = update_exporter(load_manifest(path), client(github))
    assert result.status == "up-to-date" and result.license is None
    assert load_manifest(path).license is None


# --------------------------------------------------------------------------------------------
# The CLI and its summary
# --------------------------------------------------------------------------------------------


def test_cli_summary_json_and_exit_code(github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("PANTS_HUB_UPSTREAM_MIRROR", raising=False)
    foo_world(github)
    repo = "acme/half_exporter"
    amd = github.asset(repo, "v1.1.0", "half_exporter-1.1.0.linux-amd64.tar.gz", archive("half", "amd64"))
    github.releases(repo, [[github.release(repo, "v1.1.0", [amd])]])
    foo = write(tmp_path, "foo_exporter", FOO)
    half = write(tmp_path, "half_exporter", simple("half_exporter", "v1.0.0"))
    pinned = write(tmp_path, "pinned_exporter", simple("pinned_exporter", "v1.0.0", extra_upstream="  strategy: pinned\n"))
    summary = tmp_path / "summary.md"

    argv = ["update-upstreams", "--api-url", github.url, "--summary", str(summary), str(tmp_path / "exporters")]
    assert cli.main(["update-upstreams", "--api-url", github.url, "--dry-run", "--json", str(tmp_path / "exporters")]) == 1
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and dry["updated"] == ["foo_exporter"] and dry["errors"] == ["half_exporter"]
    assert dry["changed"] == ["foo_exporter"]
    assert "version: v1.2.0" in foo.read_text()

    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert load_manifest(foo).version == "v1.10.0"
    assert "version: v1.0.0" in half.read_text() and "version: v1.0.0" in pinned.read_text()
    assert "error: " in captured.err and "has no asset arm64" in captured.err
    md = captured.out
    assert summary.read_text() == md
    assert md.startswith("## Upstream updates\n\n| exporter | version | release | assets pinned |\n|---|---|---|---|\n")
    assert (
        "| `foo_exporter` | `v1.2.0` → `v1.10.0` | [`v1.10.0`](https://github.com/acme/foo_exporter/releases/tag/v1.10.0) | "
        "amd64: `foo-1.10.0.linux-amd64.tar.gz` (api-digest)<br>arm64: `foo-1.10.0.linux-arm64.tar.gz` (api-digest) |"
    ) in md
    assert "### Errors\n\n- `half_exporter`: release v1.1.0 of acme/half_exporter has no asset arm64" in md
    assert "### Skipped\n\n- `pinned_exporter` `v1.0.0`: upstream.strategy is pinned" in md
    assert "`source_date` is the release's `published_at`" in md

    # Run again: everything is current now.
    assert cli.main([*argv[:-1], "--json", str(foo)]) == 0
    report = json.loads(capsys.readouterr().out)
    [r] = report["results"]
    assert set(r) == {"exporter", "manifest", "strategy", "status", "old_version", "new_version", "tag",
                      "release_url", "source_date", "license", "assets", "message"}
    assert (r["status"], r["old_version"], r["new_version"]) == ("up-to-date", "v1.10.0", None)


def test_cli_bad_manifest_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad_exporter", "name: bad_exporter\nversion: [1]\n")
    assert cli.main(["update-upstreams", "--api-url", "http://127.0.0.1:9", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_summary_without_updates() -> None:
    assert summary_markdown([]) == "## Upstream updates\n\nNo exporter has a newer upstream release.\n"
    failed = UpdateResult("x_exporter", "m.yaml", "latest_release", "error", "v1.0.0", message="boom | *bold* <b>")
    assert summary_markdown([failed], dry_run=True) == (
        "## Upstream updates (dry run: nothing written)\n\nNo exporter was bumped.\n\n"
        "### Errors\n\n- `x_exporter`: boom \\| \\*bold\\* \\<b\\>\n"
    )


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,expected",
    [
        (None, None),
        ('<https://api.github.com/repositories/1/releases?page=2>; rel="next", <https://api.github.com/repositories/1/releases?page=5>; rel="last"',
         "https://api.github.com/repositories/1/releases?page=2"),
        ('<https://a/x?page=1>; rel="prev", <https://a/x?page=1>; rel="first"', None),
        ('<https://a/x?page=3>; rel="last next"', "https://a/x?page=3"),
        ("<https://a/x?page=3>; rel=next", "https://a/x?page=3"),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert next_link(header) == expected


@pytest.mark.parametrize(
    "tag_pattern,version,tag,expected",
    [
        ("{version}", "v1.2.0", "v1.10.0", "v1.10.0"),
        ("{version}", "v1.2.0", "1.10.0", "1.10.0"),  # as upstream tags it
        ("{version}", "v1.2.0", "v1.10", None),
        ("{version}", "v1.2.0", "nightly", None),
        ("v{clean_version}", "1.2.0", "v1.3.0", "1.3.0"),
        ("v{clean_version}", "v1.2.0", "v1.3.0", "v1.3.0"),
        ("v{clean_version}", "1.2.0", "1.3.0", None),
        ("{name}-{version}", "v1.2.0", "foo_exporter-v2.0.0", "v2.0.0"),
        ("{name}-{version}", "v1.2.0", "bar-v2.0.0", None),
        ("release-{clean_version}", "1.2.0", "release-1.3.0-rc.1", "1.3.0-rc.1"),
        ("{version}", "v1.2.0", "v1.3.0+build.1", "v1.3.0+build.1"),
    ],
)
def test_version_of_tag(tmp_path: Path, tag_pattern: str, version: str, tag: str, expected: str | None) -> None:
    text = FOO.replace("version: v1.2.0", f"version: '{version}'").replace(
        "  repo: acme/foo_exporter\n", f"  repo: acme/foo_exporter\n  tag: '{tag_pattern}'\n"
    )
    manifest = load_manifest(write(tmp_path, "foo_exporter", text))
    assert version_of_tag(manifest, tag) == expected


def test_newest_release_by_semver_not_by_date(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "foo_exporter", FOO))

    def rel(tag: str, **kw: Any) -> Release:
        return Release(tag, tag, kw.get("draft", False), kw.get("prerelease", False), PUBLISHED, None, ())

    releases = [rel("v1.9.9"), rel("v3.0.0", draft=True), rel("v2.0.0-rc.2"), rel("v2.0.0", prerelease=True),
                rel("v1.10.0"), rel("v1.9.10"), rel("latest")]
    found = newest_release(manifest, releases)
    assert found is not None and found[1] == "v1.10.0"
    assert newest_release(manifest, [rel("v2.0.0-rc.2")]) is None


@pytest.mark.parametrize(
    "text",
    [
        "{sum}  foo.tar.gz\n",
        "{sum} *foo.tar.gz\n",
        "{sum}  ./foo.tar.gz\n",
        "{sum}  dist/foo.tar.gz\n",
        "# comment\n{other}  bar.tar.gz\r\n{sum}  foo.tar.gz\r\n",
        "SHA256 (foo.tar.gz) = {sum}\n",
        "{sum}\n",  # a <file>.sha256 with the digest alone
    ],
)
def test_parse_checksums(text: str) -> None:
    digest = "ab" * 32
    assert parse_checksums(text.format(sum=digest.upper() if "SHA256" in text else digest, other="cd" * 32), "foo.tar.gz") == digest


def test_parse_checksums_not_listed() -> None:
    assert parse_checksums(f"{'ab' * 32}  bar.tar.gz\n{'cd' * 32}  foo.tar.gz.sig\n", "foo.tar.gz") is None


def test_checksum_assets() -> None:
    def asset(name: str) -> Asset:
        return Asset(name, 1, None, f"https://x/{name}", None)

    names = ["foo.tar.gz", "foo.tar.gz.sha256", "sha256sums.txt", "SHA256SUMS", "foo_1.0.0_checksums.txt",
             "checksums.txt", "sha256sums.txt.sig", "checksums.txt.asc", "foo.deb", "foo.sbom.json"]
    release = Release("v1", None, False, False, None, None, tuple(map(asset, names)))
    assert [a.name for a in checksum_assets(release, "foo.tar.gz")] == [
        "foo.tar.gz.sha256", "SHA256SUMS", "checksums.txt", "foo_1.0.0_checksums.txt", "sha256sums.txt",
    ]


@pytest.mark.parametrize(
    "before,after",
    [
        ("version: v1.2.0\n", "version: v1.10.0\n"),
        ("version: 'v1.2.0'  # c\n", "version: 'v1.10.0'  # c\n"),
        ('version: "v1.2.0"\r\n', 'version: "v1.10.0"\r\n'),
        ("version: &v v1.2.0\n", "version: &v v1.10.0\n"),
        ("a: 1\n  version: v1.2.0\nversion:   v1.2.0 # x\n", "a: 1\n  version: v1.2.0\nversion:   v1.10.0 # x\n"),
    ],
)
def test_bump_manifest_text(before: str, after: str) -> None:
    assert bump_manifest_text(before, "v1.2.0", "v1.10.0") == after


@pytest.mark.parametrize(
    "before,after",
    [
        ("name: x\nversion: v1\nupstream: {}\n", "name: x\nversion: v2\nlicense: MIT\nupstream: {}\n"),
        ("version: v1\nlicense:\n", "version: v2\nlicense: MIT\n"),
        ("version: v1\nlicense: null  # unknown\n", "version: v2\nlicense: MIT  # unknown\n"),
        ("version: v1", "version: v2\nlicense: MIT\n"),
        ("version: v1\r\nx: 1\r\n", "version: v2\r\nlicense: MIT\r\nx: 1\r\n"),
    ],
)
def test_bump_sets_the_license(before: str, after: str) -> None:
    assert bump_manifest_text(before, "v1", "v2", license="MIT") == after


@pytest.mark.parametrize(
    "text,message",
    [
        ("name: x\n", "found no top-level `version: <value>` line"),
        ("version: v1\nversion: v1\n", "found more than one top-level"),
        ("version: v0\n", "the line says 'v0', the manifest 'v1'"),
        ("{name: x, version: v1}\n", "found no top-level"),
    ],
)
def test_bump_refuses(text: str, message: str) -> None:
    with pytest.raises(HubError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bump_manifest_text(text, "v1", "v2", file="m.yaml")
