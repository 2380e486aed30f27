"""License texts of a package: the DEP-5 copyright file's License and Copyright fields for
DEBs, and the license file RPMs ship when the upstream archive had none.

Licenses are SPDX ids or expressions (`MIT OR Apache-2.0`), as the manifest gives them; an
unknown license is said to be unknown (`UNKNOWN_LICENSE`), never guessed. Debian systems
carry the full text of common licenses (`COMMON_LICENSES`), which a copyright file refers to;
short permissive licenses have their standard text shipped in `hub/templates/licenses/`
(`STANDARD_TEXTS`), used when upstream's own LICENSE file is not available.
"""

from __future__ import annotations

import re
import textwrap
from typing import Sequence

from hub.packaging.templates import load_template

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
            f"On Debian systems, the complete text of {title} can be found in\n" f'"/usr/share/common-licenses/{file}".'
        )
        return short, _indent_dep5(body)
    if license_id in STANDARD_TEXTS or not _EXPRESSION.search(license_id):
        short = STANDARD_TEXTS.get(license_id, (license_id, None))[0]
        text = upstream_text or standard_license_text(license_id)
        return short, _indent_dep5(text or f"See https://spdx.org/licenses/{license_id}.html")
    # An expression: DEP-5 writes its operators in lower case and the short names it knows.
    parts = _EXPRESSION.split(license_id)
    short = " ".join(part.lower() if i % 2 else _dep5_name(part) for i, part in enumerate(parts))
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
    return load_template(entry[1]) if entry else None


def license_notice(exporter: str, license_id: str | None, homepage: str | None) -> str:
    """The generated license file for RPMs when the upstream archive had none."""
    where = f" Upstream: {homepage}" if homepage else ""
    if license_id is None:
        head = f"The license of {exporter} has not been determined.{where}"
    else:
        urls = ", ".join(f"https://spdx.org/licenses/{i}.html" for i in license_ids(license_id))
        head = f"{exporter} is distributed under the {license_id} license, whose text is at {urls}.{where}"
    text = standard_license_text(license_id) if license_id else None
    return (
        textwrap.fill(head, width=72, break_on_hyphens=False, break_long_words=False)
        + "\n"
        + (f"\n{text}" if text else "")
    )
