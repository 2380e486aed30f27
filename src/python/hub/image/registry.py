"""``hub image-push``: pushing an OCI layout to a registry by digest (OCI distribution API).

Vocabulary: a *registry* is ``host[:port]``, a *repository* a lowercase path in it
(``monitoring-hub/node_exporter``), a *tag* a name for a manifest or index in a repository.
A push uploads every blob the registry lacks (in chunks), then each platform's manifest and
the index by digest, and only then the tags, so a tag never points to something incomplete.

Credentials come from the environment (``HUB_REGISTRY_USER``/``HUB_REGISTRY_PASSWORD``) or
the user's docker config, never from a file of the repository; :mod:`hub.image.registry_http`
sends them to the registry's origin only.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from hub.common.errors import HubError
from hub.image.layout import INDEX_TYPES, REF_NAME, Layout, blob_digest
from hub.image.registry_http import DEFAULT_ATTEMPTS, RegistrySession, Response

REGISTRY_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
REPOSITORY_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DEFAULT_CHUNK_SIZE = 8 << 20  # bytes per PATCH: what one request holds in memory


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


class RegistryClient:
    """Just enough of the OCI distribution API to push by digest: blob HEAD, chunked upload
    (POST, PATCH chunks, PUT ?digest=), manifest PUT. The HTTP rules (credentials bound to the
    registry's origin, Basic only over https or loopback, retries) are :mod:`registry_http`'s."""

    def __init__(
        self,
        registry: str,
        repository: str,
        *,
        insecure: bool = False,
        credentials: tuple[str, str] | None = None,
        timeout: float = 120,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.session = RegistrySession(
            f"{'http' if insecure else 'https'}://{registry}",
            repository,
            credentials=credentials,
            timeout=timeout,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
        )
        self.base = self.session.base
        self.repository = repository
        self.chunk_size = chunk_size

    def has_blob(self, digest: str) -> bool:
        response = self.session.request("HEAD", f"/v2/{self.repository}/blobs/{digest}", ok=(200, 404))
        return response.status == 200

    def push_blob(self, path: Path, digest: str) -> bool:
        """Uploads a blob unless the registry has it; returns whether it was uploaded.

        In chunks: POST starts an upload session, each chunk is a PATCH with its Content-Range
        (at most ``chunk_size`` bytes in memory), and a PUT with the digest closes it."""
        if self.has_blob(digest):
            return False
        response = self.session.request("POST", f"/v2/{self.repository}/blobs/uploads/", ok=(202,))
        location = _location(response)
        min_chunk = response.headers.get("OCI-Chunk-Min-Length", "")
        chunk_size = max(self.chunk_size, int(min_chunk) if min_chunk.isdigit() else 0)
        size = path.stat().st_size
        offset = 0
        with open(path, "rb") as f:
            while offset < size:
                f.seek(offset)
                chunk = f.read(chunk_size)
                if not chunk:
                    raise HubError(f"{path}: shorter than its {size} bytes while uploading")
                response = self.session.request(
                    "PATCH",
                    location,
                    body=chunk,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                        "Content-Length": str(len(chunk)),
                    },
                    ok=(202, 416),
                )
                if response.status == 416:
                    # a chunk sent again after a broken connection, which the registry had
                    # taken already: continue from where the registry says the upload stands
                    location, stored = self._upload_status(location, offset)
                    offset = stored
                    continue
                location = _location(response) if response.headers.get("Location") else location
                offset += len(chunk)
        close = location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        try:
            response = self.session.request(
                "PUT", close, body=b"", headers={"Content-Type": "application/octet-stream"}, ok=(201,)
            )
        except HubError:
            if self.has_blob(digest):  # the PUT went through but its answer was lost
                return True
            raise
        got = response.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise HubError(f"{self.base}: blob uploaded as {got}, expected {digest}")
        return True

    def _upload_status(self, location: str, offset: int) -> tuple[str, int]:
        """(location, bytes stored) of an upload session; the registry must have more than
        ``offset`` bytes, or the upload cannot go on."""
        response = self.session.request("GET", location, ok=(204,))
        match = re.fullmatch(r"0-([0-9]+)", response.headers.get("Range", "").strip())
        stored = int(match.group(1)) + 1 if match else 0
        if stored <= offset:
            raise HubError(
                f"PATCH {location}: the registry refused the chunk at byte {offset} (HTTP 416) and holds"
                f" {stored} bytes of the upload; expected more than {offset}"
            )
        return (_location(response) if response.headers.get("Location") else location), stored

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        response = self.session.request(
            "PUT",
            f"/v2/{self.repository}/manifests/{reference}",
            body=data,
            ok=(201, 200),
            headers={"Content-Type": media_type},
        )
        digest = response.headers.get("Docker-Content-Digest") or blob_digest(data)
        if digest != blob_digest(data):
            raise HubError(f"{self.base}: manifest stored as {digest}, expected {blob_digest(data)}")
        return digest


def _location(response: Response) -> str:
    """The upload session's URL, from a response's Location (relative to that response)."""
    location = response.headers.get("Location")
    if not location:
        raise HubError(f"{response.url}: the upload response has no Location")
    url = urllib.parse.urljoin(response.url, location)
    if not url.startswith(("https://", "http://")):
        raise HubError(f"{response.url}: the upload Location {location!r} is not an http(s) URL")
    return url


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
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda s: None,
) -> str:
    """Pushes the layout's image by digest: every blob, each platform manifest, the index,
    and only then the tags. Returns the index (or single manifest) digest.

    Each request is tried at most ``attempts`` times; ``sleep`` waits between attempts."""
    layout = Layout(layout_dir)
    top = _select(layout, ref)
    client = RegistryClient(
        registry,
        repository,
        insecure=insecure,
        credentials=credentials,
        chunk_size=chunk_size,
        attempts=attempts,
        sleep=sleep,
    )
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
