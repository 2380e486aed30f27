"""SBOMs: the Go modules inside each binary of a package or an image, as CycloneDX 1.5 JSON.

`package_sbom` and `image_sbom` render one CycloneDX document per package file and per
image platform: the subject (the package or the image platform, with its purl and the
upstream archive it was made from), each executable with its SHA-256, and the Go modules
linked into it, read from its Go build info (`hub.packaging.buildinfo`). A binary without
build info is listed with its hash and no modules, and the document says why.

The documents are byte-reproducible: the timestamp is the upstream lock's `source_date`, the
serial number is derived from the document's own content, components and lists are sorted,
and nothing comes from the clock or the machine. See docs/security.md ("Supply chain") and
docs/catalog.md ("SBOM").
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from hub import __version__
from hub.catalog import artifact as catalog
from hub.common import files
from hub.common.errors import HubError
from hub.packaging.buildinfo import Module, read_build_info

SUFFIX = ".cdx.json"
SPEC_VERSION = "1.5"
TOOL_NAME = "monitoring-hub"
SUPPLIER = "Monitoring Hub"
PURL_NAMESPACE = "monitoring-hub"
PROPERTY_PREFIX = "monitoring-hub:"


# --------------------------------------------------------------------------------------------
# CycloneDX 1.5 documents
# --------------------------------------------------------------------------------------------


def _q(s: str) -> str:
    """Percent-encoding of one purl segment, version or qualifier value."""
    return quote(s, safe="")


def golang_purl(path: str, version: str | None) -> str:
    """`pkg:golang/<module path>@<version>?type=module`, as cyclonedx-gomod writes it (case kept:
    Go module paths are case-sensitive)."""
    segments = "/".join(_q(s) for s in path.split("/"))
    at = f"@{_q(version)}" if version and version != "(devel)" else ""
    return f"pkg:golang/{segments}{at}?type=module"


def package_purl(kind: str, name: str, version: str, arch: str, distro: str) -> str:
    """`pkg:rpm/monitoring-hub/<name>@<version>-<release>?arch=<arch>&distro=<dist>` (or pkg:deb)."""
    return f"pkg:{kind}/{PURL_NAMESPACE}/{_q(name)}@{_q(version)}?arch={_q(arch)}&distro={_q(distro)}"


def oci_purl(repository: str, digest: str, *, arch: str, registry: str, tag: str) -> str:
    name = repository.rsplit("/", 1)[-1]
    return (
        f"pkg:oci/{_q(name)}@{_q(digest)}?arch={_q(arch)}"
        f"&repository_url={_q(f'{registry}/{repository}')}&tag={_q(tag)}"
    )


def _prop(name: str, value: str) -> dict[str, str]:
    return {"name": PROPERTY_PREFIX + name, "value": value}


def _h1_hashes(sum_: str | None) -> list[dict[str, str]]:
    """A `h1:` go.sum checksum is base64 of a SHA-256 (over the module's file list); written
    as hex, as cyclonedx-gomod does. The raw sum is kept in a property as well."""
    if not sum_ or not sum_.startswith("h1:"):
        return []
    try:
        raw = base64.b64decode(sum_[3:], validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return []
    return [{"alg": "SHA-256", "content": raw.hex()}] if len(raw) == 32 else []


def _module_component(m: Module, *, main: bool) -> dict[str, Any]:
    """The module as it was compiled: a replacement by another module is listed under the
    replacement's path and version, with the module it replaces as its pedigree; a replacement
    by a local directory (no version) keeps the original's identity and says so."""
    built = m.replace if m.replace is not None and m.replace.version else m
    purl = golang_purl(built.path, built.version)
    c: dict[str, Any] = {
        "type": "application" if main else "library",
        "bom-ref": purl,
        "name": built.path,
        "purl": purl,
    }
    if built.version:
        c["version"] = built.version
    hashes = _h1_hashes(built.sum)
    if hashes:
        c["hashes"] = hashes
    props = []
    if built.sum:
        props.append(_prop("go:sum", built.sum))
    if m.replace is not None:
        if built is m.replace:
            c["pedigree"] = {
                "ancestors": [
                    {
                        "type": "library",
                        "name": m.path,
                        "version": m.version,
                        "purl": golang_purl(m.path, m.version),
                    }
                ]
            }
        props.append(_prop("go:replaced", f"{m.path} {m.version} => {m.replace.path} {m.replace.version}".rstrip()))
    if props:
        c["properties"] = props
    return c


def _std_component(go_version: str) -> dict[str, Any]:
    purl = golang_purl("std", go_version.split(" ")[0])
    return {
        "type": "library",
        "bom-ref": purl,
        "name": "std",
        "version": go_version.split(" ")[0],
        "purl": purl,
        "description": "The Go standard library and runtime, linked into every Go binary",
    }


@dataclass(frozen=True)
class Binary:
    """One executable of a package or image: where it is installed and the file itself."""

    install_path: str  # /usr/bin/node_exporter
    file: str  # the file to hash and read


def _binary_parts(binary: Binary) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """(file component, module components, composition aggregate) of one binary."""
    sha256, _ = catalog.file_digest(binary.file)
    info = read_build_info(binary.file)
    ref = f"file:{binary.install_path}"
    c: dict[str, Any] = {
        "type": "file",
        "bom-ref": ref,
        "name": binary.install_path,
        "hashes": [{"alg": "SHA-256", "content": sha256}],
    }
    props = []
    modules: list[dict[str, Any]] = []
    if info is None:
        c["description"] = (
            "No Go build info: not a Go binary, or one built without it. "
            "Its dependencies are not known and none is listed."
        )
        props.append(_prop("go:buildinfo", "absent"))
        aggregate = "unknown"
    else:
        props.append(_prop("go:buildinfo", "present" if info.main else "no-modules"))
        props.append(_prop("go:version", info.go_version))
        if info.path:
            props.append(_prop("go:path", info.path))
        props += [_prop(f"go:build:{k}", v) for k, v in info.settings]
        modules.append(_std_component(info.go_version))
        if info.main is None:
            c["description"] = (
                f"Go binary built with {info.go_version} without modules (GOPATH mode): "
                "its build info records no module list, so only the standard library is listed."
            )
            aggregate = "unknown"
        else:
            c["description"] = (
                f"Go binary built with {info.go_version}; the modules listed are every "
                "module its Go build info records."
            )
            modules.append(_module_component(info.main, main=True))
            modules += [_module_component(d, main=False) for d in info.deps]
            aggregate = "complete"
    c["properties"] = props
    return c, modules, aggregate


def _document(
    subject: dict[str, Any],
    binaries: Sequence[Binary],
    *,
    source_date: str,
    extra_components: Sequence[dict[str, Any]] = (),
    note: str,
) -> dict[str, Any]:
    files, compositions, deps = [], [], []
    modules: dict[str, dict[str, Any]] = {}
    for b in sorted(binaries, key=lambda b: b.install_path):
        file_c, mods, aggregate = _binary_parts(b)
        files.append(file_c)
        for m in mods:
            modules.setdefault(m["bom-ref"], m)  # the same module in two binaries: listed once
        deps.append({"ref": file_c["bom-ref"], "dependsOn": sorted({m["bom-ref"] for m in mods})})
        compositions.append((aggregate, file_c["bom-ref"]))
    refs = {c["bom-ref"] for c in files} | set(modules)
    if len(refs) != len(files) + len(modules):
        raise HubError(f"SBOM of {subject['name']}: two binaries at the same path")
    for c in extra_components:
        deps.append({"ref": c["bom-ref"], "dependsOn": []})
    deps.append(
        {
            "ref": subject["bom-ref"],
            "dependsOn": sorted([f["bom-ref"] for f in files] + [c["bom-ref"] for c in extra_components]),
        }
    )
    by_aggregate: dict[str, list[str]] = {}
    for aggregate, ref in compositions:
        by_aggregate.setdefault(aggregate, []).append(ref)
    doc: dict[str, Any] = {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "timestamp": source_date,
            "lifecycles": [{"phase": "build"}],
            "tools": {"components": [{"type": "application", "name": TOOL_NAME, "version": __version__}]},
            "component": subject,
            "properties": [_prop("sbom:scope", note)],
        },
        "components": files + list(extra_components) + [modules[k] for k in sorted(modules)],
        "dependencies": sorted(deps, key=lambda d: d["ref"]),
        "compositions": [
            # The subject lists its executables only (not units, docs, config).
            {"aggregate": "incomplete", "assemblies": [subject["bom-ref"]]},
            *({"aggregate": a, "dependencies": sorted(r)} for a, r in sorted(by_aggregate.items())),
        ],
    }
    # A serial number from the content: the same inputs give the same document, and any
    # change gives another serial number.
    digest = hashlib.sha256(canonical(doc)).digest()
    doc["serialNumber"] = uuid.UUID(bytes=digest[:16], version=5).urn
    return doc


def _source_reference(source: Mapping[str, str]) -> dict[str, Any]:
    return {
        "type": "distribution",
        "url": source["url"],
        "comment": "The pinned upstream release archive the binaries were taken from, unmodified",
        "hashes": [{"alg": "SHA-256", "content": source["sha256"]}],
    }


def package_sbom(
    *,
    kind: str,
    name: str,
    version: str,
    arch: str,
    dist: str,
    summary: str,
    license: str | None,
    homepage: str | None,
    source: Mapping[str, str],
    source_date: str,
    binaries: Sequence[Binary],
) -> dict[str, Any]:
    """The SBOM of one RPM or DEB: `version` is the full package version (1.11.0-1.el9),
    `arch` the package's architecture name (x86_64, amd64...)."""
    purl = package_purl(kind, name, version, arch, dist)
    subject: dict[str, Any] = {
        "type": "application",
        "bom-ref": purl,
        "supplier": {"name": SUPPLIER},
        "name": name,
        "version": version,
        "description": summary,
        "purl": purl,
        "externalReferences": [_source_reference(source)],
        "properties": [_prop("package:kind", kind), _prop("package:dist", dist), _prop("package:arch", arch)],
    }
    if license and license != "NOASSERTION":
        subject["licenses"] = [{"expression": license}]
    if homepage:
        subject["externalReferences"].append({"type": "website", "url": homepage})
    return _document(
        subject, binaries, source_date=source_date, note="the package's executables and the Go modules linked into them"
    )


def image_sbom(
    *,
    exporter: str,
    registry: str,
    repository: str,
    tag: str,
    arch: str,
    digest: str,
    base_image: str,
    source: Mapping[str, str],
    source_date: str,
    binaries: Sequence[Binary],
) -> dict[str, Any]:
    """The SBOM of one platform of an image: `digest` is that platform's manifest digest."""
    purl = oci_purl(repository, digest, arch=arch, registry=registry, tag=tag)
    subject: dict[str, Any] = {
        "type": "container",
        "bom-ref": purl,
        "supplier": {"name": SUPPLIER},
        "name": f"{registry}/{repository}",
        "version": tag,
        "description": f"{exporter} image, linux/{arch}",
        "hashes": [{"alg": "SHA-256", "content": digest.split(":", 1)[1]}],
        "purl": purl,
        "externalReferences": [_source_reference(source)],
        "properties": [_prop("image:platform", f"linux/{arch}"), _prop("image:base", base_image)],
    }
    extra = []
    if base_image != "scratch":
        repo, _, base_digest = base_image.partition("@")
        base_purl = f"pkg:oci/{_q(repo.rsplit('/', 1)[-1])}"
        if base_digest:
            base_purl += f"@{_q(base_digest)}?arch={_q(arch)}&repository_url={_q(repo)}"
        extra.append(
            {
                "type": "container",
                "bom-ref": base_purl,
                "name": repo,
                "purl": base_purl,
                "description": "The base image (its own contents are not listed here)",
            }
        )
    return _document(
        subject,
        binaries,
        source_date=source_date,
        extra_components=extra,
        note="the image's executables, its base image, and the Go modules linked into them",
    )


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_sbom(path: str | os.PathLike[str], doc: Mapping[str, Any], *, url: str) -> dict[str, Any]:
    """Writes the document (the catalog's JSON style, atomically) and returns the artifact
    JSON's reference to it: {filename, url, sha256, size_bytes, format}."""
    files.write_json(path, doc)
    sha256, size = catalog.file_digest(path)
    return {
        "filename": os.path.basename(os.fspath(path)),
        "url": url,
        "sha256": sha256,
        "size_bytes": size,
        "format": f"CycloneDX {SPEC_VERSION}",
    }
