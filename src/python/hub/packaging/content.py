"""What a package declares besides its files, as text: the summary and description as each
family wants them, the version and relations in each family's syntax, the maintainer scripts
and the Debian changelog. Pure functions of their arguments; `hub.packaging.plan` decides
where each lands. The systemd unit is `hub.packaging.systemd`'s, license texts are
`hub.packaging.licenses`'.

Maintainer scripts are rendered from `hub/templates/` (`hub.packaging.templates`), with every
interpolated value quoted by shlex.quote (the `sq` filter), although the manifest schema
already restricts what those values may contain.
"""

from __future__ import annotations

import gzip
import io
import re
import textwrap
from typing import Iterable, Mapping, Sequence

from hub.common.errors import HubError
from hub.packaging.templates import render

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


# --- maintainer scripts and the Debian changelog -------------------------------------------


def maintainer_scripts(family: str, values: Mapping[str, object]) -> dict[str, str]:
    """nfpm script key -> script text, for every script the family uses."""
    names = {
        "rpm": {
            "preinstall": "rpm/preinstall.sh.j2",
            "postinstall": "rpm/postinstall.sh.j2",
            "preremove": "rpm/preremove.sh.j2",
            "postremove": "rpm/postremove.sh.j2",
            "posttrans": "rpm/posttrans.sh.j2",
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


def changelog_debian_gz(text: str) -> bytes:
    """gzip -9n: no file name and mtime 0 in the header, so the bytes depend on the text only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return buffer.getvalue()
