"""`hub state`: what to publish, decided by comparing the manifests with a deployed catalog.

The release workflow asks this command which exporters to build, instead of trusting a git
diff: a revert, a force push or a failed build all leave the deployed catalog as the truth.
For each manifest, the deployed site's ``catalog/index.json`` gives the deployed version and
``catalog/<exporter>/metadata.json`` the status of each deployed artifact (when metadata.json
is absent, the per-artifact JSONs ``catalog/<exporter>/<artifact id>.json`` are read instead).

Versions are compared as semantic versions (2.0.0 precedence: ``v1.10.0`` is newer than
``v1.9.0``, ``1.0.0-rc.1`` is older than ``1.0.0``, build metadata is ignored), never as strings.
Each exporter gets one status:

- ``new``: not in the deployed catalog;
- ``upgrade``: the manifest's version is newer than the deployed one;
- ``downgrade``: the manifest's version is older: refused (exit 1) unless ``--allow-downgrade``;
- ``rebuild``: same version, but a declared artifact (``Manifest.matrix()``) is not deployed
  with status ``success``: failed, stale, missing, or absent from the deployed metadata. A
  failed build is never treated as deployed;
- ``up-to-date``: same version, every declared artifact deployed successfully.

The catalog location is a deployed site's root (``<root>/catalog/index.json``), or the catalog
directory itself (a location whose last path segment is ``catalog``): a directory, or an
``http://``, ``https://`` or ``file://`` URL. Exit codes: 0 fine, 1 a downgrade was refused,
2 bad input (a manifest, an unreachable catalog, malformed JSON).
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from hub.common import http
from hub.common.errors import HubError
from hub.common.semver import SemVer, is_semver, parse_semver
from hub.manifest.model import Artifact, Manifest

__all__ = [
    "CatalogReader",
    "StateResult",
    "compare",
    "compare_all",
    "format_table",
    "report_json",
]

DEFAULT_TIMEOUT = 30.0
MAX_JSON_BYTES = 32 << 20  # a catalog index of thousands of exporters is a few MB
STATUSES = ("new", "upgrade", "downgrade", "rebuild", "up-to-date")

# --------------------------------------------------------------------------------------------
# Reading a deployed catalog (directory or URL)
# --------------------------------------------------------------------------------------------

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class CatalogReader:
    """Reads JSON documents of a deployed catalog, from a directory or over HTTP(S).

    ``location`` is a site root (``catalog/`` is appended) or the catalog directory itself
    (its last path segment is ``catalog``). Paths given to :meth:`read_json` are relative to
    the catalog directory: ``index.json``, ``node_exporter/metadata.json``.
    """

    def __init__(self, location: str, *, timeout: float = DEFAULT_TIMEOUT, opener: Callable[..., Any] | None = None):
        if not location:
            raise HubError("no catalog location given (a deployed site's URL or directory)")
        self.location = location
        self.timeout = timeout
        self._open = opener or urllib.request.urlopen
        self.is_url = bool(_URL_RE.match(location))
        if self.is_url:
            scheme = location.split("://", 1)[0].lower()
            if scheme == "file":
                self.is_url = False
                parsed = urllib.parse.urlparse(location)
                if parsed.netloc not in ("", "localhost"):
                    raise HubError(f"catalog {location}: file:// URLs must name a local path")
                location = urllib.request.url2pathname(parsed.path)
            elif scheme not in ("http", "https"):
                raise HubError(
                    f"catalog {location}: unsupported URL scheme {scheme!r} (expected http, https, file or a directory)"
                )
        if self.is_url:
            base = location if location.endswith("/") else location + "/"
            segment = urllib.parse.urlparse(base).path.rstrip("/").rsplit("/", 1)[-1]
            self.base = base if segment == "catalog" else base + "catalog/"
        else:
            path = os.path.normpath(location)
            if not os.path.isdir(path):
                raise HubError(f"catalog {self.location}: no such directory")
            self.base = path if os.path.basename(path) == "catalog" else os.path.join(path, "catalog")

    def where(self, rel: str) -> str:
        """The URL or path of a catalog document, as shown in messages."""
        if self.is_url:
            return urllib.parse.urljoin(self.base, urllib.parse.quote(rel))
        return os.path.join(self.base, *rel.split("/"))

    def read_json(self, rel: str, *, optional: bool = False) -> Any:
        """The parsed document; None when it does not exist and ``optional``."""
        where = self.where(rel)
        raw = self._read_url(where, optional) if self.is_url else self._read_file(where, optional)
        if raw is None:
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise HubError(f"{where}: not UTF-8 text (byte {e.start})") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise HubError(f"{where}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None

    def _read_file(self, path: str, optional: bool) -> bytes | None:
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_JSON_BYTES + 1)
        except FileNotFoundError:
            if optional:
                return None
            raise HubError(
                f"{path}: not found (is {self.location} a deployed site or its catalog directory?)"
            ) from None
        except OSError as e:
            raise HubError(f"{path}: cannot read: {e.strerror or e}") from None
        if len(raw) > MAX_JSON_BYTES:
            raise HubError(f"{path}: larger than {MAX_JSON_BYTES} bytes")
        return raw

    def _read_url(self, url: str, optional: bool) -> bytes | None:
        try:
            return http.get(
                url,
                max_bytes=MAX_JSON_BYTES,
                timeout=self.timeout,
                opener=self._open,
                headers={"Accept": "application/json"},
                service="the catalog",
            ).body
        except http.HttpStatusError as e:
            if e.status in (404, 410) and optional:
                return None
            hint = " (is the catalog location right?)" if e.status in (404, 410) else ""
            raise HubError(f"{e}{hint}") from None


# --------------------------------------------------------------------------------------------
# The deployed catalog's documents
# --------------------------------------------------------------------------------------------


def _check_format(doc: Mapping[str, Any], where: str) -> None:
    fv = doc.get("format_version")
    if fv is not None and not (isinstance(fv, str) and fv.split(".", 1)[0] == "3"):
        raise HubError(f"{where}: format_version: unsupported catalog format {fv!r} (this hub reads 3.x)")


def parse_index(doc: Any, where: str) -> dict[str, tuple[str, str]]:
    """catalog/index.json -> {exporter: (deployed version, field path)}."""
    if not isinstance(doc, dict):
        raise HubError(f"{where}: expected a JSON object with an 'exporters' list")
    _check_format(doc, where)
    entries = doc.get("exporters")
    if not isinstance(entries, list):
        raise HubError(f"{where}: exporters: expected a list of {{name, version}} objects")
    out: dict[str, tuple[str, str]] = {}
    for i, entry in enumerate(entries):
        path = f"exporters[{i}]"
        if not isinstance(entry, dict):
            raise HubError(f"{where}: {path}: expected an object with name and version")
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not name:
            raise HubError(f"{where}: {path}.name: expected the exporter's name (a string)")
        if not isinstance(version, str):
            raise HubError(f"{where}: {path}.version: expected a version string")
        if name in out:
            raise HubError(f"{where}: {path}.name: {name!r} is listed twice")
        out[name] = (version, f"{path}.version")
    return out


def _check_metadata(doc: Any, where: str, exporter: str) -> None:
    if not isinstance(doc, dict):
        raise HubError(f"{where}: expected a JSON object")
    _check_format(doc, where)
    if doc.get("exporter", exporter) != exporter:
        raise HubError(f"{where}: exporter: expected {exporter!r}, got {doc.get('exporter')!r}")
    if not isinstance(doc.get("version"), str):
        raise HubError(f"{where}: version: expected a version string")
    artifacts = doc.get("artifacts")
    if not isinstance(artifacts, dict):
        raise HubError(
            f"{where}: artifacts: expected an object (rpm -> dist -> arch -> status, deb -> ..., docker -> status)"
        )
    for family in ("rpm", "deb"):
        by_dist = artifacts.get(family, {})
        if not isinstance(by_dist, dict):
            raise HubError(f"{where}: artifacts.{family}: expected an object of dist -> arch -> status")
        for dist, by_arch in by_dist.items():
            if not isinstance(by_arch, dict) or not all(isinstance(s, str) for s in by_arch.values()):
                raise HubError(f"{where}: artifacts.{family}.{dist}: expected an object of arch -> status")
    if "docker" in artifacts and not isinstance(artifacts["docker"], str):
        raise HubError(f"{where}: artifacts.docker: expected a status string")


def metadata_status(metadata: Mapping[str, Any], artifact: Artifact) -> str | None:
    """An artifact's status in a deployed metadata.json, or None when it is not listed."""
    artifacts = metadata["artifacts"]
    if artifact.kind == "docker":
        return artifacts.get("docker")
    return artifacts.get(artifact.kind, {}).get(artifact.dist, {}).get(artifact.arch)


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------


@dataclass
class StateResult:
    exporter: str
    manifest: str  # the manifest's path as given
    manifest_version: str
    deployed_version: str | None
    status: str  # one of STATUSES
    reasons: list[str] = field(default_factory=list)
    build: bool = False  # in the list of exporters to build

    def to_json(self) -> dict[str, Any]:
        return {
            "exporter": self.exporter,
            "manifest": self.manifest,
            "manifest_version": self.manifest_version,
            "deployed_version": self.deployed_version,
            "status": self.status,
            "build": self.build,
            "reasons": list(self.reasons),
        }


def _by_version(manifest: Manifest, mine: SemVer, deployed: SemVer, allow_downgrade: bool) -> StateResult | None:
    if mine > deployed:
        return StateResult(
            manifest.name,
            manifest.path,
            manifest.version,
            deployed.text,
            "upgrade",
            [f"manifest {manifest.version} is newer than deployed {deployed.text}"],
            True,
        )
    if mine < deployed:
        reason = f"manifest {manifest.version} is older than deployed {deployed.text}"
        if not allow_downgrade:
            reason += ": refused (pass --allow-downgrade to publish it)"
        return StateResult(
            manifest.name, manifest.path, manifest.version, deployed.text, "downgrade", [reason], allow_downgrade
        )
    return None


def _artifact_jsons_status(reader: CatalogReader, manifest: Manifest, mine: SemVer) -> dict[str, str | None]:
    """Without metadata.json: each declared artifact's status from its own JSON."""
    out: dict[str, str | None] = {}
    for artifact in manifest.matrix():
        rel = f"{manifest.name}/{artifact.id}.json"
        doc = reader.read_json(rel, optional=True)
        if doc is None:
            out[artifact.id] = None
            continue
        where = reader.where(rel)
        if not isinstance(doc, dict):
            raise HubError(f"{where}: expected a JSON object")
        version, status = doc.get("version"), doc.get("status")
        if not isinstance(status, str):
            raise HubError(f"{where}: status: expected a status string")
        if not is_semver(version) or parse_semver(version) != mine:
            out[artifact.id] = "stale"
        else:
            out[artifact.id] = status
    return out


def compare(
    manifest: Manifest,
    reader: CatalogReader,
    index: Mapping[str, tuple[str, str]],
    *,
    allow_downgrade: bool = False,
) -> StateResult:
    """One exporter's status against the deployed catalog (see the module docstring)."""
    mine = parse_semver(manifest.version, what=f"{manifest.path}: version")
    if manifest.name not in index:
        return StateResult(
            manifest.name, manifest.path, manifest.version, None, "new", ["not in the deployed catalog"], True
        )
    version, path = index[manifest.name]
    deployed = parse_semver(version, what=f"{reader.where('index.json')}: {path}")
    decided = _by_version(manifest, mine, deployed, allow_downgrade)
    if decided is not None:
        return decided

    reasons: list[str] = []
    rel = f"{manifest.name}/metadata.json"
    metadata = reader.read_json(rel, optional=True)
    if metadata is None:
        statuses = _artifact_jsons_status(reader, manifest, mine)
        reasons.append("no metadata.json deployed: read the artifact JSONs")
    else:
        where = reader.where(rel)
        _check_metadata(metadata, where, manifest.name)
        meta_version = parse_semver(metadata["version"], what=f"{where}: version")
        if meta_version != deployed:
            # The index and metadata.json disagree: the statuses belong to metadata's version.
            decided = _by_version(manifest, mine, meta_version, allow_downgrade)
            if decided is not None:
                decided.reasons.append(f"index.json lists {deployed.text}, metadata.json says {meta_version.text}")
                return decided
        statuses = {a.id: metadata_status(metadata, a) for a in manifest.matrix()}

    problems = []
    for artifact_id, status in statuses.items():
        if status is None:
            problems.append(f"{artifact_id}: missing (not in the deployed catalog)")
        elif status != "success":
            problems.append(f"{artifact_id}: {status}")
    if problems:
        return StateResult(manifest.name, manifest.path, manifest.version, deployed.text, "rebuild", problems, True)
    return StateResult(manifest.name, manifest.path, manifest.version, deployed.text, "up-to-date", reasons, False)


def read_index(reader: CatalogReader, *, empty_ok: bool = False) -> dict[str, tuple[str, str]]:
    doc = reader.read_json("index.json", optional=empty_ok)
    if doc is None:
        return {}
    return parse_index(doc, reader.where("index.json"))


def compare_all(
    manifests: Sequence[Manifest],
    reader: CatalogReader,
    *,
    allow_downgrade: bool = False,
    empty_ok: bool = False,
) -> list[StateResult]:
    """Every manifest's status, sorted by exporter name."""
    names = [m.name for m in manifests]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise HubError(f"more than one manifest for: {', '.join(duplicates)}")
    index = read_index(reader, empty_ok=empty_ok)
    return [compare(m, reader, index, allow_downgrade=allow_downgrade) for m in sorted(manifests, key=lambda m: m.name)]


def report_json(results: Sequence[StateResult], catalog: str) -> dict[str, Any]:
    """The machine-readable report (``--json``), see docs/operations.md."""
    counts = {s: 0 for s in STATUSES}
    for r in results:
        counts[r.status] += 1
    return {
        "catalog": catalog,
        "build": [r.exporter for r in results if r.build],
        "refused": [r.exporter for r in results if r.status == "downgrade" and not r.build],
        "counts": counts,
        "results": [r.to_json() for r in results],
    }


def format_table(results: Sequence[StateResult]) -> str:
    headers = ("EXPORTER", "MANIFEST", "DEPLOYED", "STATUS", "REASONS")
    rows = [
        (
            r.exporter,
            r.manifest_version,
            r.deployed_version or "-",
            r.status + ("" if r.build or r.status != "downgrade" else " (refused)"),
            "; ".join(r.reasons),
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = []
    for row in (headers, *rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1])
    return "\n".join(line.rstrip() for line in lines)
