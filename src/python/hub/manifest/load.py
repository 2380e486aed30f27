"""Exporter manifests: YAML in, a typed, frozen model out, with every problem reported at once.

``exporters/<name>/manifest.yaml`` is read by a strict YAML loader (no duplicate or non-text
keys, a bounded size), validated against ``schemas/manifest.schema.json`` (JSON Schema
2020-12, shipped in this package; its errors put in words by :mod:`hub.manifest.explain`) and
then by the semantic checks the schema cannot express (:mod:`hub.manifest.checks`:
placeholders, files on disk, unique binaries...). Every problem becomes a
:class:`hub.common.errors.FieldError` naming the field path and what was expected, e.g.::

    exporters/foo/manifest.yaml: artifacts.rpm.targets[1]: 'el7' is not one of el8, el9, el10

The schema's defaults are applied when the model is built: its ``default`` values, and the
lists of the build matrix its ``x-default-from-matrix`` keyword names (see
:func:`hub.common.schemas.default_value`). The dynamic defaults (``system_user`` = the
exporter's name, ``summary`` = the description, ``docker.user`` = the packages' service user)
are applied here. jsonschema is imported lazily, only to validate.
"""

from __future__ import annotations

import os
from typing import Any, Hashable, Iterable, Sequence

import yaml

from hub.common import matrix
from hub.common import schemas
from hub.common.errors import FieldError, HubError, LocatedError, ManifestError
from hub.manifest.checks import semantic_errors
from hub.manifest.explain import describe, schema_errors
from hub.manifest.policy import GRANT_KINDS
from hub.manifest.model import (
    DISTRIBUTIONS,
    MANIFEST_FILE,
    Build,
    Directory,
    DistributionPackages,
    DockerSpec,
    DockerValidation,
    ExtraFile,
    Grant,
    Manifest,
    PackageSpec,
    SystemdSpec,
    Upstream,
)

MAX_MANIFEST_BYTES = 1 << 20
MAX_NODES = 100_000  # values after alias expansion; real manifests have a few hundred

__all__ = [
    "find_manifests",
    "lint_errors",
    "lint_warnings",
    "load_manifest",
    "load_schema",
    "validate_manifest_data",
    "validate_manifest_file",
]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_manifest(path: str | os.PathLike[str], *, display_path: str | None = None) -> Manifest:
    """Reads, validates and builds the model; raises ManifestError listing every problem."""
    path = os.fspath(path)
    data, errors = _read(path)
    if not errors:
        errors = validate_manifest_data(data, base_dir=os.path.dirname(path) or ".", file_name=path)
    if errors:
        raise ManifestError(display_path or path, errors)
    return _build(path, _with_defaults(data))


def find_manifests(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Manifest files from files and directories (an exporter directory, or exporters/)."""
    out: list[str] = []
    for p in (os.fspath(path) for path in paths):
        if os.path.isdir(p):
            own = os.path.join(p, MANIFEST_FILE)
            if os.path.isfile(own):
                out.append(own)
            else:
                found = sorted(
                    os.path.join(p, d, MANIFEST_FILE)
                    for d in os.listdir(p)
                    if os.path.isfile(os.path.join(p, d, MANIFEST_FILE))
                )
                if not found:
                    raise HubError(f"{p}: no {MANIFEST_FILE} in this directory or its subdirectories")
                out.extend(found)
        elif os.path.isfile(p):
            out.append(p)
        else:
            raise HubError(f"{p}: no such manifest file or directory")
    return out


def validate_manifest_file(path: str | os.PathLike[str]) -> list[FieldError]:
    """Every schema and semantic error of one manifest file (empty when it is valid)."""
    path = os.fspath(path)
    data, errors = _read(path)
    if errors:
        return errors
    return validate_manifest_data(data, base_dir=os.path.dirname(path) or ".", file_name=path)


def validate_manifest_data(data: Any, *, base_dir: str | None = None, file_name: str | None = None) -> list[FieldError]:
    """Validates parsed YAML. Without ``base_dir`` the checks of files on disk are skipped."""
    if not isinstance(data, dict):
        got = "an empty document" if data is None else describe(data)
        return [FieldError("", f"expected a mapping of manifest fields, got {got}")]
    if _expanded_size(data) > MAX_NODES:
        return [FieldError("", f"more than {MAX_NODES} values once YAML aliases are expanded")]
    errors = schema_errors(data)
    # A semantic check never repeats a field the schema already rejected (one cause, one line).
    fields = {e.field for e in errors}
    for e in semantic_errors(_with_defaults(data), base_dir, file_name):
        if e.field not in fields and e not in errors:
            errors.append(e)
    return errors


def _expanded_size(data: Any) -> int:
    """Counts values as if aliases were copies, stopping past MAX_NODES ("billion laughs")."""
    count, stack = 0, [data]
    while stack and count <= MAX_NODES:
        value = stack.pop()
        count += 1
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count


def lint_errors(manifest: Manifest) -> list[FieldError]:
    """What `hub validate` (the lint) requires of the repository's exporters beyond a valid
    manifest: the table of the distributions' own packages of the exporter. Builds do not
    need it, so synthetic manifests may leave it out."""
    every = [d for family in DISTRIBUTIONS.values() for d in family]
    if manifest.distribution_packages:
        return [
            FieldError(
                f"distribution_packages.{dist}",
                "missing: list the packages that ship this same exporter there (`packages: []` for none)"
                " and where that was checked (`checked: ...`), or say why it could not be"
                " (`not_checked: ...`); see docs/migrating.md",
            )
            for dist in every
            if dist not in manifest.distribution_packages
        ]
    dists = ", ".join(every)
    return [
        FieldError(
            "distribution_packages",
            f"missing: list, for each of {dists}, the packages that ship this same exporter there"
            " (`packages: []` for none) and where that was checked (`checked: ...`), or say why it"
            " could not be (`not_checked: ...`); see docs/migrating.md",
        )
    ]


def lint_warnings(manifest: Manifest) -> list[FieldError]:
    """Problems that do not block a build."""
    warnings = []
    if manifest.license is None:
        warnings.append(
            FieldError("license", "not set: it is never guessed; `update-upstreams` fills it from the GitHub API")
        )
    for kind, spec in (("rpm", manifest.rpm), ("deb", manifest.deb)):
        if spec is not None and spec.systemd.run_as_root:
            warnings.append(
                FieldError(
                    f"artifacts.{kind}.systemd.run_as_root", f"the service runs as root: {spec.systemd.run_as_root}"
                )
            )
    return warnings


def load_schema() -> dict[str, Any]:
    """The manifest JSON Schema: a fresh copy, which the caller may change."""
    return schemas.load_schema("manifest")


class _Loader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys and non-text keys (merge keys still work)."""

    def compose_mapping_node(self, anchor: dict[Any, yaml.Node]) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], Any] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                ident = (key.tag, key.value)
                if ident in seen:
                    raise yaml.composer.ComposerError(
                        None,
                        None,
                        f"duplicate field {key.value!r} (first given at line {seen[ident].line + 1})",
                        key.start_mark,
                    )
                seen[ident] = key.start_mark
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        if isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    continue
                if not (isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:str"):
                    shown = key.value if isinstance(key, yaml.ScalarNode) else "a collection"
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"field names must be text, got {shown!r} (YAML reads it as {key.tag.rsplit(':', 1)[-1]}; quote it)",
                        key.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


def _read(path: str) -> tuple[Any, list[FieldError]]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        return None, [FieldError("", f"cannot read the file: {e.strerror or e}")]
    if len(raw) > MAX_MANIFEST_BYTES:
        return None, [FieldError("", f"the file is larger than {MAX_MANIFEST_BYTES} bytes")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [FieldError("", f"not UTF-8 text (byte {e.start})")]
    try:
        return yaml.load(text, Loader=_Loader), []  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        return None, [yaml_error(e)]
    except yaml.YAMLError as e:  # pragma: no cover - unmarked errors are rare
        return None, [FieldError("", f"invalid YAML: {e}")]


def yaml_error(e: yaml.MarkedYAMLError) -> FieldError:
    """A YAML syntax error as ``file:line:col: problem``."""
    mark = e.problem_mark or e.context_mark
    message = e.problem or e.context or "invalid YAML"
    if e.context and e.problem and e.context_mark is not None:
        message += f" ({e.context} at line {e.context_mark.line + 1})"
    if mark is None:  # pragma: no cover
        return FieldError("", message)
    return LocatedError("", message, mark.line + 1, mark.column + 1)


# --------------------------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------------------------


def _fill(schema: Any, inst: Any, root: dict[str, Any]) -> None:
    """Sets the schema's defaults in ``inst``, in place, where a field is absent."""
    schema = schemas.resolve(schema, root)
    if not isinstance(schema, dict):
        return
    if isinstance(inst, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            sub = schemas.resolve(sub, root)
            if key not in inst:
                default = schemas.default_value(sub)
                if default is not schemas.NO_DEFAULT:
                    inst[key] = default
            if key in inst:
                _fill(sub, inst[key], root)
    elif isinstance(inst, list) and "items" in schema:
        for item in inst:
            _fill(schema["items"], item, root)


def _unshared_copy(value: Any) -> Any:
    """A deep copy that also splits YAML aliases (``deb: *rpm``): each gets its own defaults."""
    if isinstance(value, dict):
        return {k: _unshared_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshared_copy(v) for v in value]
    return value


def _with_defaults(data: Any) -> Any:
    data = _unshared_copy(data)
    schema = schemas.schema("manifest")
    _fill(schema, data, schema)
    return data


# --------------------------------------------------------------------------------------------
# Building the model from valid, defaulted data
# --------------------------------------------------------------------------------------------


def _ordered(values: Iterable[str], order: Sequence[str]) -> tuple[str, ...]:
    present = set(values)
    return tuple(v for v in order if v in present)


def _grant(g: dict[str, Any]) -> Grant:
    kind = next(k for k in GRANT_KINDS if k in g)
    return Grant(kind, g[kind], g["reason"], g.get("access", "r"))


def _package(d: dict[str, Any], order: Sequence[str], name: str, description: str) -> PackageSpec:
    s = d["systemd"]
    return PackageSpec(
        targets=_ordered(d["targets"], order),
        summary=d.get("summary", description),
        dependencies=tuple(d["dependencies"]),
        system_user=d.get("system_user", name),
        systemd=SystemdSpec(
            enabled=s["enabled"],
            arguments=tuple(s["arguments"]),
            after=tuple(s["after"]),
            restart=s["restart"],
            type=s["type"],
            grants=tuple(_grant(g) for g in s["grants"]),
            run_as_root=s.get("run_as_root"),
        ),
        extra_files=tuple(ExtraFile(f["source"], f["dest"], f["mode"], f["config"]) for f in d["extra_files"]),
        directories=tuple(Directory(x["path"], x["mode"], x["owner"], x["group"]) for x in d["directories"]),
        conflicts=tuple(d["conflicts"]),
        replaces=tuple(d["replaces"]),
    )


def _build(path: str, data: dict[str, Any]) -> Manifest:
    name, description = data["name"], data["description"]
    up, build, artifacts = data["upstream"], data["build"], data["artifacts"]
    rpm, deb, docker = artifacts["rpm"], artifacts["deb"], artifacts["docker"]

    docker_spec = None
    if docker["enabled"]:
        user = docker.get("user")
        if user is None:
            user = next(
                (s["system_user"] for s in (rpm, deb) if s.get("system_user") not in (None, "root")),
                name,
            )
        validation = docker.get("validation")
        docker_spec = DockerSpec(
            base_image=docker["base_image"],
            entrypoint=tuple(docker["entrypoint"]),
            cmd=tuple(docker["cmd"]),
            port=int(docker["port"]) if "port" in docker else None,
            user=user,
            ca_certificates=docker["ca_certificates"],
            validation=(
                DockerValidation(validation["path"], validation.get("expect")) if validation is not None else None
            ),
        )

    return Manifest(
        path=path,
        name=name,
        description=description,
        category=data["category"],
        version=data["version"],
        license=data.get("license"),
        homepage=data.get("homepage"),
        upstream=Upstream(
            repo=up.get("repo"),
            tag=up["tag"],
            strategy=up["strategy"],
            archive_name=up["archive_name"],
            arch_names={arch: dict(v) for arch, v in up["arch_names"].items()},
            local=dict(up["local"]) if "local" in up else None,
        ),
        build=Build(
            binary_name=build["binary_name"],
            extra_binaries=tuple(build["extra_binaries"]),
            archs=_ordered(build["archs"], matrix.ARCHES),
        ),
        rpm=_package(rpm, matrix.RPM_DISTS, name, description) if rpm["enabled"] else None,
        deb=_package(deb, matrix.DEB_DISTS, name, description) if deb["enabled"] else None,
        docker=docker_spec,
        distribution_packages={
            dist: DistributionPackages(
                tuple(e["packages"]) if "packages" in e else None,
                checked=e.get("checked"),
                note=e.get("note"),
                not_checked=e.get("not_checked"),
            )
            for dist, e in data.get("distribution_packages", {}).items()
        },
    )
