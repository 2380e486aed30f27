"""`./pants publish`: images to a registry, the site to `HUB_PUBLISH_DIR`.

Both run outside the sandbox and the cache (InteractiveProcess), with secrets taken from the
environment only:
- `exporters/<name>#docker` pushes the image by digest, then tags it; registry credentials
  come from HUB_REGISTRY_USER/HUB_REGISTRY_PASSWORD or the docker config, never the repository;
- `//:site` signs the RPMs and repository metadata with HUB_SIGNING_KEY (or HUB_GNUPGHOME +
  HUB_SIGNING_KEY_ID) and switches `HUB_PUBLISH_DIR/current` to a complete new snapshot. The
  key never enters a sandbox input, the cache or dist/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import ExporterNameField, ImageArchesField, SiteExportersField
from pants.core.goals.publish import (
    PublishFieldSet,
    PublishOutputData,
    PublishPackages,
    PublishProcesses,
    PublishRequest,
)
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, DigestContents, DigestSubset, MergeDigests, PathGlobs
from pants.engine.process import InteractiveProcess, Process
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict


class PublishError(Exception):
    """What was built cannot be published (a build bug, not bad input)."""


REGISTRY_ENV = ("HUB_REGISTRY_USER", "HUB_REGISTRY_PASSWORD", "DOCKER_CONFIG", "HOME", "SSL_CERT_FILE")


class PublishImageRequest(PublishRequest):
    pass


@dataclass(frozen=True)
class PublishImageFieldSet(PublishFieldSet):
    publish_request_type = PublishImageRequest
    required_fields = (ImageArchesField,)

    exporter: ExporterNameField
    archs: ImageArchesField

    def get_output_data(self) -> PublishOutputData:
        return PublishOutputData({"publisher": "hub-image", **super().get_output_data()})


@rule(desc="Push an exporter image")
async def push_image(request: PublishImageRequest, hub: HubSubsystem) -> PublishProcesses:
    exporter = request.field_set.exporter.value
    digests = [pkg.digest for pkg in request.packages]
    if not digests or all(not pkg.artifacts for pkg in request.packages):
        return PublishProcesses([PublishPackages(names=(exporter,), description="(not built: upstream not pinned)")])
    merged = await Get(Digest, MergeDigests(digests))
    # Only docker.json is read: the layout's blobs stay in the store.
    docker_json = f"{exporter}/docker.json"
    subset = await Get(Digest, DigestSubset(merged, PathGlobs([docker_json])))
    contents = await Get(DigestContents, Digest, subset)
    if not contents:
        raise PublishError(f"{exporter}#docker: the built image has no {docker_json}")
    images = json.loads(contents[0].content)["images"]
    tags = sorted({i["tag"] for i in images})
    repository = images[0]["repository"]
    registry = images[0]["registry"]
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(REGISTRY_ENV))
    process = await Get(
        Process,
        HubProcess(
            argv=(
                "image-push",
                "--layout",
                f"{exporter}/oci",
                "--registry",
                registry,
                "--repository",
                repository,
                *(a for t in tags for a in ("--tag", t)),
                *(("--insecure",) if hub.image_registry_insecure else ()),
            ),
            description=f"Push {registry}/{repository}",
            input_digest=merged,
            env=FrozenDict(env),
            cacheable=False,
        ),
    )
    return PublishProcesses(
        [
            PublishPackages(
                names=tuple(f"{registry}/{repository}:{t}" for t in tags),
                process=InteractiveProcess.from_process(process),
            )
        ]
    )


SIGNING_ENV = (
    "HUB_SIGNING_KEY",
    "HUB_SIGNING_KEY_PASSPHRASE",
    "HUB_GNUPGHOME",
    "HUB_SIGNING_KEY_ID",
    "HUB_PUBLISH_DIR",
    "HUB_PUBLISH_KEEP",
    "PATH",
    "HOME",
)


class PublishSiteRequest(PublishRequest):
    pass


@dataclass(frozen=True)
class PublishSiteFieldSet(PublishFieldSet):
    publish_request_type = PublishSiteRequest
    required_fields = (SiteExportersField,)

    exporters: SiteExportersField

    def get_output_data(self) -> PublishOutputData:
        return PublishOutputData({"publisher": "hub-site", **super().get_output_data()})


@rule(desc="Sign and publish the site")
async def publish_site(request: PublishSiteRequest, hub: HubSubsystem) -> PublishProcesses:
    env = dict(await Get(EnvironmentVars, EnvironmentVarsRequest(SIGNING_ENV)))
    dest = env.get("HUB_PUBLISH_DIR")
    if not dest:
        return PublishProcesses([PublishPackages(names=("site",), description="(HUB_PUBLISH_DIR is not set)")])
    merged = await Get(Digest, MergeDigests(pkg.digest for pkg in request.packages))
    process = await Get(
        Process,
        HubProcess(
            argv=(
                "publish",
                "--site",
                "site",
                "--dest",
                dest,
                "--base-url",
                hub.site_url,
                *(("--keep", env["HUB_PUBLISH_KEEP"]) if env.get("HUB_PUBLISH_KEEP") else ()),
            ),
            description=f"Sign and publish the site to {dest}",
            input_digest=merged,
            env=FrozenDict(env),
            cacheable=False,
        ),
    )
    # from_process keeps the sandbox never, whatever --keep-sandboxes says: a kept sandbox's
    # __run.sh would hold the whole environment, the signing key included.
    return PublishProcesses(
        [PublishPackages(names=(f"{dest}/current",), process=InteractiveProcess.from_process(process))]
    )


def rules():
    return (*collect_rules(), *PublishImageFieldSet.rules(), *PublishSiteFieldSet.rules())
