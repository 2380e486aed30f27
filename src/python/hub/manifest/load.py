"""Exporter manifests: YAML in, a typed, frozen model out, with every problem reported at once.

``exporters/<name>/manifest.yaml`` is validated against ``schemas/manifest.schema.json`` (JSON
Schema 2020-12, shipped in this package) and then by semantic checks the schema cannot express
(placeholders, files on disk, unique binaries...). Every problem becomes a
:class:`hub.common.errors.FieldError` naming the field path and what was expected, e.g.::

    exporters/foo/manifest.yaml: artifacts.rpm.targets[1]: 'el7' is not one of el8, el9, el10

The schema's ``default`` values are applied when the model is built; the dynamic defaults
(``system_user`` = the exporter's name, ``summary`` = the description, ``docker.user`` = the
packages' service user) are applied here. jsonschema is imported lazily, only to validate.
"""

from __future__ import annotations

import copy
import datetime
import os
import re
import unicodedata
from typing import Any, Iterable, Iterator, Sequence

import yaml

from hub.common import matrix
from hub.common import schemas
from hub.common.schemas import field_path
from hub.common.errors import FieldError, HubError, LocatedError, ManifestError
from hub.manifest.model import (
    PLACEHOLDER_RE,
    PLACEHOLDERS,
    TAG_PLACEHOLDERS,
    Build,
    Directory,
    DockerSpec,
    DockerValidation,
    ExtraFile,
    Manifest,
    PackageSpec,
    SystemdSpec,
    Upstream,
    expand,
)

MANIFEST_FILE = "manifest.yaml"
MAX_MANIFEST_BYTES = 1 << 20
MAX_NODES = 100_000  # values after alias expansion; real manifests have a few hundred

USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Free text (descriptions, summaries, command-line arguments) may hold any printable
# character, look-alikes included: every renderer escapes it. These categories are refused
# anyway, as hub.upstream.archive refuses them in names. Cc: controls (the schema already refuses the
# C0 ones; C1 too, such as NEL, a line break to some readers); Cf: invisible formatting
# characters (bidi overrides, zero-width characters) that make a text display differently
# from what it is; Zl/Zp: line and paragraph separators; Cs: lone surrogates, which no UTF-8
# file can hold; Cn: unassigned code points and noncharacters (U+FFFE), which YAML refuses.
_REFUSED_TEXT = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "a lone surrogate (not valid UTF-8)",
    "Cn": "an unassigned code point",
}

__all__ = [
    "find_manifests",
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
    for p in map(os.fspath, paths):
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


def validate_manifest_data(
    data: Any, *, base_dir: str | None = None, file_name: str | None = None
) -> list[FieldError]:
    """Validates parsed YAML. Without ``base_dir`` the checks of files on disk are skipped."""
    if not isinstance(data, dict):
        got = "an empty document" if data is None else _describe(data)
        return [FieldError("", f"expected a mapping of manifest fields, got {got}")]
    if _expanded_size(data) > MAX_NODES:
        return [FieldError("", f"more than {MAX_NODES} values once YAML aliases are expanded")]
    errors = _schema_errors(data)
    # A semantic check never repeats a field the schema already rejected (one cause, one line).
    fields = {e.field for e in errors}
    for e in _semantic_errors(_with_defaults(data), base_dir, file_name):
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


def lint_warnings(manifest: Manifest) -> list[FieldError]:
    """Problems that do not block a build."""
    warnings = []
    if manifest.license is None:
        warnings.append(
            FieldError("license", "not set: it is never guessed; `update-upstreams` fills it from the GitHub API")
        )
    return warnings


def load_schema() -> dict[str, Any]:
    """The manifest JSON Schema: a fresh copy, which the caller may change."""
    return schemas.load_schema("manifest")


class _Loader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys and non-text keys (merge keys still work)."""

    def compose_mapping_node(self, anchor):  # type: ignore[no-untyped-def]
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], Any] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                ident = (key.tag, key.value)
                if ident in seen:
                    raise yaml.composer.ComposerError(
                        None, None,
                        f"duplicate field {key.value!r} (first given at line {seen[ident].line + 1})",
                        key.start_mark,
                    )
                seen[ident] = key.start_mark
        return node

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        if isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    continue
                if not (isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:str"):
                    shown = key.value if isinstance(key, yaml.ScalarNode) else "a collection"
                    raise yaml.constructor.ConstructorError(
                        None, None,
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
# Schema errors, in words
# --------------------------------------------------------------------------------------------

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}

def _schema_errors(data: Any) -> list[FieldError]:
    raw = list(schemas.validator("manifest").iter_errors(data))
    typed = {tuple(e.absolute_path) for e in raw if e.validator == "type"}
    out: list[FieldError] = []
    for err in raw:
        if err.validator != "type" and tuple(err.absolute_path) in typed:
            continue  # one error per value: its type
        for fe in _explain(err):
            if fe not in out:
                out.append(fe)
    return out


def _explain(err: Any) -> list[FieldError]:
    parts = list(err.absolute_path)
    where = field_path(parts)
    kind, inst, schema = err.validator, err.instance, err.schema
    expected = schema.get("x-expected") if isinstance(schema, dict) else None
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        return [
            FieldError(where, f"unknown field {_quote(str(k))} (expected one of: {', '.join(allowed)})")
            for k in inst
            if k not in allowed
        ]
    if kind == "required":
        return [
            FieldError(field_path([*parts, k]), "required field is missing")
            for k in err.validator_value
            if k not in inst
        ]
    if kind == "type":
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        want = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        hint = schema.get("x-type-hint")
        return [FieldError(where, f"expected {want}, got {_describe(inst)}" + (f" ({hint})" if hint else ""))]
    if kind == "enum":
        return [FieldError(where, f"{_value(inst)} is not one of {', '.join(map(str, err.validator_value))}")]
    if kind == "uniqueItems":
        return [
            FieldError(field_path([*parts, i]), f"duplicate value {_value(item)}")
            for i, item in enumerate(inst)
            if item in inst[:i]
        ]
    if kind == "minItems":
        n = err.validator_value
        got = "an empty list" if not inst else f"{len(inst)}"
        return [FieldError(where, f"expected at least {n} item{'s' if n != 1 else ''}, got {got}")]
    if kind == "maxItems":
        n = err.validator_value
        return [FieldError(where, f"expected at most {n} item{'s' if n != 1 else ''}, got {len(inst)}")]
    if expected:
        return [FieldError(where, f"expected {expected}, got {_value(inst)}")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        return [FieldError(where, f"expected a number {words[kind]} {err.validator_value}, got {_value(inst)}")]
    if kind == "maxLength":
        return [FieldError(where, f"expected at most {err.validator_value} characters, got {len(inst)}")]
    if kind == "minLength":
        return [FieldError(where, f"expected at least {err.validator_value} characters, got {len(inst)}")]
    return [FieldError(where, err.message)]


def _quote(s: str) -> str:
    return repr(s) if len(s) <= 80 else repr(s[:77]) + "..."


def _value(v: Any) -> str:
    return _quote(v) if isinstance(v, str) else _describe(v)


def _describe(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean {'true' if v else 'false'}"
    if isinstance(v, int):
        return f"integer {v}"
    if isinstance(v, float):
        return f"number {v!r}"
    if isinstance(v, str):
        return f"string {_quote(v)}"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, (datetime.date, datetime.datetime)):
        return f"date {v.isoformat()} (quote it to make it text)"
    if isinstance(v, bytes):
        return "binary data"
    return type(v).__name__  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Defaults and semantic checks
# --------------------------------------------------------------------------------------------


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _fill(schema: Any, inst: Any, root: dict[str, Any]) -> None:
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return
    if isinstance(inst, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            sub = _resolve(sub, root)
            if key not in inst and "default" in sub:
                inst[key] = copy.deepcopy(sub["default"])
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


def _get(data: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(data, dict):
            data = data.get(k)
        elif isinstance(data, list) and isinstance(k, int) and 0 <= k < len(data):
            data = data[k]
        else:
            return None
    return data




def _placeholder_problems(template: str, allowed: Sequence[str]) -> list[str]:
    problems = []
    for m in PLACEHOLDER_RE.finditer(template):
        if m.group(1) not in allowed:
            problems.append(
                f"unknown placeholder {_quote(m.group(0))} (expected one of: {', '.join('{' + a + '}' for a in allowed)})"
            )
    if "{" in PLACEHOLDER_RE.sub("", template) or "}" in PLACEHOLDER_RE.sub("", template):
        problems.append("unmatched '{' or '}' (placeholders look like {version})")
    return problems


def _relation_name(relation: str) -> str:
    return re.split(r"[ (<>=]", relation, maxsplit=1)[0]


_RELATION_PARTS = re.compile(r"(?P<name>[^ (<>=]+)(?: ?\(?(?:<<|<=|>=|>>|<|>|=) ?(?P<version>[^ )]+)\)?)?")
# Debian Policy 5.6.1 and 5.6.12; rpm's EVR ([epoch:]version[-release]).
_DEB_NAME = re.compile(r"[a-z0-9][a-z0-9.+-]+")
_DEB_VERSION = re.compile(r"([0-9]+:)?[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)*")
_RPM_VERSION = re.compile(r"([0-9]+:)?[A-Za-z0-9._+~^]+(-[A-Za-z0-9._+~^]+)?")


def _relation_problem(relation: str, kind: str) -> str | None:
    """What the schema's relation pattern lets through but the family's own syntax refuses."""
    m = _RELATION_PARTS.fullmatch(relation)
    if m is None:
        return None  # a schema error
    if kind == "deb" and not _DEB_NAME.fullmatch(m["name"]):
        return (
            f"expected a Debian package name (at least 2 lowercase letters, digits, '.', '+' and '-'; "
            f"Policy 5.6.1), got {_quote(m['name'])}"
        )
    version = m["version"]
    if version is not None:
        pattern, what = (
            (_DEB_VERSION, "a Debian version like 1:2.25-1 (starting with a digit, no '_')")
            if kind == "deb"
            else (_RPM_VERSION, "an rpm version like 1:2.25-1.el9 (at most one '-')")
        )
        if not pattern.fullmatch(version):
            return f"expected {what}, got {_quote(version)}"
    return None


def _inside(base_dir: str, rel: str) -> str | None:
    """The real path of ``rel`` if it stays inside ``base_dir`` (symlinks resolved), else None."""
    base = os.path.realpath(base_dir)
    real = os.path.realpath(os.path.join(base, rel))
    return real if real == base or real.startswith(base + os.sep) else None


def _file_problem(base_dir: str, rel: str) -> str | None:
    real = _inside(base_dir, rel)
    if real is None:
        return f"{_quote(rel)} resolves outside the exporter directory"
    if not os.path.exists(real):
        return f"file not found: {_quote(rel)} (paths are relative to the exporter directory)"
    if not os.path.isfile(real):
        return f"{_quote(rel)} is not a regular file"
    return None


def _semantic_errors(data: dict[str, Any], base_dir: str | None, file_name: str | None) -> list[FieldError]:
    errors: list[FieldError] = []
    name = data.get("name")
    name_pattern = schemas.schema("manifest")["properties"]["name"]["pattern"]
    name = name if isinstance(name, str) and re.fullmatch(name_pattern, name) else None  # else: a schema error

    if base_dir is not None and name and file_name and os.path.basename(file_name) == MANIFEST_FILE:
        directory = os.path.basename(os.path.realpath(base_dir))
        if directory != name:
            errors.append(FieldError("name", f"{_quote(name)} does not match the exporter directory {_quote(directory)}"))

    archs = _get(data, "build", "archs")
    archs_ok = (
        isinstance(archs, list) and archs and all(a in matrix.ARCHES for a in archs) and len(set(archs)) == len(archs)
    )
    archs = [a for a in matrix.ARCHES if a in archs] if archs_ok else []

    # upstream: repo xor local, placeholders, one file per arch
    upstream = data.get("upstream")
    if isinstance(upstream, dict):
        repo, local = upstream.get("repo"), upstream.get("local")
        if repo is None and local is None:
            errors.append(
                FieldError("upstream", "expected 'repo' (a GitHub repository) or 'local' (archives in the exporter directory)")
            )
        elif repo is not None and local is not None:
            errors.append(FieldError("upstream", "'repo' and 'local' are mutually exclusive: give one of them"))
        tag = upstream.get("tag")
        if isinstance(tag, str):
            errors.extend(FieldError("upstream.tag", p) for p in _placeholder_problems(tag, TAG_PLACEHOLDERS))
        template = upstream.get("archive_name")
        template_ok = False
        if isinstance(template, str):
            problems = _placeholder_problems(template, PLACEHOLDERS)
            errors.extend(FieldError("upstream.archive_name", p) for p in problems)
            template_ok = not problems
        arch_names = upstream.get("arch_names") if isinstance(upstream.get("arch_names"), dict) else {}
        if repo is not None and local is None and template_ok and len(archs) > 1:
            names = {}
            for arch in archs:
                values = {"arch": arch, "rpm_arch": matrix.RPM_ARCH[arch], "upstream_linux_arch": matrix.UPSTREAM_LINUX_ARCH[arch]}
                overrides = arch_names.get(arch)
                if isinstance(overrides, dict):
                    values.update({k: str(v) for k, v in overrides.items()})
                names.setdefault(expand(template, values), []).append(arch)
            for expanded, same in names.items():
                if len(same) > 1:
                    errors.append(
                        FieldError(
                            "upstream.archive_name",
                            f"{', '.join(same)} would all fetch the same file {_quote(expanded)}: "
                            "add an arch placeholder ({arch}, {rpm_arch} or {upstream_linux_arch})",
                        )
                    )
        if isinstance(local, dict) and repo is None:
            for arch in archs:
                if arch not in local:
                    errors.append(FieldError("upstream.local", f"no archive for arch {_quote(arch)} (build.archs lists it)"))
            if base_dir is not None:
                for arch, rel in local.items():
                    if isinstance(rel, str):
                        problem = _file_problem(base_dir, rel)
                        if problem:
                            errors.append(FieldError(f"upstream.local.{arch}", problem))

    # free text: printable characters only; a summary must keep a word once trimmed
    for where, text in _free_texts(data):
        problem = _text_problem(text)
        if problem is None and where in _SUMMARY_FIELDS and not _VISIBLE.search(text):
            problem = "expected some text besides spaces and full stops: the package summary would be empty"
        if problem:
            errors.append(FieldError(where, problem))

    # build: binaries are unique
    binary = _get(data, "build", "binary_name")
    extras = _get(data, "build", "extra_binaries")
    if isinstance(binary, str) and isinstance(extras, list):
        for i, extra in enumerate(extras):
            if extra == binary:
                errors.append(FieldError(f"build.extra_binaries[{i}]", f"{_quote(extra)} is already build.binary_name"))
    binaries = [b for b in [binary, *(extras if isinstance(extras, list) else [])] if isinstance(b, str)]

    # packages
    for kind in ("rpm", "deb"):
        spec = _get(data, "artifacts", kind)
        if not isinstance(spec, dict) or spec.get("enabled") is False:
            continue
        prefix = f"artifacts.{kind}"
        if "system_user" not in spec and name and not USER_RE.fullmatch(name):
            errors.append(
                FieldError(
                    f"{prefix}.system_user",
                    f"required here: the default, the exporter name {_quote(name)}, is not a valid user name",
                )
            )
        files = spec.get("extra_files")
        if isinstance(files, list):
            dests: dict[str, int] = {}
            for i, item in enumerate(files):
                source, dest = _get(item, "source"), _get(item, "dest")
                if isinstance(source, str) and base_dir is not None:
                    problem = _file_problem(base_dir, source)
                    if problem:
                        errors.append(FieldError(f"{prefix}.extra_files[{i}].source", problem))
                if isinstance(dest, str):
                    if dest in dests:
                        errors.append(
                            FieldError(f"{prefix}.extra_files[{i}].dest", f"duplicate destination {_quote(dest)} (also extra_files[{dests[dest]}])")
                        )
                    dests.setdefault(dest, i)
                    if dest in {f"/usr/bin/{b}" for b in binaries}:
                        errors.append(FieldError(f"{prefix}.extra_files[{i}].dest", f"{_quote(dest)} is where a binary is installed"))
        directories = spec.get("directories")
        service_user = spec.get("system_user", name)
        if isinstance(directories, list):
            paths: dict[str, int] = {}
            for i, item in enumerate(directories):
                for role in ("owner", "group"):
                    who = _get(item, role)
                    if isinstance(who, str) and USER_RE.fullmatch(who) and who not in ("root", service_user):
                        errors.append(FieldError(
                            f"{prefix}.directories[{i}].{role}",
                            f"expected root or the service user {_quote(str(service_user))}, got {_quote(who)}: "
                            "the package creates no other account",
                        ))
                p = _get(item, "path")
                if isinstance(p, str):
                    if p in paths:
                        errors.append(FieldError(f"{prefix}.directories[{i}].path", f"duplicate directory {_quote(p)} (also directories[{paths[p]}])"))
                    paths.setdefault(p, i)
        for field in ("conflicts", "replaces", "dependencies"):
            relations = spec.get(field)
            if isinstance(relations, list):
                for i, rel in enumerate(relations):
                    problem = _relation_problem(rel, kind) if isinstance(rel, str) else None
                    if problem:
                        errors.append(FieldError(f"{prefix}.{field}[{i}]", problem))
        if name:
            own = name if kind == "rpm" else matrix.deb_package_name(name)
            for field in ("conflicts", "replaces", "dependencies"):
                relations = spec.get(field)
                if isinstance(relations, list):
                    for i, rel in enumerate(relations):
                        if isinstance(rel, str) and _relation_name(rel) == own:
                            errors.append(
                                FieldError(f"{prefix}.{field}[{i}]", f"{_quote(own)} is this package's own name: a package cannot name itself here")
                            )

    docker = _get(data, "artifacts", "docker")
    if isinstance(docker, dict) and docker.get("enabled") is not False:
        if isinstance(docker.get("validation"), dict) and "port" not in docker:
            errors.append(FieldError("artifacts.docker.validation", "needs artifacts.docker.port (the port to fetch the metrics from)"))
        if "user" not in docker and name and not USER_RE.fullmatch(name):
            users = [_get(data, "artifacts", k, "system_user") for k in ("rpm", "deb")]
            if not any(isinstance(u, str) and u != "root" for u in users):
                errors.append(
                    FieldError("artifacts.docker.user", f"required here: the default, the exporter name {_quote(name)}, is not a valid user name")
                )
    return errors


_SUMMARY_FIELDS = ("description", "artifacts.rpm.summary", "artifacts.deb.summary")
# What hub.packaging.content.synopsis keeps: anything but whitespace and full stops.
_VISIBLE = re.compile(r"[^\s.]")


def _free_texts(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, value) of every free-text string of the manifest."""
    if isinstance(data.get("description"), str):
        yield "description", data["description"]
    for kind in ("rpm", "deb"):
        summary = _get(data, "artifacts", kind, "summary")
        if isinstance(summary, str):
            yield f"artifacts.{kind}.summary", summary
        arguments = _get(data, "artifacts", kind, "systemd", "arguments")
        if isinstance(arguments, list):
            for i, arg in enumerate(arguments):
                if isinstance(arg, str):
                    yield f"artifacts.{kind}.systemd.arguments[{i}]", arg
    for field in ("entrypoint", "cmd"):
        values = _get(data, "artifacts", "docker", field)
        if isinstance(values, list):
            for i, value in enumerate(values):
                if isinstance(value, str):
                    yield f"artifacts.docker.{field}[{i}]", value


def _text_problem(text: str) -> str | None:
    for ch in text:
        category = unicodedata.category(ch)
        if category in _REFUSED_TEXT:
            return f"expected printable text, got {_quote(text)}: it contains {_REFUSED_TEXT[category]} (U+{ord(ch):04X})"
    return None


# --------------------------------------------------------------------------------------------
# Building the model from valid, defaulted data
# --------------------------------------------------------------------------------------------


def _ordered(values: Iterable[str], order: Sequence[str]) -> tuple[str, ...]:
    present = set(values)
    return tuple(v for v in order if v in present)


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
            validation=DockerValidation(validation["path"], validation.get("expect")) if validation is not None else None,
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
    )
