"""hub.packaging.systemd: ExecStart= arguments quoted for systemd (the whole unit is checked in
plan_test.py, and by systemd-analyze in build_integration_test.py)."""

from __future__ import annotations

import pytest

from hub.common.errors import HubError
from hub.packaging import systemd


@pytest.mark.parametrize(
    "arg, quoted",
    [
        ("--web.listen-address=:9100", '"--web.listen-address=:9100"'),
        ("two words", '"two words"'),
        ("100%", '"100%%"'),
        ("%h/.my.cnf", '"%%h/.my.cnf"'),
        ("$HOME", '"$$HOME"'),
        ("${X}$$", '"$${X}$$$$"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\path\\", '"C:\\\\path\\\\"'),
        ("it's", '"it\'s"'),
        (";", '";"'),
        ("", '""'),
    ],
)
def test_systemd_quote(arg: str, quoted: str) -> None:
    assert systemd.systemd_quote(arg) == quoted


def test_systemd_quote_refuses_control_characters() -> None:
    with pytest.raises(HubError, match="control characters"):
        systemd.systemd_quote("a\nb")


def test_exec_start() -> None:
    assert systemd.exec_start("/usr/bin/x", []) == "/usr/bin/x $ARGS"
    assert systemd.exec_start("/usr/bin/x", ["-a", "b c"]) == '/usr/bin/x "-a" "b c" $ARGS'
