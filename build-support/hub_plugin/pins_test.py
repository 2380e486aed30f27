from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from hub_plugin.pins import PinCheck, PinCheckRequest, check_pin, unpinned_message
from hub_plugin.subsystems import HubSubsystem
from hub_plugin.testutil import Capture, digest
from hub_plugin.upstream import ExporterInputs, ExporterInputsRequest, UpstreamError
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

SPEC_PATH = "exporters/node_exporter"
PINNED = ExporterInputs(
    digest=digest(1),
    manifest_path=f"{SPEC_PATH}/manifest.yaml",
    lock_path=f"{SPEC_PATH}/upstream.lock.json",
    binaries=("node_exporter",),
    pins=(("amd64", "https://github.com/o/r/a.tar.gz", "a" * 64, 10),),
    lock_version="v1.11.0",
)
UNPINNED = replace(PINNED, pins=(), lock_version=None)


def check(inputs: ExporterInputs, archs: tuple[str, ...] = (), require_pinned: bool = False) -> PinCheck:
    requests = Capture[ExporterInputsRequest]()
    result = run_rule_with_mocks(
        check_pin,
        rule_args=[
            PinCheckRequest(SPEC_PATH, "v1.11.0", archs),
            create_subsystem(HubSubsystem, require_pinned=require_pinned),
        ],
        mock_gets=[MockGet(ExporterInputs, (ExporterInputsRequest,), requests.returning(inputs))],
    )
    assert requests.only == ExporterInputsRequest(SPEC_PATH)
    return result


def test_a_pinned_exporter_is_built(caplog) -> None:
    assert check(PINNED) == PinCheck(True)
    assert check(PINNED, ("amd64",)) == PinCheck(True)
    assert not caplog.records


def test_an_unpinned_exporter_is_skipped_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert check(UNPINNED) == PinCheck(False)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "Skipping exporters/node_exporter (shown as missing): exporters/node_exporter: its "
        "upstream is not pinned. Pin it with `./pants update-lock exporters/node_exporter::` "
        "(downloads the release; set [hub].upstream_mirror for a mirror)."
    )


def test_require_pinned_makes_an_unpinned_exporter_an_error(caplog) -> None:
    with pytest.raises(UpstreamError, match=r"not pinned\..*\(\[hub\]\.require_pinned is set\.\)"):
        check(UNPINNED, require_pinned=True)
    assert not caplog.records


def test_an_arch_missing_from_the_lock_is_not_pinned(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert check(PINNED, ("amd64", "arm64")) == PinCheck(False)
    assert "upstream.lock.json has no archive for arm64." in caplog.records[0].getMessage()
    with pytest.raises(UpstreamError, match="has no archive for arm64"):
        check(PINNED, ("arm64",), require_pinned=True)


@pytest.mark.parametrize(
    "inputs, version, archs, reason",
    [
        (UNPINNED, "v1.11.0", (), "its upstream is not pinned"),
        (
            PINNED,
            "v1.12.0",
            (),
            "exporters/node_exporter/upstream.lock.json pins v1.11.0, but the manifest says v1.12.0",
        ),
        (PINNED, "v1.11.0", ("arm64",), "exporters/node_exporter/upstream.lock.json has no archive for arm64"),
        (PINNED, "v1.11.0", ("amd64",), None),
    ],
)
def test_unpinned_message(inputs: ExporterInputs, version: str, archs: tuple[str, ...], reason: str | None) -> None:
    message = unpinned_message(inputs, version, archs)
    if reason is None:
        assert message is None
    else:
        assert message is not None and message.startswith(f"exporters/node_exporter: {reason}. Pin it with")
