"""`hub catalog`: the downstream aggregation of artifact JSONs into the site's catalog.

Each artifact JSON (``<exporter>/<artifact id>.json``, catalog format 3.0) is written by the
action that built its artifact. This module reads them, compares them with the matrix each
manifest *declares* (``Manifest.matrix()``) and writes, atomically:

- ``catalog/<exporter>/<artifact id>.json``: the artifact JSONs of declared artifacts, as read;
- ``catalog/<exporter>/metadata.json``: one exporter, in the seed's shape (schema
  ``metadata.schema.json``);
- ``catalog/index.json``: every exporter, sorted by name (schema ``index.schema.json``).

Status of one declared artifact (docs/catalog.md):

- ``success``: its JSON is present, says success, and has the manifest's version;
- ``stale``: its JSON is present but for another version (the manifest was bumped and the
  artifact not rebuilt yet, or it was reverted): the file exists, it is just not this version;
- ``failed``: its JSON is present and says so (allowed by the seed's format; our own builds
  write no JSON on failure);
- ``missing``: no JSON. A declared artifact is never dropped.

A JSON for an artifact the manifest does not declare (a dist removed from the manifest) or for
an exporter without a manifest is left out, with a warning. Nothing here reads the clock:
``last_updated`` is the newest ``build_date`` among the artifacts present.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from hub.catalog import artifact as catalog
from hub.common import matrix
from hub.common.errors import FieldError, HubError
from hub.manifest.model import GITHUB_PREFIX, Manifest, PackageSpec
from hub.common import files
from hub.common import schemas

__all__ = [
    "STATUSES",
    "aggregate_exporter",
    "build_catalog",
    "build_index",
    "is_pinned",
    "read_artifacts",
    "service_info",
    "status_counts",
]

FORMAT_VERSION = catalog.FORMAT_VERSION
METADATA_FILE = "metadata.json"
INDEX_FILE = "index.json"
# Worst first: an exporter's summary status is the worst of its artifacts.
STATUSES = ("missing", "failed", "stale", "success")
# An artifact JSON's file name: rpm_amd64_el9.json, docker.json (arches and dists from the matrix).
_ARTIFACT_FILE = re.compile(
    r"^(?:(rpm|deb)_(%s)_(%s)|docker)\.json$"
    % ("|".join(map(re.escape, matrix.ARCHES)), "|".join(map(re.escape, matrix.DISTS)))
)


# --------------------------------------------------------------------------------------------
# Reading artifact JSONs
# --------------------------------------------------------------------------------------------


def artifact_id_of(doc: Mapping[str, Any]) -> str:
    """The artifact id a JSON describes, from its content (not its file name)."""
    kind = doc.get("artifact_type")
    if kind == "docker":
        return "docker"
    return matrix.artifact_id(str(kind), str(doc.get("arch")), str(doc.get("dist")))


def _check_docker(doc: Any) -> list[FieldError]:
    """docker.json's own schema (``docker.schema.json``) when this engine ships it; otherwise
    the fields the aggregation relies on."""
    try:
        return schemas.schema_errors(doc, "docker")
    except OSError:  # the schema is not shipped
        pass
    errors = []
    if not isinstance(doc, dict):
        return [FieldError("", "expected a JSON object")]
    for key in ("format_version", "artifact_type", "exporter", "version", "build_date", "status"):
        if not isinstance(doc.get(key), str):
            errors.append(FieldError(key, "required string is missing"))
    if doc.get("format_version") not in (None, FORMAT_VERSION) and isinstance(doc.get("format_version"), str):
        errors.append(FieldError("format_version", f"expected {FORMAT_VERSION!r}"))
    if not isinstance(doc.get("images"), list):
        errors.append(FieldError("images", "expected a list"))
    return errors


def check_artifact(doc: Any, display: str) -> None:
    """Raises SchemaError when ``doc`` is not a valid artifact JSON."""
    if isinstance(doc, dict) and doc.get("artifact_type") == "docker":
        errors = _check_docker(doc)
    else:
        errors = schemas.schema_errors(doc, "artifact")
    if errors:
        raise schemas.SchemaError(display, errors)


class Artifacts(dict[str, dict[str, Any]]):
    """{exporter: {artifact id: doc}}, plus ``paths``: {(exporter, id): the file it was read
    from, when that file is already in the catalog's canonical form
    (hub.common.files.dumps_json)}, which :func:`build_catalog` hard-links instead of writing
    again."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: dict[tuple[str, str], str] = {}


def read_artifacts(roots: Iterable[str | os.PathLike[str]], *, display_root: str | None = None) -> Artifacts:
    """Every artifact JSON under ``roots`` (any depth), as {exporter: {artifact id: doc}}.

    Only files named like an artifact (``rpm_<arch>_<dist>.json``, ``deb_...``, ``docker.json``)
    are read, so metadata.json, index.json, temporary files of atomic writes and OCI layouts
    beside them are ignored. Each one is validated; its name must match its content. The same
    artifact found twice must be identical.
    """
    found = Artifacts()
    origin: dict[tuple[str, str], str] = {}
    for root in roots:
        root = os.fspath(root)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not _ARTIFACT_FILE.match(name):
                    continue
                path = os.path.join(dirpath, name)
                shown = path if display_root is None else os.path.join(display_root, os.path.relpath(path, root))
                try:
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                    doc = json.loads(text)
                except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
                    raise HubError(f"{shown}: not a readable JSON document ({e})") from None
                check_artifact(doc, shown)
                aid = artifact_id_of(doc)
                if name != f"{aid}.json":
                    raise HubError(f"{shown}: the file name says {name[:-5]!r} but the content describes {aid!r}")
                exporter = doc["exporter"]
                key = (exporter, aid)
                previous = found.setdefault(exporter, {}).get(aid)
                if previous is not None and previous != doc:
                    raise HubError(f"{shown}: {exporter} {aid} differs from {origin[key]} (two builds of one artifact)")
                found[exporter][aid] = doc
                origin.setdefault(key, shown)
                if key not in found.paths and not os.path.islink(path) and text == files.dumps_json(doc):
                    found.paths[key] = path
    return found


# --------------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------------


def is_pinned(manifest: Manifest) -> bool:
    """Whether the lock beside the manifest pins exactly what the manifest builds."""
    from hub.upstream import lock as fetch  # lazily: only for the pinned check

    try:
        lock = fetch.read_lock(fetch.lock_path_for(manifest.path))
    except fetch.LockError:
        return False
    return not fetch.check_lock(manifest, lock)


def _status(manifest: Manifest, doc: Mapping[str, Any] | None) -> str:
    if doc is None:
        return "missing"
    if doc.get("version") != manifest.clean_version:
        return "stale"
    return "failed" if doc.get("status") == "failed" else "success"


def status_counts(artifacts: Mapping[str, Any]) -> dict[str, int]:
    """{success, stale, failed, missing, total} over a metadata ``artifacts`` mapping."""
    counts = {s: 0 for s in STATUSES}
    for family in ("rpm", "deb"):
        for by_arch in artifacts.get(family, {}).values():
            for status in by_arch.values():
                counts[status] += 1
    if "docker" in artifacts:
        counts[artifacts["docker"]] += 1
    counts["total"] = sum(counts[s] for s in STATUSES)
    return counts


def service_info(spec: PackageSpec | None) -> dict[str, Any] | None:
    """What one package family's service gets (docs/catalog.md, ``service``): its user, the
    reason it runs as root if it does, and its grants with their reasons, in manifest order.
    None when the family is disabled or ships no unit."""
    if spec is None or not spec.systemd.enabled:
        return None
    grants = []
    for g in spec.systemd.grants:
        grant = {"kind": g.kind, "value": g.value, "reason": g.reason}
        if g.kind == "device":  # access means nothing for the other kinds
            grant["access"] = g.access
        grants.append(grant)
    return {"user": spec.system_user, "run_as_root": spec.systemd.run_as_root, "grants": grants}


def aggregate_exporter(
    manifest: Manifest, artifact_jsons: Mapping[str, Mapping[str, Any]], *, pinned: bool | None = None
) -> dict[str, Any]:
    """metadata.json of one exporter: the declared matrix with each artifact's status.

    ``artifact_jsons`` maps artifact ids (rpm_amd64_el9, docker) to the artifact JSONs present
    for this exporter; ids the manifest does not declare are ignored. ``pinned`` defaults to
    checking the upstream lock beside the manifest.
    """
    if pinned is None:
        pinned = is_pinned(manifest)
    artifacts: dict[str, Any] = {"rpm": {}, "deb": {}}
    dates = []
    for artifact in manifest.matrix():
        doc = artifact_jsons.get(artifact.id)
        status = _status(manifest, doc)
        if doc is not None and isinstance(doc.get("build_date"), str):
            dates.append(doc["build_date"])
        if artifact.kind == "docker":
            artifacts["docker"] = status
        else:
            artifacts[artifact.kind].setdefault(artifact.dist, {})[artifact.arch] = status
    docker = manifest.docker
    return {
        "format_version": FORMAT_VERSION,
        "exporter": manifest.name,
        "version": manifest.clean_version,
        "category": manifest.category,
        "description": manifest.description,
        # ISO 8601 UTC strings of one fixed format sort chronologically.
        "last_updated": max(dates) if dates else None,
        "artifacts": artifacts,
        # Additions to 3.0 (docs/catalog.md):
        "upstream_version": manifest.version,
        "license": manifest.license,
        "homepage": manifest.homepage,
        "repository": f"{GITHUB_PREFIX}{manifest.upstream.repo}" if manifest.upstream.repo else None,
        "port": docker.port if docker is not None else None,
        "pinned": bool(pinned),
        "packages": {
            "rpm": manifest.name if manifest.rpm is not None else None,
            "deb": matrix.deb_package_name(manifest.name) if manifest.deb is not None else None,
        },
        "status_counts": status_counts(artifacts),
        "service": {"rpm": service_info(manifest.rpm), "deb": service_info(manifest.deb)},
    }


def summary_status(counts: Mapping[str, int]) -> str:
    """One word per exporter: the worst status present (``missing`` when nothing is declared)."""
    for status in STATUSES:
        if counts.get(status):
            return status
    return "missing"


def build_index(metadatas: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """catalog/index.json: one light entry per exporter, sorted by name, plus totals."""
    entries = []
    categories: dict[str, int] = {}
    totals = {s: 0 for s in (*STATUSES, "total")}
    for m in sorted(metadatas, key=lambda m: m["exporter"]):
        counts = m["status_counts"]
        entries.append(
            {
                "name": m["exporter"],
                "version": m["version"],
                "category": m["category"],
                "description": m["description"],
                "last_updated": m["last_updated"],
                "pinned": m["pinned"],
                "status": summary_status(counts),
                "status_counts": dict(counts),
                "metadata": f"{m['exporter']}/{METADATA_FILE}",
            }
        )
        categories[m["category"]] = categories.get(m["category"], 0) + 1
        for key in totals:
            totals[key] += counts[key]
    return {
        "format_version": FORMAT_VERSION,
        "exporters": entries,
        "categories": dict(sorted(categories.items())),
        "totals": {"exporters": len(entries), **totals},
    }


# --------------------------------------------------------------------------------------------
# The whole catalog
# --------------------------------------------------------------------------------------------


def build_catalog(
    manifests: Sequence[Manifest],
    artifacts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    out: str | os.PathLike[str],
    *,
    pinned: Mapping[str, bool] | None = None,
    require_pinned: bool = False,
    warn: Any = None,
) -> dict[str, Any]:
    """Writes the catalog under ``out`` and returns the index. ``artifacts`` is what
    :func:`read_artifacts` returns. Every document is validated before it is written."""
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    out = Path(out)
    names = [m.name for m in manifests]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise HubError(f"more than one manifest for: {', '.join(duplicates)}")
    for exporter in sorted(set(artifacts) - set(names)):
        warn(f"{exporter}: artifact JSONs found but no manifest; left out of the catalog")

    sources = getattr(artifacts, "paths", {})
    metadatas = []
    unpinned = []
    for manifest in sorted(manifests, key=lambda m: m.name):
        present = artifacts.get(manifest.name, {})
        declared = {a.id for a in manifest.matrix()}
        for aid in sorted(set(present) - declared):
            warn(f"{manifest.name}: {aid} is not declared by the manifest any more; left out of the catalog")
        is_pin = pinned.get(manifest.name) if pinned is not None else None
        metadata = aggregate_exporter(manifest, present, pinned=is_pin)
        if not metadata["pinned"]:
            unpinned.append(manifest.name)
        schemas.validate(metadata, "metadata", what=f"{manifest.name}/{METADATA_FILE}")
        metadatas.append(metadata)
        for aid in sorted(declared & set(present)):
            target = out / manifest.name / f"{aid}.json"
            source = sources.get((manifest.name, aid))
            if source is not None and _same_file(source, target):
                continue  # aggregating a catalog in place
            if source is not None and _link_atomic(source, target):
                continue
            if _same_json(target, present[aid]):
                continue
            files.write_json(target, present[aid])
        files.write_json(out / manifest.name / METADATA_FILE, metadata)

    for name in unpinned:
        message = (
            f"{name}: the upstream is not pinned, its artifacts show as missing; "
            f"pin it with `./pants update-lock exporters/{name}::`"
        )
        if require_pinned:
            raise HubError(message + " ([hub].require_pinned is set)")
        warn(message)
    index = build_index(metadatas)
    schemas.validate(index, "index", what=INDEX_FILE)
    files.write_json(out / INDEX_FILE, index)
    return index


def _same_file(a: str, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _link_atomic(source: str, target: Path) -> bool:
    """Publishes ``source`` (a complete, canonical artifact JSON) at ``target`` as a hard link:
    link to a temporary name, then rename over the target, so readers never see a partial
    file. Writers only ever replace files by rename, so the shared inode never changes.
    False when the filesystem cannot link (another device): the caller writes a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    try:
        os.link(source, tmp)
    except OSError:
        return False
    try:
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return True


def _same_json(path: Path, doc: Any) -> bool:
    try:
        return path.read_text(encoding="utf-8") == files.dumps_json(doc)
    except (OSError, UnicodeDecodeError):
        return False
