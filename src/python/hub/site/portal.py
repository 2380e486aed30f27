"""`hub portal`: the static portal, rendered with Jinja2 from the aggregated catalog only.

Inputs: ``catalog/index.json``, each ``catalog/<exporter>/metadata.json`` and the artifact JSONs
beside it (written by ``hub catalog``), plus each exporter's README.md. Output::

    <out>/index.html                 search, category filter, sort (data inlined: works on file://)
    <out>/exporters/<name>.html      README, the service's user and grants, artifact matrix,
                                     downloads, install instructions
    <out>/static/portal.{css,js}     hand-written, no CDN, no request at view time

Every link is relative, so the site works from any static host, under a sub-path, or from
``file://``. Download links are ``package.url`` (relative to the site root). The ``.repo`` and
``.sources`` texts come from :mod:`hub.repos.user_files`, the same functions the repositories use.

The site's base URL is only needed for those texts (dnf and apt need absolute URLs). Without
``--base-url`` they show ``PLACEHOLDER_BASE_URL``; when the page is then served over http(s),
the page script replaces the placeholder with the site's own address (the URL of the directory
holding index.html), and on ``file://`` the placeholder stays, with a note. See docs/portal.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pkgutil
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2
from markupsafe import Markup

from hub.catalog.aggregate import INDEX_FILE, METADATA_FILE, summary_status
from hub.common import matrix
from hub.common import files
from hub.common.errors import HubError
from hub.repos import user_files
from hub.site import markdown as safe_markdown

__all__ = [
    "PLACEHOLDER_BASE_URL",
    "build_portal",
    "inline_json",
    "install_blocks",
    "load_catalog",
    "service_groups",
]

PLACEHOLDER_BASE_URL = "https://<your-host>/<path>"
STATIC_FILES = ("portal.css", "portal.js")
EXPORTERS_DIR = "exporters"
MAX_README_BYTES = 256 * 1024
# What may appear in a command users copy: the schemas' own patterns, checked again here so a
# tampered catalog can never put shell syntax into an install command.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?/[a-z0-9]+([._/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$")
_RELATIVE_URL = re.compile(r"^(?!.*(?:^|/)\.\.?(?:/|$))[A-Za-z0-9._+~-]+(?:/[A-Za-z0-9._+~-]+)*$")
STATUS_LABELS = {"success": "built", "stale": "stale", "failed": "failed", "missing": "missing"}


# --------------------------------------------------------------------------------------------
# Loading the catalog
# --------------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise HubError(f"{path}: not found (build the catalog first: hub catalog)") from None
    except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise HubError(f"{path}: not a readable JSON document ({e})") from None


def load_catalog(catalog_dir: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(index, [{"metadata": ..., "artifacts": {id: doc}}] in index order). Only artifact ids
    the metadata declares are read; the documents were validated when the catalog was built."""
    root = Path(catalog_dir)
    index = _read_json(root / INDEX_FILE)
    exporters = []
    for entry in index.get("exporters", []):
        name = entry["name"]
        metadata = _read_json(root / name / METADATA_FILE)
        artifacts = {}
        for aid in declared_ids(metadata):
            path = root / name / f"{aid}.json"
            if path.exists():
                artifacts[aid] = _read_json(path)
        exporters.append({"metadata": metadata, "artifacts": artifacts})
    return index, exporters


def declared_ids(metadata: Mapping[str, Any]) -> list[str]:
    arts = metadata.get("artifacts", {})
    ids = [
        matrix.artifact_id(family, arch, dist)
        for family in ("rpm", "deb")
        for dist in _ordered(arts.get(family, {}), matrix.DISTS)
        for arch in _ordered(arts[family][dist], matrix.ARCHES)
    ]
    return ids + (["docker"] if "docker" in arts else [])


def _ordered(keys: Any, order: Iterable[str]) -> list[str]:
    return [k for k in order if k in keys]


# --------------------------------------------------------------------------------------------
# View models
# --------------------------------------------------------------------------------------------


def human_size(n: int | None) -> str:
    if not n:
        return ""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


@functools.lru_cache(maxsize=None)
def _repo_texts(base_url: str, family: str, dist: str) -> tuple[str, str]:
    """(setup commands, repository file) for one dist: the same for every exporter."""
    if family == "rpm":
        return user_files.yum_setup_commands(base_url, dist).rstrip("\n"), user_files.yum_repo_file(base_url, dist)
    codename = matrix.DISTS[dist].codename
    return user_files.apt_setup_commands(base_url, codename).rstrip("\n"), user_files.apt_sources_file(
        base_url, codename
    )


# Per package family: its package manager, and the title and file of the step that adds the
# repository (the same texts the users' repository files hold, from hub.repos.user_files).
_INSTALL_STEPS = {
    "rpm": ("dnf", "Add the repository", user_files.YUM_REPO_PATH),
    "deb": ("apt", "Add the signing key and the repository", user_files.APT_SOURCES_PATH),
}


# What a dist's own package manager must be at least, where the oldest release of that dist
# cannot read our packages. EL 8 before 8.2 has no zstd in rpm (Red Hat bug 1715799, fixed in
# rpm-4.14.2-26.el8, released with RHEL 8.2); see docs/packaging.md, "Compression".
MINIMUM_RELEASE = {
    "el8": (
        "Needs EL 8.2 or later: the packages' payloads are zstd, which rpm reads since RHEL 8.2 "
        "(rpm-4.14.2-26.el8). On 8.0 and 8.1, dnf refuses them (rpmlib(PayloadIsZstd) is needed): "
        "update rpm first."
    ),
}


def _shell_word(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.match(value) else None


def install_blocks(
    metadata: Mapping[str, Any], docker: Mapping[str, Any] | None, base_url: str
) -> list[dict[str, Any]]:
    """The install instructions, one group per dist (and one for the image). Each step is
    {title, text, file?}: ``text`` is exactly what its copy button copies; ``file`` is the
    repository file that step installs ({path, text}), shown and copyable too. Commands and
    file texts come from :mod:`hub.repos.user_files`, the functions the repositories use."""
    arts = metadata["artifacts"]
    packages = metadata.get("packages") or {}
    exporter = _shell_word(metadata.get("exporter"), _NAME) or "exporter"
    groups: list[dict[str, Any]] = []
    for family, (tool, add_title, repo_path) in _INSTALL_STEPS.items():
        default_name = exporter if family == "rpm" else matrix.deb_package_name(exporter)
        name = _shell_word(packages.get(family), _NAME) or default_name
        for dist in _ordered(arts.get(family, {}), matrix.FAMILY_DISTS[family]):
            setup, repo_file = _repo_texts(base_url, family, dist)
            groups.append(
                {
                    "id": f"{family}-{dist}",
                    "family": family,
                    "dist": dist,
                    "title": f"{dist_label(dist)} ({tool})",
                    "requirement": MINIMUM_RELEASE.get(dist),
                    "statuses": arts[family][dist],
                    "steps": [
                        {"title": add_title, "text": setup, "file": {"path": repo_path, "text": repo_file}},
                        {"title": "Install", "text": f"sudo {tool} install {name}"},
                    ],
                }
            )
    if "docker" in arts:
        steps = []
        image = (docker or {}).get("images", [{}])[0] if docker else None
        ref = (
            _shell_word(f"{image.get('registry')}/{image.get('repository')}@{image.get('digest')}", _IMAGE_REF)
            if image
            else None
        )
        if ref:
            port = metadata.get("port")
            publish = f" -p {port}:{port}" if isinstance(port, int) and not isinstance(port, bool) else ""
            steps = [
                {"title": "Pull (by digest)", "text": f"docker pull {ref}"},
                {"title": "Run", "text": f"docker run -d --name {exporter}{publish} {ref}"},
            ]
        groups.append(
            {
                "id": "docker",
                "family": "docker",
                "dist": None,
                "title": "Container image (docker)",
                "requirement": None,
                "statuses": {"image": arts["docker"]},
                "steps": steps,
            }
        )
    return groups


def dist_label(dist: str) -> str:
    if dist.startswith("el"):
        return f"EL {dist[2:]}"
    family, _, version = dist.partition("-")
    return f"{family.capitalize()} {version}"


def matrix_rows(
    metadata: Mapping[str, Any], artifacts: Mapping[str, Any], *, root: str, catalog_href: str
) -> list[dict[str, Any]]:
    """One row per declared dist, one cell per arch (None where the arch is not declared)."""
    arts = metadata["artifacts"]
    name = metadata["exporter"]
    archs = [
        a
        for a in matrix.ARCHES
        if any(a in arts.get(f, {}).get(d, {}) for f in ("rpm", "deb") for d in arts.get(f, {}))
    ]
    rows = []
    for family, order in (("rpm", matrix.RPM_DISTS), ("deb", matrix.DEB_DISTS)):
        for dist in _ordered(arts.get(family, {}), order):
            cells: list[dict[str, Any] | None] = []
            for arch in archs:
                status = arts[family][dist].get(arch)
                if status is None:
                    cells.append(None)
                    continue
                aid = matrix.artifact_id(family, arch, dist)
                doc = artifacts.get(aid) or {}
                package = doc.get("package") or {}
                url = package.get("url")
                if not (isinstance(url, str) and _RELATIVE_URL.match(url)):
                    url = None  # never a scheme, an absolute path or '..' (the schema's rule)
                cells.append(
                    {
                        "arch": arch,
                        "status": status,
                        "label": STATUS_LABELS.get(status, status),
                        "version": doc.get("version"),
                        "filename": package.get("filename"),
                        "href": root + url if url else None,
                        "size": human_size(package.get("size_bytes")),
                        "size_bytes": package.get("size_bytes"),
                        "sha256": package.get("sha256"),
                        "json": f"{catalog_href}{name}/{aid}.json" if doc else None,
                        **sbom_link(doc.get("sbom"), root),
                    }
                )
            rows.append({"family": family, "dist": dist, "label": dist_label(dist), "cells": cells})
    return rows if archs else []


def sbom_link(ref: Any, root: str) -> dict[str, Any]:
    """`sbom_href`/`sbom_sha256` of an artifact's SBOM reference (hub.packaging.sbom), or nothing: the
    URL must be relative and safe, like every download link."""
    if not isinstance(ref, Mapping):
        return {"sbom_href": None, "sbom_sha256": None}
    url = ref.get("url")
    if not (isinstance(url, str) and _RELATIVE_URL.match(url)):
        return {"sbom_href": None, "sbom_sha256": None}
    return {"sbom_href": root + url, "sbom_sha256": ref.get("sha256")}


def image_platforms(image: Any, root: str) -> list[dict[str, Any]]:
    """The image's platforms for the page: platform, digest, pull size and SBOM link."""
    if not isinstance(image, Mapping):
        return []
    return [
        {
            "platform": m.get("platform"),
            "digest": m.get("digest"),
            "size_bytes": m.get("size_bytes"),
            **sbom_link(m.get("sbom"), root),
        }
        for m in image.get("manifests") or []
        if isinstance(m, Mapping)
    ]


# How each kind of grant reads on the page (``show_value``: whether its value says anything).
GRANT_LABELS = {
    "capability": ("capability", True),
    "device": ("device", True),
    "read_path": ("reads", True),
    "write_path": ("writes", True),
    "address_family": ("address family", True),
    "system_call": ("system call", True),
    "proc": ("sees every process in /proc", False),
}
DEVICE_ACCESS = {"r": "read", "rw": "read and write", "rwm": "read, write and create device nodes"}
FAMILY_LABELS = {"rpm": "RPM", "deb": "DEB"}


def _service_view(service: Any) -> dict[str, Any]:
    """One family's ``service`` (metadata.json) for the page: texts only, whatever the types
    (a tampered catalog must not break the page; the template escapes every text)."""
    if not isinstance(service, Mapping):
        return {"unit": False}
    grants = []
    for g in service.get("grants") or []:
        if not isinstance(g, Mapping):
            continue
        kind = str(g.get("kind"))
        label, show_value = GRANT_LABELS.get(kind, (kind.replace("_", " "), True))
        access = g.get("access") if kind == "device" else None
        grants.append(
            {
                "kind": kind,
                "label": label,
                "value": str(g.get("value")) if show_value else None,
                "access": DEVICE_ACCESS.get(str(access), str(access)) if access is not None else None,
                "reason": str(g.get("reason") or ""),
            }
        )
    user = str(service.get("user") or "")
    reason = service.get("run_as_root")
    return {
        "unit": True,
        "user": user,
        # The user is what the unit runs as: root is flagged even without a reason.
        "root": user == "root",
        "root_reason": str(reason) if reason and user == "root" else None,
        "grants": grants,
    }


def service_groups(metadata: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The "Service" section: one group when every packaged family declares the same service,
    else one per family (``label`` RPM or DEB). None for metadata written before ``service``
    existed (the section is left out); [] when no package is declared."""
    service = metadata.get("service")
    if not isinstance(service, Mapping):
        return None
    packages = metadata.get("packages") or {}
    families = [f for f in FAMILY_LABELS if packages.get(f) or service.get(f)]
    views = {f: _service_view(service.get(f)) for f in families}
    if not families:
        return []
    if all(views[f] == views[families[0]] for f in families):
        return [{"label": None, "families": families, **views[families[0]]}]
    return [{"label": FAMILY_LABELS[f], "families": [f], **views[f]} for f in families]


def index_entries(index: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for e in index.get("exporters", []):
        counts = e.get("status_counts", {})
        out.append(
            {
                "name": e["name"],
                "version": e["version"],
                "category": e["category"],
                "description": e["description"],
                "updated": e.get("last_updated") or "",
                "status": e.get("status") or summary_status(counts),
                "counts": {k: counts.get(k, 0) for k in ("success", "stale", "failed", "missing", "total")},
                "href": f"{EXPORTERS_DIR}/{e['name']}.html",
            }
        )
    return out


def inline_json(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` become
    \\u escapes, so no ``</script>`` or ``<!--`` can end or confuse the block; JSON.parse gives
    the data back unchanged."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _load_template(name: str) -> str:
    data = pkgutil.get_data("hub", f"templates/portal/{name}")
    if data is None:  # pragma: no cover - a broken installation
        raise FileNotFoundError(f"hub/templates/portal/{name}")
    return data.decode("utf-8")


def _static(name: str) -> bytes:
    data = pkgutil.get_data("hub", f"templates/portal/static/{name}")
    if data is None:  # pragma: no cover
        raise FileNotFoundError(f"hub/templates/portal/static/{name}")
    return data


_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(_load_template),
    undefined=jinja2.StrictUndefined,
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["safe_url"] = lambda url: safe_markdown.safe_url(url) if isinstance(url, str) else None


def _write(path: Path, data: bytes) -> None:
    """Atomic; an unchanged file is left alone (a rebuild of the same catalog touches nothing)."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass
    files.write_atomic(path, data)


def read_readme(readmes: str | os.PathLike[str] | None, name: str) -> Markup | None:
    if readmes is None:
        return None
    path = Path(readmes) / name / "README.md"
    try:
        raw = path.read_bytes()[:MAX_README_BYTES]
    except FileNotFoundError:
        return None
    return Markup(safe_markdown.render(raw.decode("utf-8", errors="replace"), heading_offset=2))


def _catalog_href(catalog_dir: Path, out: Path) -> str | None:
    """The catalog's URL relative to the site root, if the catalog is inside the site."""
    try:
        rel = catalog_dir.resolve().relative_to(out.resolve())
    except ValueError:
        return None
    return "" if str(rel) == "." else rel.as_posix() + "/"


def build_portal(
    catalog_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    readmes: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
) -> list[str]:
    """Renders the site into ``out``; returns the files written (relative to ``out``). A catalog
    outside ``out`` is copied to ``out/catalog/`` so the JSON links work."""
    catalog_dir, out = Path(catalog_dir), Path(out)
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise HubError(f"--base-url: expected an http:// or https:// URL, got {base_url!r}")
    index, exporters = load_catalog(catalog_dir)
    href = _catalog_href(catalog_dir, out)
    if href is None:
        _copy_catalog(catalog_dir, out / "catalog")
        href = "catalog/"
    written: list[str] = []
    assets = {}
    for name in STATIC_FILES:
        data = _static(name)
        _write(out / "static" / name, data)
        assets[name.replace(".", "_")] = f"static/{name}?v={hashlib.sha256(data).hexdigest()[:12]}"
        written.append(f"static/{name}")
    common = {
        "assets": assets,
        "placeholder": PLACEHOLDER_BASE_URL,
        "base_url_given": base_url is not None,
        "totals": index.get("totals", {}),
        "catalog_href": href,
    }
    entries = index_entries(index)
    categories = index.get("categories", {})
    page = _ENV.get_template("index.html.j2").render(
        root="",
        entries=entries,
        categories=categories,
        data=inline_json(entries),
        **common,
    )
    _write(out / "index.html", page.encode("utf-8"))
    written.append("index.html")

    base = base_url or PLACEHOLDER_BASE_URL
    pages = set()
    for item in exporters:
        md, arts = item["metadata"], item["artifacts"]
        name = md["exporter"]
        root = "../"
        docker = arts.get("docker")
        image = (docker or {}).get("images", [None])[0] if docker else None
        page = _ENV.get_template("exporter.html.j2").render(
            root=root,
            m=md,
            counts=md.get("status_counts", {}),
            status=summary_status(md.get("status_counts", {})),
            rows=matrix_rows(md, arts, root=root, catalog_href=root + href),
            archs=[
                a
                for a in matrix.ARCHES
                if any(a in d for f in ("rpm", "deb") for d in md["artifacts"].get(f, {}).values())
            ],
            docker_status=md["artifacts"].get("docker"),
            image=image,
            docker_doc=docker,
            platforms=image_platforms(image, root),
            docker_json=f"{root}{href}{name}/docker.json" if docker else None,
            install=install_blocks(md, docker, base),
            service=service_groups(md),
            readme=read_readme(readmes, name),
            metadata_href=f"{root}{href}{name}/{METADATA_FILE}",
            index_href=f"{root}{href}{INDEX_FILE}",
            labels=STATUS_LABELS,
            human_size=human_size,
            **common,
        )
        rel = f"{EXPORTERS_DIR}/{name}.html"
        _write(out / rel, page.encode("utf-8"))
        written.append(rel)
        pages.add(f"{name}.html")
    for old in (out / EXPORTERS_DIR).glob("*.html"):  # exporters removed from the catalog
        if old.name not in pages:
            old.unlink()
    return written


def _copy_catalog(src: Path, dest: Path) -> None:
    for path in sorted(src.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(src).parts):
            continue
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
