"""The image config of one platform, and the labels it shares with the manifests and index.

The *config* is the JSON blob a platform's manifest names: the platform, ``created``, the
runtime settings (``config``: User, Env, Entrypoint, Cmd, ExposedPorts, WorkingDir,
Labels), ``rootfs.diff_ids`` (one per layer, base layers first) and ``history`` (one entry
per layer, then an empty one for the config itself). The *labels* are the
``org.opencontainers.image.*`` annotations; everything comes from the manifest and the lock,
never from the clock or the repository's own commit.
"""

from __future__ import annotations

from typing import Any, Sequence

from hub.common import matrix
from hub.image.accounts import Account
from hub.image.base import BaseImage
from hub.image.layers import Layer

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def image_labels(manifest: Any, source_date: str) -> dict[str, str]:
    """org.opencontainers.image.* from the inputs: the manifest and the lock, never the clock
    or the repository's own commit. ``revision`` is the upstream release tag the binaries were
    built from (a source-control revision of the packaged software)."""
    labels = {
        "org.opencontainers.image.title": manifest.name,
        "org.opencontainers.image.description": manifest.description,
        "org.opencontainers.image.version": manifest.clean_version,
        "org.opencontainers.image.revision": manifest.tag,
        "org.opencontainers.image.created": source_date,
    }
    if manifest.upstream.repo:
        labels["org.opencontainers.image.source"] = f"https://github.com/{manifest.upstream.repo}"
    elif manifest.homepage:
        labels["org.opencontainers.image.source"] = manifest.homepage
    if manifest.homepage:
        labels["org.opencontainers.image.url"] = manifest.homepage
    if manifest.license:
        labels["org.opencontainers.image.licenses"] = manifest.license
    return labels


def history_entry(comment: str, source_date: str, *, empty: bool = False) -> dict[str, Any]:
    """The config's history entry of one layer (or, ``empty``, of a change with no layer)."""
    h: dict[str, Any] = {"created": source_date, "created_by": f"hub image: {comment}", "comment": "Monitoring Hub"}
    if empty:
        h["empty_layer"] = True
    return h


def image_config(
    manifest: Any,
    arch: str,
    account: Account,
    layers: Sequence[Layer],
    source_date: str,
    base: BaseImage | None,
) -> dict[str, Any]:
    """The config of the ``arch`` image: the base's settings (environment, labels, ports,
    volumes...) with the manifest's on top, and ``layers`` after the base's."""
    docker = manifest.docker
    base_cfg = (base.config.get("config") or {}) if base else {}
    env: dict[str, str] = {}
    for item in base_cfg.get("Env") or []:  # the base's environment, in its order
        env[item.split("=", 1)[0]] = item
    env.setdefault("PATH", DEFAULT_PATH)
    labels = dict(base_cfg.get("Labels") or {})
    labels.update(image_labels(manifest, source_date))
    if base is not None:
        labels["org.opencontainers.image.base.name"] = base.name
        labels["org.opencontainers.image.base.digest"] = base.manifest_digest
    cfg: dict[str, Any] = {
        "User": account.user_spec,
        "Env": list(env.values()),
        "Entrypoint": list(docker.entrypoint) or [f"/usr/bin/{manifest.build.binary_name}"],
        "Labels": labels,
    }
    if docker.cmd:
        cfg["Cmd"] = list(docker.cmd)
    ports = dict(base_cfg.get("ExposedPorts") or {})
    if docker.port is not None:
        ports[f"{docker.port}/tcp"] = {}
    if ports:
        cfg["ExposedPorts"] = ports
    if not account.is_root:
        cfg["WorkingDir"] = account.home
    elif base_cfg.get("WorkingDir"):
        cfg["WorkingDir"] = base_cfg["WorkingDir"]
    for key in ("Volumes", "StopSignal"):
        if base_cfg.get(key):
            cfg[key] = base_cfg[key]
    platform = matrix.OCI_PLATFORM[arch]
    history = list(base.config.get("history") or []) if base else []
    if base is not None and not history:
        history = [history_entry(f"base layer {i}", source_date) for i in range(len(base.layers))]
    history += [history_entry(layer.comment, source_date) for layer in layers]
    history.append(history_entry(f"config: user {account.name}", source_date, empty=True))
    base_ids = list((base.config.get("rootfs") or {}).get("diff_ids") or []) if base else []
    config = {
        "architecture": platform["architecture"],
        "os": platform["os"],
        "created": source_date,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": base_ids + [layer.diff_id for layer in layers]},
        "history": history,
    }
    if "variant" in platform:
        config["variant"] = platform["variant"]
    return config
