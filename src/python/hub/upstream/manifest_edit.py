"""Editing a manifest in place for ``update-upstreams``: its ``version:`` line, and ``license:``.

Only the value changes: comments, anchors, quoting, line endings and the rest of the file stay
as they were. The edited file replaces the manifest only once it reloads as exactly the old
manifest with the new version (and license).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from hub.common import files
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.manifest.model import Manifest


_VERSION_LINE_RE = re.compile(
    r"^(?P<head>version:[ \t]*(?P<anchor>&[^\s]+[ \t]+)?)(?P<q>[\"']?)(?P<value>[^\s\"'#]+)(?P=q)"
    r"(?P<tail>[ \t]*(?:#[^\r\n]*)?)(?P<eol>\r?)$",
    re.M,
)
_LICENSE_LINE_RE = re.compile(r"^license:[ \t]*(?:null|Null|NULL|~)?(?P<tail>[ \t]*(?:#[^\r\n]*)?)(?P<eol>\r?)$", re.M)


def bump_manifest_text(
    text: str, old_version: str, new_version: str, *, license: str | None = None, file: str = "manifest.yaml"
) -> str:
    """``text`` with the top-level ``version:`` value replaced (quoting, anchor and comment
    kept), and a ``license:`` line set when ``license`` is given. HubError when the line is
    not found exactly once."""
    matches = list(_VERSION_LINE_RE.finditer(text))
    if len(matches) != 1:
        found = "no" if not matches else "more than one"
        raise HubError(f"{file}: version: found {found} top-level `version: <value>` line to rewrite; edit it by hand")
    m = matches[0]
    if m.group("value") != old_version:
        raise HubError(
            f"{file}: version: the line says {m.group('value')!r}, the manifest {old_version!r}; edit it by hand"
        )
    new_line = f"{m.group('head')}{m.group('q')}{new_version}{m.group('q')}{m.group('tail')}{m.group('eol')}"
    out = text[: m.start()] + new_line + text[m.end() :]
    if license is not None:
        lm = _LICENSE_LINE_RE.search(out)
        if lm is not None:
            out = out[: lm.start()] + f"license: {license}{lm.group('tail')}{lm.group('eol')}" + out[lm.end() :]
        else:
            vm = _VERSION_LINE_RE.search(out)
            assert vm is not None
            newline = vm.group("eol") + "\n"  # the file's own line ending
            if out[vm.end() : vm.end() + 1] == "\n":
                end = vm.end() + 1
                out = out[:end] + f"license: {license}{newline}" + out[end:]
            else:  # the version line is the last one, without a line ending
                out = out + newline + f"license: {license}{newline}"
    return out


def write_manifest(manifest: Manifest, new_text: str, new_version: str, license: str | None) -> None:
    """Writes the edited manifest atomically, keeping its mode, once the temporary file reloads
    as exactly the old manifest with the new version (and license). The temporary file is in
    the same directory, so relative paths in it resolve the same way."""
    path = manifest.path

    def changed_only_the_version(tmp: Path) -> None:
        reloaded = load_manifest(tmp, display_path=f"{path} (after the update)")
        expected = dataclasses.replace(manifest, version=new_version, license=license or manifest.license)
        actual = dataclasses.replace(reloaded, path=manifest.path)
        anchored = bool(re.search(r"^version:[ \t]*&", new_text, re.M))
        if actual.version != new_version or actual.license != expected.license or (actual != expected and not anchored):
            raise HubError(f"{path}: rewriting the version line changed more than the version; edit it by hand")

    files.write_atomic(
        path, new_text.encode("utf-8"), mode=files.KEEP_MODE, durable=True, check=changed_only_the_version
    )


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except OSError as e:
        raise HubError(f"{path}: cannot read: {e.strerror or e}") from None
