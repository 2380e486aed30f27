"""The systemd unit of a package's service, with every value escaped for systemd.

The manifest schema already restricts what these values may contain; escaping them anyway
means a value is written to the unit exactly as given: a free-text value (Description=,
Documentation=) through `systemd_escape_value`, each ExecStart= argument through
`systemd_quote` (systemd.syntax(7), systemd.service(5)). Control characters cannot be
written to a unit at all and are refused.
"""

from __future__ import annotations

from typing import Sequence

from hub.common.errors import HubError
from hub.packaging.sandbox import Setting
from hub.packaging.templates import render


def _reject_control(value: str, what: str) -> None:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise HubError(f"{what} {value!r}: control characters cannot be written to a unit")


def systemd_escape_value(value: str) -> str:
    """A free-text value (Description=, Documentation=): specifiers need escaping, and a line
    that ends in a backslash would continue on the next one, swallowing the next setting.

    A free-text value is never unescaped, so `\\` would show as two backslashes: a value
    ending in one gets a trailing space instead. systemd strips it from the value, and the
    line no longer ends in a backslash (systemd.syntax(7))."""
    _reject_control(value, "value")
    value = value.replace("%", "%%")
    return value + " " if value.endswith("\\") else value


def systemd_quote(arg: str) -> str:
    """One ExecStart= argument, passed to the program exactly as given.

    systemd splits the command line into words, honours double quotes and C escapes in each
    (so `\\` and `"` are escaped), then expands `%` specifiers in each word and finally
    `$VAR` references at start (so `%` becomes `%%` and `$` becomes `$$`), see
    systemd.service(5), "Command lines", and systemd.syntax(7). Every argument is quoted:
    a quoted `;` is an argument, not a command separator.
    """
    _reject_control(arg, "systemd argument")
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def exec_start(binary_path: str, arguments: Sequence[str]) -> str:
    """ExecStart=: the manifest's arguments, then the administrator's $ARGS, split on spaces.

    An unset or empty $ARGS expands to no word at all, so it costs nothing when unused.
    """
    return " ".join([binary_path, *(systemd_quote(a) for a in arguments), "$ARGS"])


def unit_file(
    *,
    unit: str,
    package: str,
    description: str,
    homepage: str | None,
    after: Sequence[str],
    service_type: str,
    user: str | None,
    env_file: str,
    exec_start_line: str,
    restart: str,
    sandbox: Sequence[Setting] = (),
) -> str:
    return render(
        "common/unit.service.j2",
        unit=unit,
        package=package,
        description=systemd_escape_value(description),
        homepage=systemd_escape_value(homepage) if homepage else None,
        after=list(after),
        type=service_type,
        user=user,
        group=user,
        env_file=env_file,
        exec_start=exec_start_line,
        restart=restart,
        sandbox=sandbox,
    )
