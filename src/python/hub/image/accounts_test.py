"""The image's accounts and system layer, member by member: the service user, root only when
the manifest says so, owners of the manifest's directories and files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.common.errors import HubError
from hub.image.accounts import NONROOT_UID
from testkit.images import EPOCH, MANIFEST, Workspace, image, layer_by_comment, make_ws, members, merge


def test_system_layer(ws: Workspace) -> None:
    built, _ = ws.build()
    got = members(built.layout_dir, layer_by_comment(built.layout_dir, "amd64", "system"))
    uid = NONROOT_UID
    expected = {
        "etc": ("dir", 0o755, 0, 0),
        "etc/demo_exporter": ("dir", 0o755, 0, 0),
        "etc/demo_exporter/demo.yml": ("file", 0o644, 0, 0),
        "etc/group": ("file", 0o644, 0, 0),
        "etc/passwd": ("file", 0o644, 0, 0),
        "tmp": ("dir", 0o1777, 0, 0),
        "var": ("dir", 0o755, 0, 0),
        "var/lib": ("dir", 0o755, 0, 0),
        # the manifest's directory (mode 0750) wins over the default home
        "var/lib/demo_exporter": ("dir", 0o750, uid, uid),
        # a file inside a service-owned directory belongs to the service, as in the packages
        "var/lib/demo_exporter/.secret.cnf": ("file", 0o600, uid, uid),
    }
    assert list(got) == list(expected)  # sorted, parents first
    assert {k: v[:4] for k, v in got.items()} == expected
    assert all(v[4] == EPOCH for v in got.values())
    assert got["etc/passwd"][5] == (
        b"root:x:0:0:root:/root:/sbin/nologin\n"
        b"demo_exporter:x:65532:65532:demo_exporter:/var/lib/demo_exporter:/sbin/nologin\n"
    )
    assert got["etc/group"][5] == b"root:x:0:\ndemo_exporter:x:65532:\n"
    assert got["etc/demo_exporter/demo.yml"][5] == b"modules: {}\n"


def test_root_only_when_explicit(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, {"artifacts": {"docker": {"user": "root"}}})
    built, doc = ws.build()
    _, config = image(built.layout_dir, "amd64")
    assert config["config"]["User"] == "0:0"
    assert "WorkingDir" not in config["config"]
    got = members(built.layout_dir, layer_by_comment(built.layout_dir, "amd64", "system"))
    assert got["etc/passwd"][5] == b"root:x:0:0:root:/root:/sbin/nologin\n"
    # service-owned directories fall back to root when the image runs as root
    assert got["var/lib/demo_exporter"][:4] == ("dir", 0o750, 0, 0)
    assert doc["user"] == "root"


def test_default_user_follows_the_packages_system_user(tmp_path: Path) -> None:
    m = merge(MANIFEST, {"artifacts": {"rpm": {"system_user": "prometheus"}}})
    # A shared account's paths are its own (the privilege policy: /var/lib/<user>).
    m["artifacts"]["rpm"]["directories"][1].update(path="/var/lib/prometheus", owner="prometheus", group="prometheus")
    m["artifacts"]["rpm"]["extra_files"][1]["dest"] = "/var/lib/prometheus/.secret.cnf"
    ws = Workspace(tmp_path / "ws", m)
    built, doc = ws.build()
    _, config = image(built.layout_dir, "amd64")
    assert config["config"]["User"] == "65532:65532"
    got = members(built.layout_dir, layer_by_comment(built.layout_dir, "amd64", "system"))
    assert b"\nprometheus:x:65532:65532:prometheus:/var/lib/prometheus:/sbin/nologin\n" in got["etc/passwd"][5]
    assert got["var/lib/prometheus"][:4] == ("dir", 0o750, 65532, 65532)  # as the manifest declares it
    assert doc["user"] == "prometheus"


def test_unknown_directory_owner_is_an_error(tmp_path: Path) -> None:
    m = merge(MANIFEST, {})
    m["artifacts"]["docker"]["user"] = "other"
    m["artifacts"]["rpm"]["system_user"] = "svc"
    m["artifacts"]["rpm"]["directories"][1].update(owner="nobody", group="nobody")
    ws = Workspace(tmp_path / "ws", m)
    # Refused by the manifest's validation, with its field, before any layer is written
    # (hub.image.build keeps its own check for a request that bypasses validation).
    with pytest.raises(
        HubError,
        match=re.escape("artifacts.rpm.directories[1].owner: expected root or the service user 'svc', got 'nobody'"),
    ):
        ws.build()
    assert not (tmp_path / "ws" / "out").exists() or not any((tmp_path / "ws" / "out").iterdir())
