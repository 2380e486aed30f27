"""``hub image-validate``: an image's smoke test in a real Docker engine (Docker SDK).

The manifest's ``artifacts.docker.validation`` says what to fetch (a path, by default
``/metrics``) and what the answer must contain. The check loads one platform's ``docker load``
archive, inspects it, runs it with the host network, fetches the metrics and checks that the
process runs as the image's user. The Docker SDK is imported only here, when a check runs.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from hub.common.errors import HubError
from hub.image.accounts import image_account


def validate_image(
    archive: str | os.PathLike[str],
    manifest: Any,
    *,
    docker_url: str | None = None,
    port: int | None = None,
    args: Sequence[str] = (),
    timeout: float = 60,
) -> dict[str, Any]:
    """The manifest's smoke test (``artifacts.docker.validation``) in a real Docker engine,
    through the Docker SDK: load the archive, inspect it (user, platform), run it with the host
    network, GET ``http://127.0.0.1:<port><path>`` and look for the expected metric, and check
    that the process runs as the image's user. ``args`` replace the image's Cmd (for example
    ``--web.listen-address=127.0.0.1:<port>``). The engine is ``docker_url``, else the
    environment's (DOCKER_HOST). Returns what was checked; raises HubError on a failure."""
    import time
    import urllib.request

    try:
        import docker
    except ImportError:  # pragma: no cover - docker is in the engine lockfile
        raise HubError("validating an image needs the Docker SDK (the `docker` package)") from None

    spec = manifest.docker
    if spec is None:
        raise HubError(f"{manifest.path}: artifacts.docker.enabled is false")
    validation = spec.validation
    path = validation.path if validation else "/metrics"
    expect = validation.expect if validation else None
    port = port or spec.port
    if port is None:
        raise HubError(f"{manifest.path}: no port to validate on (artifacts.docker.port)")
    account = image_account(spec.user)
    try:
        client = (
            docker.DockerClient(base_url=docker_url, version="auto") if docker_url else docker.from_env(version="auto")
        )
        client.ping()
    except docker.errors.DockerException as e:
        raise HubError(f"cannot reach a Docker engine ({docker_url or 'DOCKER_HOST'}): {e}")
    try:
        with open(archive, "rb") as f:
            loaded = client.images.load(f)
        if len(loaded) != 1:
            raise HubError(f"{archive}: expected one image, docker loaded {len(loaded)}")
        image_id = loaded[0].id
        attrs = client.api.inspect_image(image_id)
        user = (attrs.get("Config") or {}).get("User")
        if user != account.user_spec:
            raise HubError(f"{archive}: the image runs as {user!r}, expected {account.user_spec!r} ({account.name})")
        container = client.containers.run(image_id, list(args) or None, network_mode="host", detach=True)
        try:
            url = f"http://127.0.0.1:{port}{path}"
            deadline = time.monotonic() + timeout
            while True:
                container.reload()
                if container.status in ("exited", "dead"):
                    logs = container.logs().decode("utf-8", "replace")[-2000:]
                    raise HubError(
                        f"{archive}: the container exited ({container.attrs['State'].get('ExitCode')}):\n{logs}"
                    )
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        body = response.read().decode("utf-8", "replace")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        logs = container.logs().decode("utf-8", "replace")[-2000:]
                        raise HubError(f"{url} did not answer within {timeout:.0f} s:\n{logs}")
                    time.sleep(0.3)
            if expect and expect not in body:
                raise HubError(f"{url}: the answer has no {expect!r}")
            top = container.top(ps_args="-o pid,uid,gid")
            ids = {tuple(row[1:3]) for row in top.get("Processes") or []}
            if ids != {(str(account.uid), str(account.gid))}:
                raise HubError(f"{archive}: the processes run as uid:gid {sorted(ids)}, expected {account.user_spec}")
        finally:
            container.remove(force=True)
    finally:
        client.close()
    return {
        "image_id": image_id,
        "user": account.user_spec,
        "url": url,
        "expect": expect,
        "architecture": attrs.get("Architecture"),
    }
