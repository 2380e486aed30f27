from __future__ import annotations

import json
from typing import Any

import pytest

from hub_plugin.engine import HubProcess
from hub_plugin.publish_rules import (
    REGISTRY_ENV,
    SIGNING_ENV,
    PublishError,
    PublishImageFieldSet,
    PublishImageRequest,
    PublishSiteFieldSet,
    PublishSiteRequest,
    publish_site,
    push_image,
)
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.target_types import ExporterImageTarget, HubSiteTarget
from hub_plugin.testutil import Capture, digest, never
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact
from pants.core.goals.publish import PublishPackages, PublishProcesses
from pants.engine.addresses import Address
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import Digest, DigestContents, DigestSubset, FileContent, MergeDigests, PathGlobs
from pants.engine.process import InteractiveProcess, Process
from pants.option.global_options import KeepSandboxes
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks
from pants.util.frozendict import FrozenDict

IMAGE = ExporterImageTarget(
    {"exporter": "node_exporter", "version": "v1.11.0", "archs": ["amd64", "arm64"]},
    Address("exporters/node_exporter", generated_name="docker"),
)
SITE = HubSiteTarget({}, Address("", target_name="site"))
DOCKER_JSON = {
    "images": [
        {"registry": "ghcr.io", "repository": "monitoring-hub/node_exporter", "tag": t}
        for t in ("v1.11.0", "latest", "v1.11.0")
    ]
}
IMAGE_BUILT = BuiltPackage(digest(1), (BuiltPackageArtifact("node_exporter/docker.json"),))


def as_process(request: HubProcess) -> Process:
    """What hub_process makes of a HubProcess, minus the PEX (enough for InteractiveProcess)."""
    return Process(request.argv, description=request.description, input_digest=request.input_digest, env=request.env)


def push(packages: tuple[BuiltPackage, ...], docker_json: Any = DOCKER_JSON, **options: Any):
    subsets = Capture[DigestSubset]()
    env_requests = Capture[EnvironmentVarsRequest]()
    processes = Capture[HubProcess]()
    contents = (
        [] if docker_json is None else [FileContent("node_exporter/docker.json", json.dumps(docker_json).encode())]
    )
    result = run_rule_with_mocks(
        push_image,
        rule_args=[
            PublishImageRequest(PublishImageFieldSet.create(IMAGE), packages),
            create_subsystem(HubSubsystem, **{"image_registry_insecure": False, **options}),
        ],
        mock_gets=[
            MockGet(Digest, (MergeDigests,), lambda _: digest(2)),
            MockGet(Digest, (DigestSubset,), subsets.returning(digest(3))),
            MockGet(DigestContents, (Digest,), lambda _: DigestContents(contents)),
            MockGet(
                EnvironmentVars,
                (EnvironmentVarsRequest,),
                env_requests.returning(EnvironmentVars({"HOME": "/home/ci", "HUB_REGISTRY_USER": "bot"})),
            ),
            MockGet(Process, (HubProcess,), processes.answering(as_process)),
        ],
    )
    return result, subsets, env_requests, processes


def test_an_image_is_pushed_with_each_of_its_tags() -> None:
    result, subsets, env_requests, processes = push((IMAGE_BUILT,))
    assert subsets.only == DigestSubset(digest(2), PathGlobs(["node_exporter/docker.json"]))
    # Registry credentials come from the environment only, and only these names.
    assert env_requests.only == EnvironmentVarsRequest(REGISTRY_ENV)
    assert processes.only == HubProcess(
        argv=(
            "image-push",
            "--layout",
            "node_exporter/oci",
            "--registry",
            "ghcr.io",
            "--repository",
            "monitoring-hub/node_exporter",
            "--tag",
            "latest",
            "--tag",
            "v1.11.0",
        ),
        description="Push ghcr.io/monitoring-hub/node_exporter",
        input_digest=digest(2),
        env=FrozenDict({"HOME": "/home/ci", "HUB_REGISTRY_USER": "bot"}),
        cacheable=False,
    )
    (published,) = result
    assert published.names == (
        "ghcr.io/monitoring-hub/node_exporter:latest",
        "ghcr.io/monitoring-hub/node_exporter:v1.11.0",
    )
    assert isinstance(published.process, InteractiveProcess)
    assert published.process.process.argv == processes.only.argv


def test_an_insecure_registry_is_an_option() -> None:
    _, _, _, processes = push((IMAGE_BUILT,), image_registry_insecure=True)
    assert processes.only.argv[-1] == "--insecure"


def test_an_image_that_was_not_built_is_not_pushed() -> None:
    result = run_rule_with_mocks(
        push_image,
        rule_args=[
            PublishImageRequest(PublishImageFieldSet.create(IMAGE), (BuiltPackage(digest(0), ()),)),
            create_subsystem(HubSubsystem),
        ],
        mock_gets=[
            MockGet(Digest, (MergeDigests,), never),
            MockGet(Digest, (DigestSubset,), never),
            MockGet(DigestContents, (Digest,), never),
            MockGet(EnvironmentVars, (EnvironmentVarsRequest,), never),
            MockGet(Process, (HubProcess,), never),
        ],
    )
    assert result == PublishProcesses(
        [PublishPackages(names=("node_exporter",), description="(not built: upstream not pinned)")]
    )


def test_an_image_build_without_docker_json_is_an_error() -> None:
    with pytest.raises(PublishError, match="node_exporter#docker: the built image has no node_exporter/docker.json"):
        push((IMAGE_BUILT,), docker_json=None)


def publish(env: dict[str, str]):
    env_requests = Capture[EnvironmentVarsRequest]()
    processes = Capture[HubProcess]()
    result = run_rule_with_mocks(
        publish_site,
        rule_args=[
            PublishSiteRequest(PublishSiteFieldSet.create(SITE), (BuiltPackage(digest(1), ()),)),
            create_subsystem(HubSubsystem, site_url="https://hub.example.org/"),
        ],
        mock_gets=[
            MockGet(EnvironmentVars, (EnvironmentVarsRequest,), env_requests.returning(EnvironmentVars(env))),
            MockGet(Digest, (MergeDigests,), lambda _: digest(2)),
            MockGet(Process, (HubProcess,), processes.answering(as_process)),
        ],
    )
    assert env_requests.only == EnvironmentVarsRequest(SIGNING_ENV)
    return result, processes


def test_the_site_is_signed_and_published_outside_the_sandbox_and_the_cache() -> None:
    env = {
        "HUB_SIGNING_KEY": "-----BEGIN PGP PRIVATE KEY BLOCK-----",
        "HUB_PUBLISH_DIR": "/srv/hub",
        "HUB_PUBLISH_KEEP": "3",
    }
    result, processes = publish(env)
    assert processes.only == HubProcess(
        argv=(
            "publish",
            "--site",
            "site",
            "--dest",
            "/srv/hub",
            "--base-url",
            "https://hub.example.org/",
            "--keep",
            "3",
        ),
        description="Sign and publish the site to /srv/hub",
        input_digest=digest(2),
        env=FrozenDict(env),
        cacheable=False,
    )
    (published,) = result
    assert published.names == ("/srv/hub/current",)
    assert isinstance(published.process, InteractiveProcess)
    # The key is in the process' environment: its sandbox must never be kept.
    assert published.process.keep_sandboxes == KeepSandboxes.never


def test_the_site_is_not_published_without_a_destination() -> None:
    result, processes = publish({"HUB_SIGNING_KEY": "k"})
    assert processes.values == []
    assert result == PublishProcesses([PublishPackages(names=("site",), description="(HUB_PUBLISH_DIR is not set)")])
