"""What goes inside a package besides the upstream binaries, as text: the systemd unit, the
environment file, the maintainer scripts, the Debian copyright and changelog, the README and
the license notice. Pure functions of their arguments; `hub.packaging.plan` decides where each
lands.

Templates live in `hub/templates/` and are loaded with pkgutil, so they work from a PEX.
Maintainer scripts quote every interpolated value with shlex.quote (the `sq` filter), and the
unit escapes every value for systemd (see `systemd_quote`), although the manifest schema
already restricts what those values may contain.
"""

from __future__ import annotations

import gzip
import io
import pkgutil
import re
import shlex
import textwrap
from typing import Iterable, Mapping, Sequence

import jinja2

from hub.common.errors import HubError

# Licenses whose full text every Debian system has under /usr/share/common-licenses: a DEP-5
# copyright file refers to them instead of repeating them (lintian prefers it that way).
# SPDX id -> (DEP-5 short name, file in /usr/share/common-licenses, its title).
COMMON_LICENSES = {
    "Apache-2.0": ("Apache-2.0", "Apache-2.0", "the Apache License, Version 2.0"),
    "GPL-2.0-only": ("GPL-2", "GPL-2", "the GNU General Public License version 2"),
    "GPL-2.0-or-later": ("GPL-2+", "GPL-2", "the GNU General Public License version 2"),
    "GPL-3.0-only": ("GPL-3", "GPL-3", "the GNU General Public License version 3"),
    "GPL-3.0-or-later": ("GPL-3+", "GPL-3", "the GNU General Public License version 3"),
    "LGPL-2.1-only": ("LGPL-2.1", "LGPL-2.1", "the GNU Lesser General Public License 2.1"),
    "LGPL-2.1-or-later": ("LGPL-2.1+", "LGPL-2.1", "the GNU Lesser General Public License 2.1"),
    "LGPL-3.0-only": ("LGPL-3", "LGPL-3", "the GNU Lesser General Public License version 3"),
    "LGPL-3.0-or-later": ("LGPL-3+", "LGPL-3", "the GNU Lesser General Public License version 3"),
    "MPL-2.0": ("MPL-2.0", "MPL-2.0", "the Mozilla Public License 2.0"),
    "CC0-1.0": ("CC0-1.0", "CC0-1.0", "the CC0 1.0 Universal license"),
}
# Short permissive licenses that are not in common-licenses: their standard text is shipped
# in hub/templates/licenses/, used when upstream's own LICENSE file is not available.
# SPDX id -> (DEP-5 short name, template).
STANDARD_TEXTS = {
    "MIT": ("Expat", "licenses/MIT.txt.j2"),
    "BSD-2-Clause": ("BSD-2-clause", "licenses/BSD-2-Clause.txt.j2"),
    "BSD-3-Clause": ("BSD-3-clause", "licenses/BSD-3-Clause.txt.j2"),
    "ISC": ("ISC", "licenses/ISC.txt.j2"),
}
# RPM's License tag is mandatory: an unknown license is said to be unknown, never guessed.
UNKNOWN_LICENSE = "NOASSERTION"


def _load_template(name: str) -> str:
    data = pkgutil.get_data("hub", f"templates/{name}")
    if data is None:  # pragma: no cover - a broken installation
        raise FileNotFoundError(f"hub/templates/{name}")
    return data.decode("utf-8")


_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(_load_template),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # shell, systemd and Debian control syntax, never HTML
)
_ENV.filters["sq"] = lambda value: shlex.quote(str(value))


def render(template: str, **values: object) -> str:
    return _ENV.get_template(template).render(**values)


# --- systemd -----------------------------------------------------------------------------


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
    escaped = (
        arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    )
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
    )


# --- descriptions --------------------------------------------------------------------------


def synopsis(summary: str) -> str:
    """A one-line summary as both families want it: no trailing full stop."""
    return summary.strip().rstrip(".").strip()


def long_description(paragraphs: Iterable[str], width: int = 72) -> list[str]:
    """Wrapped lines, paragraphs separated by an empty line."""
    lines: list[str] = []
    for paragraph in paragraphs:
        if lines:
            lines.append("")
        # textwrap keeps a paragraph's leading spaces, which would make a DEB description
        # line verbatim text (Policy 5.6.13).
        lines.extend(textwrap.wrap(paragraph.strip(" \t"), width=width, break_on_hyphens=False))
    return lines


def deb_description(summary: str, lines: Sequence[str]) -> str:
    """The Description field's value as nfpm writes it: nfpm indents each line after the
    first by one space; an empty line must read " ." (Debian Policy 5.6.13).

    A wrapped line that is a lone full stop would read " ." too, a paragraph break: it is
    joined to the line before it, or to the next one at the start of a paragraph."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if line == ".":
            if out and out[-1] != ".":
                out[-1] += " ."
            else:
                pending += ". "
            continue
        out.append(pending + line if line else ".")
        pending = ""
    return "\n".join([synopsis(summary), *out])


# --- licenses and docs ---------------------------------------------------------------------


def _indent_dep5(text: str) -> str:
    out = []
    for line in text.strip("\n").splitlines():
        line = line.rstrip()
        out.append(f" {line}" if line else " .")
    return "\n".join(out)


_EXPRESSION = re.compile(r" (AND|OR|WITH) ")


def license_ids(expression: str) -> list[str]:
    """The license ids of an SPDX expression (`MIT OR Apache-2.0` -> MIT, Apache-2.0)."""
    return [part for i, part in enumerate(_EXPRESSION.split(expression)) if i % 2 == 0]


def dep5_license(license_id: str | None, upstream_text: str | None) -> tuple[str, str]:
    """(License: value, its indented body) for a DEP-5 copyright file."""
    if license_id is None:
        return UNKNOWN_LICENSE, " The license of this software has not been determined."
    if license_id in COMMON_LICENSES:
        short, file, title = COMMON_LICENSES[license_id]
        body = (
            f"On Debian systems, the complete text of {title} can be found in\n"
            f'"/usr/share/common-licenses/{file}".'
        )
        return short, _indent_dep5(body)
    if license_id in STANDARD_TEXTS or not _EXPRESSION.search(license_id):
        short = STANDARD_TEXTS.get(license_id, (license_id, None))[0]
        text = upstream_text or standard_license_text(license_id)
        return short, _indent_dep5(text or f"See https://spdx.org/licenses/{license_id}.html")
    # An expression: DEP-5 writes its operators in lower case and the short names it knows.
    parts = _EXPRESSION.split(license_id)
    short = " ".join(
        part.lower() if i % 2 else _dep5_name(part) for i, part in enumerate(parts)
    )
    lines = [upstream_text] if upstream_text else []
    for spdx in license_ids(license_id):
        if spdx in COMMON_LICENSES:
            lines.append(f"{_dep5_name(spdx)}: /usr/share/common-licenses/{COMMON_LICENSES[spdx][1]}")
        else:
            lines.append(f"{_dep5_name(spdx)}: https://spdx.org/licenses/{spdx}.html")
    return short, _indent_dep5("\n".join(lines))


def _dep5_name(spdx: str) -> str:
    if spdx in COMMON_LICENSES:
        return COMMON_LICENSES[spdx][0]
    return STANDARD_TEXTS.get(spdx, (spdx, None))[0]


_NOTICE_LINE = re.compile(r"^\s*(?:Copyright|Copr\.|\u00a9).*\b\d{4}\b", re.IGNORECASE)


def copyright_notices(upstream_text: str | None) -> list[str]:
    """The "Copyright <year> <holder>" lines of upstream's license file, if it has any."""
    if not upstream_text:
        return []
    found: list[str] = []
    for line in upstream_text.splitlines():
        line = " ".join(line.split())
        if _NOTICE_LINE.match(line) and line not in found and "<" not in line:
            found.append(line)
    return found[:20]


# lintian 2.116, Debian/Copyright.pm (copyright-without-copyright-notice).
_LINTIAN_NOTICE = re.compile(
    r"(?:Copyright|Copr\.|\u00a9)(?:.*|[(C):\s]+)\b\d{4}\b|\bpublic(?:\s+|-)domain\b", re.IGNORECASE
)


def has_copyright_notice(copyright_text: str) -> bool:
    return bool(_LINTIAN_NOTICE.search(copyright_text))


def dep5_copyright_field(notices: Sequence[str], exporter: str, source: str) -> str:
    """The Files: * paragraph's Copyright value (continuation lines indented by one space)."""
    if not notices:
        return f"The {exporter} authors, see {source}"
    return "\n ".join(notices)


def standard_license_text(license_id: str) -> str | None:
    entry = STANDARD_TEXTS.get(license_id)
    return _load_template(entry[1]) if entry else None


def license_notice(exporter: str, license_id: str | None, homepage: str | None) -> str:
    """The generated license file for RPMs when the upstream archive had none."""
    where = f" Upstream: {homepage}" if homepage else ""
    if license_id is None:
        head = f"The license of {exporter} has not been determined.{where}"
    else:
        urls = ", ".join(f"https://spdx.org/licenses/{i}.html" for i in license_ids(license_id))
        head = f"{exporter} is distributed under the {license_id} license, whose text is at {urls}.{where}"
    text = standard_license_text(license_id) if license_id else None
    return textwrap.fill(head, width=72, break_on_hyphens=False, break_long_words=False) + "\n" + (
        f"\n{text}" if text else ""
    )


def changelog_debian_gz(text: str) -> bytes:
    """gzip -9n: no file name and mtime 0 in the header, so the bytes depend on the text only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return buffer.getvalue()


# --- versions and relations ----------------------------------------------------------------

_VERSION_OK = re.compile(r"^[0-9][A-Za-z0-9.+~]*$")
_RELATION = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9.+_-]*)"
    r"(?: ?\((?P<dop><<|<=|=|>=|>>) ?(?P<dver>[^ )]+)\)| ?(?P<rop><=|>=|<|=|>) ?(?P<rver>\S+))?$"
)
_DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9.+-]+$")
_TO_DEB = {"<": "<<", ">": ">>", "<=": "<=", ">=": ">=", "=": "="}
_TO_RPM = {"<<": "<", ">>": ">", "<=": "<=", ">=": ">=", "=": "="}


def package_version(clean_version: str) -> str:
    """The upstream version as RPM and dpkg both sort it right.

    A semver prerelease (`1.2.0-rc.1`) must sort before its release: both families use `~`
    for that, and neither allows `-` in a version (it separates the release/revision).
    """
    core, _, build = clean_version.partition("+")
    core, _, pre = core.partition("-")
    version = core
    if pre:
        version += "~" + pre.replace("-", ".")
    if build:
        version += "+" + build.replace("-", ".")
    if not _VERSION_OK.match(version):
        raise HubError(f"version {clean_version!r} cannot be written as a package version")
    return version


def relation(text: str, family: str) -> str:
    """A dependency in the family's syntax: `name (>= 1)` for deb, `name >= 1` for rpm."""
    m = _RELATION.match(text.strip())
    if not m:
        raise HubError(f"dependency {text!r}: expected a name with an optional constraint")
    name = m["name"]
    op, ver = (m["dop"], m["dver"]) if m["dop"] else (m["rop"], m["rver"])
    if family == "deb":
        if not _DEB_NAME.match(name):
            raise HubError(
                f"dependency {text!r}: Debian package names are lowercase letters, digits, "
                "'.', '+' and '-' (Policy 5.6.1)"
            )
        return f"{name} ({_TO_DEB.get(op, op)} {ver})" if op else name
    return f"{name} {_TO_RPM.get(op, op)} {ver}" if op else name


def relations(texts: Iterable[str], family: str) -> list[str]:
    return [relation(t, family) for t in texts]


def maintainer_scripts(family: str, values: Mapping[str, object]) -> dict[str, str]:
    """nfpm script key -> script text, for every script the family uses."""
    names = {
        "rpm": {
            "preinstall": "rpm/preinstall.sh.j2",
            "postinstall": "rpm/postinstall.sh.j2",
            "preremove": "rpm/preremove.sh.j2",
            "postremove": "rpm/postremove.sh.j2",
        },
        "deb": {
            "postinstall": "deb/postinst.sh.j2",
            "preremove": "deb/prerm.sh.j2",
            "postremove": "deb/postrm.sh.j2",
        },
    }[family]
    return {key: _squeeze(render(template, **values)) for key, template in names.items()}


def _squeeze(script: str) -> str:
    """Collapse the blank lines that template conditionals leave behind."""
    return re.sub(r"\n{3,}", "\n\n", script)
