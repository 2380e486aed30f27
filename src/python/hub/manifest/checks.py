"""Semantic checks: what a valid manifest must also satisfy and a JSON Schema cannot say.

They run on data with the schema's defaults applied, after the schema, and skip any value the
schema refuses (its problem is already reported). Their vocabulary:

- placeholders: ``{version}``-style names in ``upstream.tag`` and ``upstream.archive_name``,
  from a fixed list per field; several arches must not expand to the same archive;
- relations: ``dependencies``, ``conflicts`` and ``replaces`` entries, checked against the
  family's own syntax (Debian Policy 5.6 for DEB, rpm's EVR for RPM), never the package itself;
- free text: descriptions, summaries and command-line arguments, printable characters only;
- files on disk: ``upstream.local`` archives and ``extra_files`` sources exist and stay inside
  the exporter directory (skipped without a directory);
- names: the directory matches the exporter's name, binaries and destinations are unique,
  directory owners are root or the service user, defaulted user names are valid;
- privilege: what a manifest may not ask of the hosts that install it (``hub.manifest.policy``).
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterator, Sequence

from hub.common import matrix
from hub.common import schemas
from hub.common.errors import FieldError
from hub.common.printable import HIDDEN_OR_LINE_BREAKING, first_refused
from hub.manifest import policy
from hub.manifest.explain import quote
from hub.manifest.model import DISTRIBUTIONS, MANIFEST_FILE, PLACEHOLDER_RE, PLACEHOLDERS, TAG_PLACEHOLDERS, expand

USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Free text (descriptions, summaries, command-line arguments) may hold any printable
# character, look-alikes included: every renderer escapes it. What hides or breaks a line is
# refused anyway, as in archive member names (hub.common.printable; the schema already refuses
# the C0 controls), and so are Cs: lone surrogates, which no UTF-8 file can hold; Cn: unassigned
# code points and noncharacters (U+FFFE), which YAML refuses.
_REFUSED_TEXT = {
    **HIDDEN_OR_LINE_BREAKING,
    "Cs": "a lone surrogate (not valid UTF-8)",
    "Cn": "an unassigned code point",
}
_SUMMARY_FIELDS = ("description", "artifacts.rpm.summary", "artifacts.deb.summary")
# What hub.packaging.content.synopsis keeps: anything but whitespace and full stops.
_VISIBLE = re.compile(r"[^\s.]")

_RELATION_PARTS = re.compile(r"(?P<name>[^ (<>=]+)(?: ?\(?(?:<<|<=|>=|>>|<|>|=) ?(?P<version>[^ )]+)\)?)?")
# Debian Policy 5.6.1 and 5.6.12; rpm's EVR ([epoch:]version[-release]).
_DEB_NAME = re.compile(r"[a-z0-9][a-z0-9.+-]+")
_DEB_VERSION = re.compile(r"([0-9]+:)?[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)*")
_RPM_VERSION = re.compile(r"([0-9]+:)?[A-Za-z0-9._+~^]+(-[A-Za-z0-9._+~^]+)?")
_RELATION_FIELDS = ("conflicts", "replaces", "dependencies")


def semantic_errors(data: dict[str, Any], base_dir: str | None, file_name: str | None) -> list[FieldError]:
    """The problems of defaulted manifest data beyond its schema. Without ``base_dir`` the
    checks of files on disk are skipped."""
    errors: list[FieldError] = []
    name = data.get("name")
    name_pattern = schemas.schema("manifest")["properties"]["name"]["pattern"]
    name = name if isinstance(name, str) and re.fullmatch(name_pattern, name) else None  # else: a schema error

    if base_dir is not None and name and file_name and os.path.basename(file_name) == MANIFEST_FILE:
        directory = os.path.basename(os.path.realpath(base_dir))
        if directory != name:
            errors.append(FieldError("name", f"{quote(name)} does not match the exporter directory {quote(directory)}"))

    archs = get(data, "build", "archs")
    archs_ok = (
        isinstance(archs, list) and archs and all(a in matrix.ARCHES for a in archs) and len(set(archs)) == len(archs)
    )
    archs = [a for a in matrix.ARCHES if a in archs] if archs_ok else []

    upstream = data.get("upstream")
    if isinstance(upstream, dict):
        errors.extend(_upstream_errors(upstream, archs, base_dir))

    # free text: printable characters only; a summary must keep a word once trimmed
    for where, text in _free_texts(data):
        problem = _text_problem(text)
        if problem is None and where in _SUMMARY_FIELDS and not _VISIBLE.search(text):
            problem = "expected some text besides spaces and full stops: the package summary would be empty"
        if problem:
            errors.append(FieldError(where, problem))

    # build: binaries are unique
    binary = get(data, "build", "binary_name")
    extras = get(data, "build", "extra_binaries")
    if isinstance(binary, str) and isinstance(extras, list):
        for i, extra in enumerate(extras):
            if extra == binary:
                errors.append(FieldError(f"build.extra_binaries[{i}]", f"{quote(extra)} is already build.binary_name"))
    binaries = [b for b in [binary, *(extras if isinstance(extras, list) else [])] if isinstance(b, str)]

    for kind in ("rpm", "deb"):
        spec = get(data, "artifacts", kind)
        if isinstance(spec, dict) and spec.get("enabled") is not False:
            errors.extend(_package_errors(kind, spec, name, binaries, base_dir))
    errors.extend(policy.privilege_errors(data, name))
    errors.extend(_distribution_package_errors(data))

    docker = get(data, "artifacts", "docker")
    if isinstance(docker, dict) and docker.get("enabled") is not False:
        if isinstance(docker.get("validation"), dict) and "port" not in docker:
            errors.append(
                FieldError(
                    "artifacts.docker.validation", "needs artifacts.docker.port (the port to fetch the metrics from)"
                )
            )
        if "user" not in docker and name and not USER_RE.fullmatch(name):
            users = [get(data, "artifacts", k, "system_user") for k in ("rpm", "deb")]
            if not any(isinstance(u, str) and u != "root" for u in users):
                errors.append(
                    FieldError(
                        "artifacts.docker.user",
                        f"required here: the default, the exporter name {quote(name)}, is not a valid user name",
                    )
                )
    return errors


def get(data: Any, *keys: Any) -> Any:
    """``data[k1][k2]...``, or None where a key is absent or a value has the wrong type."""
    for k in keys:
        if isinstance(data, dict):
            data = data.get(k)
        elif isinstance(data, list) and isinstance(k, int) and 0 <= k < len(data):
            data = data[k]
        else:
            return None
    return data


# --------------------------------------------------------------------------------------------
# upstream: repo xor local, placeholders, one file per arch
# --------------------------------------------------------------------------------------------


def _upstream_errors(upstream: dict[str, Any], archs: Sequence[str], base_dir: str | None) -> list[FieldError]:
    errors: list[FieldError] = []
    repo, local = upstream.get("repo"), upstream.get("local")
    if repo is None and local is None:
        errors.append(
            FieldError(
                "upstream", "expected 'repo' (a GitHub repository) or 'local' (archives in the exporter directory)"
            )
        )
    elif repo is not None and local is not None:
        errors.append(FieldError("upstream", "'repo' and 'local' are mutually exclusive: give one of them"))
    tag = upstream.get("tag")
    if isinstance(tag, str):
        errors.extend(FieldError("upstream.tag", p) for p in _placeholder_problems(tag, TAG_PLACEHOLDERS))
    template = upstream.get("archive_name")
    valid_template: str | None = None
    if isinstance(template, str):
        problems = _placeholder_problems(template, PLACEHOLDERS)
        errors.extend(FieldError("upstream.archive_name", p) for p in problems)
        valid_template = None if problems else template
    arch_names = upstream.get("arch_names")
    if not isinstance(arch_names, dict):
        arch_names = {}
    if repo is not None and local is None and valid_template is not None and len(archs) > 1:
        names: dict[str, list[str]] = {}
        for arch in archs:
            values = {
                "arch": arch,
                "rpm_arch": matrix.RPM_ARCH[arch],
                "upstream_linux_arch": matrix.UPSTREAM_LINUX_ARCH[arch],
            }
            overrides = arch_names.get(arch)
            if isinstance(overrides, dict):
                values.update({k: str(v) for k, v in overrides.items()})
            names.setdefault(expand(valid_template, values), []).append(arch)
        for expanded, same in names.items():
            if len(same) > 1:
                errors.append(
                    FieldError(
                        "upstream.archive_name",
                        f"{', '.join(same)} would all fetch the same file {quote(expanded)}: "
                        "add an arch placeholder ({arch}, {rpm_arch} or {upstream_linux_arch})",
                    )
                )
    if isinstance(local, dict) and repo is None:
        for arch in archs:
            if arch not in local:
                errors.append(FieldError("upstream.local", f"no archive for arch {quote(arch)} (build.archs lists it)"))
        if base_dir is not None:
            for arch, rel in local.items():
                if isinstance(rel, str):
                    problem = _file_problem(base_dir, rel)
                    if problem:
                        errors.append(FieldError(f"upstream.local.{arch}", problem))
    return errors


def _placeholder_problems(template: str, allowed: Sequence[str]) -> list[str]:
    problems = []
    for m in PLACEHOLDER_RE.finditer(template):
        if m.group(1) not in allowed:
            problems.append(
                f"unknown placeholder {quote(m.group(0))} (expected one of: {', '.join('{' + a + '}' for a in allowed)})"
            )
    if "{" in PLACEHOLDER_RE.sub("", template) or "}" in PLACEHOLDER_RE.sub("", template):
        problems.append("unmatched '{' or '}' (placeholders look like {version})")
    return problems


# --------------------------------------------------------------------------------------------
# packages: users, files, directories, relations
# --------------------------------------------------------------------------------------------


def _package_errors(
    kind: str, spec: dict[str, Any], name: str | None, binaries: Sequence[str], base_dir: str | None
) -> list[FieldError]:
    errors: list[FieldError] = []
    prefix = f"artifacts.{kind}"
    if "system_user" not in spec and name and not USER_RE.fullmatch(name):
        errors.append(
            FieldError(
                f"{prefix}.system_user",
                f"required here: the default, the exporter name {quote(name)}, is not a valid user name",
            )
        )
    files = spec.get("extra_files")
    if isinstance(files, list):
        dests: dict[str, int] = {}
        for i, item in enumerate(files):
            source, dest = get(item, "source"), get(item, "dest")
            if isinstance(source, str) and base_dir is not None:
                problem = _file_problem(base_dir, source)
                if problem:
                    errors.append(FieldError(f"{prefix}.extra_files[{i}].source", problem))
            if isinstance(dest, str):
                errors += _duplicate_errors(
                    dests, i, dest, items=f"{prefix}.extra_files", key="dest", noun="destination"
                )
                if dest in {f"/usr/bin/{b}" for b in binaries}:
                    errors.append(
                        FieldError(f"{prefix}.extra_files[{i}].dest", f"{quote(dest)} is where a binary is installed")
                    )
    directories = spec.get("directories")
    service_user = spec.get("system_user", name)
    if isinstance(directories, list):
        paths: dict[str, int] = {}
        for i, item in enumerate(directories):
            for role in ("owner", "group"):
                who = get(item, role)
                if isinstance(who, str) and USER_RE.fullmatch(who) and who not in ("root", service_user):
                    errors.append(
                        FieldError(
                            f"{prefix}.directories[{i}].{role}",
                            f"expected root or the service user {quote(str(service_user))}, got {quote(who)}: "
                            "the package creates no other account",
                        )
                    )
            p = get(item, "path")
            if isinstance(p, str):
                errors += _duplicate_errors(paths, i, p, items=f"{prefix}.directories", key="path", noun="directory")
    for field in _RELATION_FIELDS:
        relations = spec.get(field)
        if isinstance(relations, list):
            for i, rel in enumerate(relations):
                problem = _relation_problem(rel, kind) if isinstance(rel, str) else None
                if problem:
                    errors.append(FieldError(f"{prefix}.{field}[{i}]", problem))
    if name:
        own = name if kind == "rpm" else matrix.deb_package_name(name)
        for field in _RELATION_FIELDS:
            relations = spec.get(field)
            if isinstance(relations, list):
                for i, rel in enumerate(relations):
                    if isinstance(rel, str) and _relation_name(rel) == own:
                        errors.append(
                            FieldError(
                                f"{prefix}.{field}[{i}]",
                                f"{quote(own)} is this package's own name: a package cannot name itself here",
                            )
                        )
    return errors


def _duplicate_errors(
    first: dict[str, int], i: int, value: str, *, items: str, key: str, noun: str
) -> list[FieldError]:
    """The error of `<items>[i].<key>` if an earlier item of the list `items` (its path, e.g.
    artifacts.rpm.extra_files) has the same `value`; `first` maps each value met so far to the
    index of the first item that has it."""
    earlier = first.setdefault(value, i)
    if earlier == i:
        return []
    name = items.rsplit(".", 1)[-1]
    return [FieldError(f"{items}[{i}].{key}", f"duplicate {noun} {quote(value)} (also {name}[{earlier}])")]


def _distribution_package_errors(data: dict[str, Any]) -> list[FieldError]:
    """A Debian or Ubuntu package must have a Debian name: the DEBs declare Conflicts on it."""
    errors = []
    table = data.get("distribution_packages")
    for dist in DISTRIBUTIONS["deb"]:
        packages = get(table, dist, "packages")
        for i, package in enumerate(packages if isinstance(packages, list) else []):
            if isinstance(package, str) and not _DEB_NAME.fullmatch(package):
                errors.append(
                    FieldError(
                        f"distribution_packages.{dist}.packages[{i}]",
                        f"expected a Debian package name (lowercase letters, digits, '.', '+' and '-'; Policy"
                        f" 5.6.1), got {quote(package)}",
                    )
                )
    return errors


def _relation_name(relation: str) -> str:
    return re.split(r"[ (<>=]", relation, maxsplit=1)[0]


def _relation_problem(relation: str, kind: str) -> str | None:
    """What the schema's relation pattern lets through but the family's own syntax refuses."""
    m = _RELATION_PARTS.fullmatch(relation)
    if m is None:
        return None  # a schema error
    if kind == "deb" and not _DEB_NAME.fullmatch(m["name"]):
        return (
            f"expected a Debian package name (at least 2 lowercase letters, digits, '.', '+' and '-'; "
            f"Policy 5.6.1), got {quote(m['name'])}"
        )
    version = m["version"]
    if version is not None:
        pattern, what = (
            (_DEB_VERSION, "a Debian version like 1:2.25-1 (starting with a digit, no '_')")
            if kind == "deb"
            else (_RPM_VERSION, "an rpm version like 1:2.25-1.el9 (at most one '-')")
        )
        if not pattern.fullmatch(version):
            return f"expected {what}, got {quote(version)}"
    return None


# --------------------------------------------------------------------------------------------
# free text and files on disk
# --------------------------------------------------------------------------------------------


def _free_texts(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, value) of every free-text string of the manifest."""
    if isinstance(data.get("description"), str):
        yield "description", data["description"]
    for kind in ("rpm", "deb"):
        summary = get(data, "artifacts", kind, "summary")
        if isinstance(summary, str):
            yield f"artifacts.{kind}.summary", summary
        arguments = get(data, "artifacts", kind, "systemd", "arguments")
        if isinstance(arguments, list):
            for i, arg in enumerate(arguments):
                if isinstance(arg, str):
                    yield f"artifacts.{kind}.systemd.arguments[{i}]", arg
        as_root = get(data, "artifacts", kind, "systemd", "run_as_root")
        if isinstance(as_root, str):
            yield f"artifacts.{kind}.systemd.run_as_root", as_root
        grants = get(data, "artifacts", kind, "systemd", "grants")
        for i, grant in enumerate(grants if isinstance(grants, list) else []):
            if isinstance(grant, dict) and isinstance(grant.get("reason"), str):
                yield f"artifacts.{kind}.systemd.grants[{i}].reason", grant["reason"]
    for field in ("entrypoint", "cmd"):
        values = get(data, "artifacts", "docker", field)
        if isinstance(values, list):
            for i, value in enumerate(values):
                if isinstance(value, str):
                    yield f"artifacts.docker.{field}[{i}]", value


def _text_problem(text: str) -> str | None:
    refused = first_refused(text, _REFUSED_TEXT)
    return f"expected printable text, got {quote(text)}: it contains {refused[1]}" if refused else None


def _inside(base_dir: str, rel: str) -> str | None:
    """The real path of ``rel`` if it stays inside ``base_dir`` (symlinks resolved), else None."""
    base = os.path.realpath(base_dir)
    real = os.path.realpath(os.path.join(base, rel))
    return real if real == base or real.startswith(base + os.sep) else None


def _file_problem(base_dir: str, rel: str) -> str | None:
    real = _inside(base_dir, rel)
    if real is None:
        return f"{quote(rel)} resolves outside the exporter directory"
    if not os.path.exists(real):
        return f"file not found: {quote(rel)} (paths are relative to the exporter directory)"
    if not os.path.isfile(real):
        return f"{quote(rel)} is not a regular file"
    return None
