"""``hub image-push``: pushing an OCI layout to a registry by digest (OCI distribution API).

Vocabulary: a *registry* is ``host[:port]``, a *repository* a lowercase path in it
(``monitoring-hub/node_exporter``), a *tag* a name for a manifest or index in a repository.
A push uploads every blob the registry lacks, then each platform's manifest and the index by
digest, and only then the tags, so a tag never points to something incomplete.

Credentials come from the environment (``HUB_REGISTRY_USER``/``HUB_REGISTRY_PASSWORD``) or
the user's docker config, never from a file of the repository.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Sequence

from hub.common.errors import HubError
from hub.image.layout import INDEX_TYPES, REF_NAME, Layout, blob_digest

REGISTRY_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
REPOSITORY_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _credential_helper(helper: str, registry: str) -> tuple[str, str] | None:
    try:
        proc = subprocess.run(
            [f"docker-credential-{helper}", "get"], input=registry.encode(), capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        data = json.loads(proc.stdout)
        return data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        return None


def registry_credentials(registry: str, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(user, password) for ``registry``: HUB_REGISTRY_USER/HUB_REGISTRY_PASSWORD, else the
    docker config (credHelpers, auths, credsStore) of ``$DOCKER_CONFIG`` or ``~/.docker``.
    Never a file of the repository."""
    env = os.environ if env is None else env
    if env.get("HUB_REGISTRY_USER") and env.get("HUB_REGISTRY_PASSWORD") is not None:
        return env["HUB_REGISTRY_USER"], env["HUB_REGISTRY_PASSWORD"]
    config_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else _docker_config_dir()
    try:
        config = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    helper = (config.get("credHelpers") or {}).get(registry)
    if helper:
        return _credential_helper(helper, registry)
    auths = config.get("auths") or {}
    for key in (
        registry,
        f"https://{registry}",
        f"http://{registry}",
        f"https://{registry}/v1/",
        f"https://{registry}/v2/",
    ):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except ValueError:
                raise HubError(f"{config_dir / 'config.json'}: auths.{key}.auth is not base64 of user:password")
            return user, password
        if entry.get("username") and "password" in entry:
            return entry["username"], entry["password"]
    if config.get("credsStore"):
        return _credential_helper(config["credsStore"], registry)
    return None


_CREDENTIALS_HINT = " (credentials: HUB_REGISTRY_USER/HUB_REGISTRY_PASSWORD, or `docker login`)"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if req.get_method() in ("GET", "HEAD"):
            return super().redirect_request(req, fp, code, msg, headers, newurl)
        return None


class RegistryClient:
    """Just enough of the OCI distribution API to push by digest: blob HEAD / POST+PUT
    (monolithic upload), manifest PUT. Basic and bearer-token authentication."""

    def __init__(
        self,
        registry: str,
        repository: str,
        *,
        insecure: bool = False,
        credentials: tuple[str, str] | None = None,
        timeout: float = 120,
    ):
        self.base = f"{'http' if insecure else 'https'}://{registry}"
        self.repository = repository
        self.credentials = credentials
        self.timeout = timeout
        self.auth_header: str | None = None
        self.opener = urllib.request.build_opener(_NoRedirect())

    def _basic(self) -> str | None:
        if not self.credentials:
            return None
        raw = f"{self.credentials[0]}:{self.credentials[1]}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _authenticate(self, challenge: str) -> bool:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self.auth_header = self._basic()
            return self.auth_header is not None
        if scheme.lower() != "bearer":
            return False
        values = dict(re.findall(r'(\w+)="([^"]*)"', params))
        if "realm" not in values:
            return False
        query = {"service": values.get("service", ""), "scope": f"repository:{self.repository}:pull,push"}
        url = (
            values["realm"]
            + ("&" if "?" in values["realm"] else "?")
            + urllib.parse.urlencode({k: v for k, v in query.items() if v})
        )
        req = urllib.request.Request(url)
        basic = self._basic()
        if basic:
            req.add_header("Authorization", basic)
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                token = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            hint = _CREDENTIALS_HINT if e.code in (401, 403) else ""
            raise HubError(f"{values['realm']}: cannot get a registry token: HTTP {e.code}{hint}")
        except (urllib.error.URLError, ValueError) as e:
            raise HubError(f"{values['realm']}: cannot get a registry token ({e})")
        value = token.get("token") or token.get("access_token")
        if not value:
            raise HubError(f"{values['realm']}: the token response has no token")
        self.auth_header = f"Bearer {value}"
        return True

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Callable[[], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Sequence[int] = (200,),
    ) -> tuple[int, Any, bytes]:
        if not url.startswith(("http://", "https://")):
            url = urllib.parse.urljoin(self.base + "/", url.lstrip("/")) if not url.startswith("/") else self.base + url
        for attempt in range(2):
            req = urllib.request.Request(url, data=body() if body else None, method=method)
            for k, v in (headers or {}).items():
                req.add_header(k, v)
            if self.auth_header:
                req.add_header("Authorization", self.auth_header)
            try:
                with self.opener.open(req, timeout=self.timeout) as resp:
                    status, resp_headers, data = resp.status, resp.headers, resp.read()
            except urllib.error.HTTPError as e:
                status, resp_headers, data = e.code, e.headers, e.read()
            except urllib.error.URLError as e:
                raise HubError(f"{method} {url}: {e.reason}")
            if status == 401 and attempt == 0 and self._authenticate(resp_headers.get("WWW-Authenticate", "")):
                continue
            if status not in ok:
                detail = data.decode("utf-8", "replace")[:500]
                hint = _CREDENTIALS_HINT if status in (401, 403) else ""
                raise HubError(f"{method} {url}: HTTP {status}{hint}: {detail}")
            return status, resp_headers, data
        raise AssertionError("unreachable")

    def has_blob(self, digest: str) -> bool:
        status, _, _ = self.request("HEAD", f"/v2/{self.repository}/blobs/{digest}", ok=(200, 404))
        return status == 200

    def push_blob(self, path: Path, digest: str) -> bool:
        """Uploads a blob unless the registry has it; returns whether it was uploaded."""
        if self.has_blob(digest):
            return False
        _, headers, _ = self.request("POST", f"/v2/{self.repository}/blobs/uploads/", ok=(202,))
        location = headers.get("Location")
        if not location:
            raise HubError(f"{self.base}: the upload response has no Location")
        location = urllib.parse.urljoin(self.base + "/", location)
        url = location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        size = path.stat().st_size
        files: list[IO[bytes]] = []

        def body() -> IO[bytes]:
            for f in files:
                f.close()
            files.append(open(path, "rb"))
            return files[-1]

        try:
            _, headers, _ = self.request(
                "PUT",
                url,
                body=body,
                ok=(201,),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
        finally:
            for f in files:
                f.close()
        got = headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise HubError(f"{self.base}: blob uploaded as {got}, expected {digest}")
        return True

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        _, headers, _ = self.request(
            "PUT",
            f"/v2/{self.repository}/manifests/{reference}",
            body=lambda: data,
            ok=(201, 200),
            headers={"Content-Type": media_type},
        )
        digest = headers.get("Docker-Content-Digest") or blob_digest(data)
        if digest != blob_digest(data):
            raise HubError(f"{self.base}: manifest stored as {digest}, expected {blob_digest(data)}")
        return digest


def _select(layout: Layout, ref: str | None) -> dict[str, Any]:
    """The image to push: the entry of index.json named ``ref``, else the only entry, else
    the only image index (hub's layouts also name each platform's manifest <tag>-<arch>)."""
    entries = layout.index()["manifests"]
    if ref is not None:
        chosen = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) == ref]
    elif len(entries) == 1:
        chosen = entries
    else:
        chosen = [e for e in entries if e.get("mediaType") in INDEX_TYPES]
    if len(chosen) != 1:
        what = f"named {ref!r}" if ref is not None else "to push (name one with --ref)"
        raise HubError(f"{layout.root}/index.json: {len(chosen)} images {what}; expected one")
    return chosen[0]


def push_layout(
    layout_dir: str | os.PathLike[str],
    *,
    registry: str,
    repository: str,
    tags: Sequence[str],
    ref: str | None = None,
    insecure: bool = False,
    credentials: tuple[str, str] | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> str:
    """Pushes the layout's image by digest: every blob, each platform manifest, the index,
    and only then the tags. Returns the index (or single manifest) digest."""
    layout = Layout(layout_dir)
    top = _select(layout, ref)
    client = RegistryClient(registry, repository, insecure=insecure, credentials=credentials)
    top_data = layout.read(top["digest"])
    top_json = json.loads(top_data)
    children = []
    if top["mediaType"] in INDEX_TYPES:
        for d in top_json["manifests"]:
            children.append((d, layout.read(d["digest"])))
    else:
        children = []
    for desc, data in children or [(top, top_data)]:
        m = json.loads(data)
        for blob in [m["config"], *m.get("layers", [])]:
            if client.push_blob(layout.blob_path(blob["digest"]), blob["digest"]):
                log(f"pushed blob {blob['digest']} ({blob['size']} bytes)")
            else:
                log(f"blob {blob['digest']} already present")
        client.put_manifest(desc["digest"], data, desc["mediaType"])
        log(f"pushed manifest {desc['digest']} {json.dumps(desc.get('platform', {}), sort_keys=True)}")
    if children:
        client.put_manifest(top["digest"], top_data, top["mediaType"])
        log(f"pushed index {top['digest']}")
    for tag in tags:
        if not TAG_RE.match(tag):
            raise HubError(f"tag {tag!r} is not a valid tag")
        client.put_manifest(tag, top_data, top["mediaType"])
        log(f"tagged {registry}/{repository}:{tag}")
    return top["digest"]
