"""The `hub image` request: keys, registry and repository syntax, binaries per arch, a lock
that matches the manifest.
"""

from __future__ import annotations

import json

import pytest

from hub.common.errors import HubError
from hub.image.request import build
from testkit.images import Workspace, lock_data


def test_missing_binaries_and_bad_requests(ws: Workspace) -> None:
    with pytest.raises(HubError, match="no binaries for arm64"):
        ws.build(binaries={"amd64": "binaries/amd64"})
    with pytest.raises(HubError, match="repository"):
        ws.build(repository="Upper/Case")
    with pytest.raises(HubError, match="unknown key"):
        ws.build(colour="blue")
    req = ws.request()
    del req["registry"]
    with pytest.raises(HubError, match="missing registry"):
        build(req, base_dir=str(ws.root))


def test_stale_lock_is_refused(ws: Workspace) -> None:
    lock = lock_data()
    lock["version"] = "v1.0.0"
    (ws.exporter / "upstream.lock.json").write_text(json.dumps(lock))
    with pytest.raises(HubError, match="stale"):
        ws.build()
