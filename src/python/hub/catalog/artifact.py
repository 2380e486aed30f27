"""The catalog's per-artifact JSON (format_version "3.0"), atomic writes and schema checks.

One artifact = one JSON, written by the action that built the artifact
(`catalog/<exporter>/<artifact id>.json`); aggregation happens downstream. Every value comes
from the inputs or from the built file, never from the clock or the machine, so the JSON is as
reproducible as the package. Schemas live in `hub/schemas/` and are read with pkgutil, so they
work from a PEX.
"""

from __future__ import annotations

import hashlib
import json
import os
import pkgutil
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

from hub.common import matrix as dists
from hub.common.errors import FieldError, HubError

FORMAT_VERSION = "3.0"


class SchemaError(HubError):
    """A document that does not match its schema: one line per problem, with its field path."""

    def __init__(self, what: str, errors: list[FieldError]):
        self.errors = tuple(errors)
        super().__init__("\n".join(e.render(what) for e in self.errors))


def deb_pool_prefix(package: str) -> str:
    """Debian's pool directory: the first letter, or `libX` for lib* packages (libfoo -> libf)."""
    if package.startswith("lib") and len(package) > 3:
        return package[:4]
    return package[0]


def package_url(kind: str, *, dist: str, arch: str, package_name: str, filename: str) -> str:
    """Where the file lives relative to the site root (the base URL is never a build input):
    YUM `<dist>/<rpm arch>/<file>`, APT `pool/main/<prefix>/<package>/<file>` (one pool for
    every codename: the version suffix +deb12... keeps file names distinct)."""
    if kind == "rpm":
        return f"{dist}/{dists.RPM_ARCH[arch]}/{filename}"
    if kind == "deb":
        return f"pool/main/{deb_pool_prefix(package_name)}/{package_name}/{filename}"
    raise ValueError(f"no package URL for {kind!r}")


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def package_artifact(
    *,
    kind: str,
    exporter: str,
    version: str,
    arch: str,
    dist: str,
    build_date: str,
    path: str | os.PathLike[str],
    package_name: str,
    metadata: Mapping[str, Any],
    source: Mapping[str, str],
    sbom: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The artifact JSON of a built RPM or DEB; sha256 and size are read from the file.
    `sbom` is the reference `hub.packaging.sbom.write_sbom` returns (an addition to 3.0).

    `package.unsigned_sha256` (an addition to 3.0) keeps the digest of the package as built:
    publishing signs RPMs and rewrites `sha256`/`size_bytes`, and this one stays checkable
    against a rebuild.
    """
    filename = os.path.basename(os.fspath(path))
    sha256, size = file_digest(path)
    artifact = {
        "format_version": FORMAT_VERSION,
        "artifact_type": kind,
        "exporter": exporter,
        "version": version,
        "arch": arch,
        "dist": dist,
        "build_date": build_date,
        "status": "success",
        "package": {
            "filename": filename,
            "url": package_url(kind, dist=dist, arch=arch, package_name=package_name, filename=filename),
            "sha256": sha256,
            "size_bytes": size,
            "unsigned_sha256": sha256,
        },
        f"{kind}_metadata": dict(metadata),
        "source": {"url": source["url"], "sha256": source["sha256"]},
    }
    if sbom is not None:
        artifact["sbom"] = dict(sbom)
    return artifact


def sbom_url(package_url: str) -> str:
    """A package's SBOM is published next to it: `<package url>.cdx.json`."""
    return package_url + ".cdx.json"


def dumps(data: Any) -> str:
    """The catalog's one JSON style: sorted keys, indent 2, UTF-8 text, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Readers see the old file or the new one, never a torn one; concurrent writers of the
    same path each rename a complete file (the last rename wins), and nothing is lost."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(data))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; catalog files are public
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def load_schema(name: str) -> dict[str, Any]:
    raw = pkgutil.get_data("hub", f"schemas/{name}.schema.json")
    if raw is None:  # pragma: no cover - a broken installation
        raise FileNotFoundError(f"hub/schemas/{name}.schema.json")
    return json.loads(raw.decode("utf-8"))


def _validator_class() -> Any:
    import jsonschema  # lazily: not every process that imports hub needs it

    def pattern(validator: Any, regex: str, instance: Any, schema: Any) -> Any:
        # JSON Schema regexes are ECMA-262, where `$` ends the input; Python's `$` also
        # matches before a final newline, which would let "<sha256>\n" through.
        if validator.is_type(instance, "string"):
            if re.search(regex, instance) is None or (regex.endswith("$") and instance.endswith("\n")):
                yield jsonschema.ValidationError(f"{instance!r} does not match {regex!r}")

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": pattern})


def schema_errors(data: Any, schema_name: str) -> list[FieldError]:
    """Every problem of `data` against `schemas/<schema_name>.schema.json`, by field path."""
    validator = _validator_class()(load_schema(schema_name))
    out = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = ""
        for part in error.absolute_path:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        out.append(FieldError(path, error.message))
    return out


def validate(data: Any, schema_name: str, *, what: str | None = None) -> None:
    """Raises SchemaError listing every problem; `what` names the document in messages."""
    errors = schema_errors(data, schema_name)
    if errors:
        raise SchemaError(what or f"{schema_name} document", errors)
