"""`./pants publish exporters/<name>#docker`: push the image by digest, then tag it.

The push runs outside the sandbox and the cache (an InteractiveProcess), with registry
credentials taken from the environment (HUB_REGISTRY_USER/HUB_REGISTRY_PASSWORD) or the docker
config (DOCKER_CONFIG, ~/.docker/config.json): never from files in the repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hub_plugin.engine import HubProcess
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import ExporterNameField, ImageArchesField
from pants.core.goals.publish import (
    PublishFieldSet,
    PublishOutputData,
    PublishPackages,
    PublishProcesses,
    PublishRequest,
)
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, DigestContents, MergeDigests
from pants.engine.process import InteractiveProcess, Process
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict

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
        return PublishProcesses(
            [PublishPackages(names=(exporter,), description="(not built: upstream not pinned)")]
        )
    merged = await Get(Digest, MergeDigests(digests))
    contents = await Get(DigestContents, Digest, merged)
    docker_json = next(c for c in contents if c.path == f"{exporter}/docker.json")
    images = json.loads(docker_json.content)["images"]
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


def rules():
    return (*collect_rules(), *PublishImageFieldSet.rules())
