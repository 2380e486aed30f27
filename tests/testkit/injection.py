"""Hostile manifest values and strict readers of what the engine renders from them, shared by
the injection campaigns (in process: hub/packaging/injection_property_test.py and
hub/manifest/injection_fields_property_test.py, through testkit.injection_campaign; and
tests/integration/injection_tools_test.py with systemd-analyze, sh, dpkg and rpm).

Not used by any build, and free of test dependencies: the campaigns draw from these atoms
with hypothesis. The readers are deliberately stricter than the real parsers they stand for
(systemd.syntax(7), systemd.service(5), POSIX sh, deb822): anything our templates do not
write makes them fail.
"""

from __future__ import annotations

import copy
import gzip
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from hub.common import matrix
from hub.packaging.plan import NOLOGIN, PackagePlan
from hub.packaging.sandbox import sandbox
from hub.upstream.lock import Lock, LockedArchive

# --- hostile material ----------------------------------------------------------------------

# Fragments that mean something to one of the destinations: line breaks and controls, quotes,
# shell substitution and operators, RPM macros, systemd specifiers and variables, nfpm/Go
# variables, deb822 continuation and blank lines, HTML, path tricks, look-alikes, bidi and
# zero-width characters, surrogates, placeholders.
HOSTILE_ATOMS: tuple[str, ...] = (
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\t",
    "\x0b",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    '"',
    "'",
    "'\"'\"'",
    "\\",
    "\\\\",
    "\\n",
    "\\x41",
    "$(id)",
    "`id`",
    "${HOME}",
    "$HOME",
    "$$",
    "$1",
    "$5",
    "$@",
    "${",
    "$ARGS",
    "$",
    "${HUB_NFPM_DOLLAR}",
    "%{_bindir}",
    "%(echo pwned)",
    "%%",
    "%",
    "%n",
    "%i",
    "%{?x:y}",
    "%define x y",
    ";",
    "&",
    "&&",
    "|",
    "||",
    ">",
    "<",
    ">/etc/passwd",
    "#",
    "!",
    "*",
    "?",
    "~",
    "(",
    ")",
    "{",
    "}",
    "{name}",
    "{version}",
    "[Service]",
    "ExecStartPre=/bin/sh -c id",
    "=",
    " ",
    "  ",
    " .",
    ".",
    "..",
    "../",
    "/",
    "-",
    "--",
    "-rf",
    "--help",
    "@",
    ":",
    ",",
    "<script>alert(1)</script>",
    "</script>",
    "<!--",
    "&amp;",
    "javascript:",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u061c",
    "\u200e",
    "\ud800",
    "\udfff",
    "\U0001f600",
    "\u0430",
    "\u0435",
    "\u0455",
    "\uff0f",
    "\u2215",
    "\u00a0",
    "e\u0301",
    "\u00e9",
    "\ufb01",
    "\u3000",
    "x" * 300,
)
# Characters the engine's own patterns accept in names, versions and paths, to make values
# that pass validation while sitting on its edges.
EDGE_ALPHABET = "abcz09_-.+@:~"


# --- a valid base manifest -----------------------------------------------------------------

SOURCE_DATE = "2025-06-01T12:00:00Z"
LOCK = Lock(
    exporter="demo_exporter",
    version="1.0.0",
    source_date=SOURCE_DATE,
    archives={
        arch: LockedArchive(
            url=f"https://github.com/example/demo_exporter/releases/download/v1.0.0/demo-1.0.0.linux-{arch}.tar.gz",
            sha256="ab" * 32,
            size=100,
        )
        for arch in matrix.ARCHES
    },
)
ASSETS = {"assets/config.yml": "# demo\n", "assets/secret.cnf": "[client]\n"}


def base_manifest() -> dict[str, Any]:
    """A manifest that uses every field a hostile value can be put into."""
    package = {
        "summary": "Demo exporter",
        "system_user": "demo_exporter",
        "systemd": {"arguments": ["--web.listen-address=:9100"], "after": ["network-online.target"]},
        "extra_files": [
            {"source": "assets/config.yml", "dest": "/etc/demo_exporter/config.yml", "mode": "0644"},
            {"source": "assets/secret.cnf", "dest": "/var/lib/demo_exporter/.my.cnf", "mode": "0600"},
        ],
        "directories": [
            {"path": "/etc/demo_exporter", "mode": "0755"},
            {"path": "/var/lib/demo_exporter", "mode": "0750", "owner": "demo_exporter", "group": "demo_exporter"},
        ],
        "dependencies": ["libcap2"],
        "conflicts": ["prometheus-demo-exporter"],
        "replaces": ["prometheus-demo-exporter"],
    }
    # The distributions' own package (docs/migrating.md): the DEB's postinst then carries its
    # flags over and names the unit's own flags in a case statement, quoted like the rest.
    checked = {"packages": ["prometheus-demo-exporter"], "checked": "the injection tests' own table"}
    distribution_packages = {
        **{dist: dict(checked) for dist in ("debian-12", "debian-13", "ubuntu-22.04", "ubuntu-24.04")},
        **{dist: {"packages": [], "checked": "the injection tests' own table"} for dist in ("fedora", "epel")},
    }
    return {
        "name": "demo_exporter",
        "description": "Demo exporter for the injection tests",
        "category": "System",
        "version": "v1.0.0",
        "license": "Apache-2.0",
        "homepage": "https://example.org/demo",
        "distribution_packages": distribution_packages,
        "upstream": {
            "repo": "example/demo_exporter",
            "tag": "v{version}",
            "archive_name": "demo-{clean_version}.linux-{arch}.tar.gz",
        },
        "build": {"binary_name": "demo_exporter", "extra_binaries": ["demo_tool"], "archs": ["amd64"]},
        "artifacts": {
            "rpm": {**copy.deepcopy(package), "targets": ["el9"]},
            "deb": {**copy.deepcopy(package), "targets": ["debian-12"]},
            "docker": {
                "port": 9100,
                "base_image": "scratch",
                "entrypoint": ["/bin/demo_exporter"],
                "cmd": ["--log.level=info"],
                "user": "demo_exporter",
                "validation": {"path": "/metrics", "expect": "demo_up"},
            },
        },
    }


# Every field a manifest author writes as text: (path, how the value is used). A path is a
# tuple of keys and list indexes into base_manifest().
FREE_TEXT_FIELDS: tuple[tuple[Any, ...], ...] = (
    ("description",),
    ("artifacts", "rpm", "summary"),
    ("artifacts", "deb", "summary"),
    ("artifacts", "rpm", "systemd", "arguments", 0),
    ("artifacts", "deb", "systemd", "arguments", 0),
    ("artifacts", "docker", "entrypoint", 0),
    ("artifacts", "docker", "cmd", 0),
)
STRUCTURED_FIELDS: tuple[tuple[Any, ...], ...] = (
    ("name",),
    ("version",),
    ("license",),
    ("homepage",),
    ("category",),
    ("upstream", "repo"),
    ("upstream", "tag"),
    ("upstream", "archive_name"),
    ("build", "binary_name"),
    ("build", "extra_binaries", 0),
    *(
        (("artifacts", kind) + rest)
        for kind in ("rpm", "deb")
        for rest in (
            ("system_user",),
            ("systemd", "after", 0),
            ("extra_files", 0, "source"),
            ("extra_files", 0, "dest"),
            ("extra_files", 1, "mode"),
            ("directories", 1, "path"),
            ("directories", 1, "owner"),
            ("directories", 1, "group"),
            ("directories", 0, "mode"),
            ("dependencies", 0),
            ("conflicts", 0),
            ("replaces", 0),
        )
    ),
    ("artifacts", "docker", "user"),
    ("artifacts", "docker", "base_image"),
    ("artifacts", "docker", "validation", "path"),
    ("artifacts", "docker", "validation", "expect"),
)


def packaged_flags(arguments: Sequence[str]) -> list[str]:
    """The unit's `--flag=value` arguments as the DEB's postinst names them when it carries
    the distribution's flags over (hub.packaging.plan): each flag without its dashes, and its
    value. Both must reach the script as quoted literals."""
    out = []
    for argument in arguments:
        if argument.startswith("-") and "=" in argument:
            flag, value = argument.split("=", 1)
            out += [flag.lstrip("-"), value]
    return [v for v in out if v]


def field_name(path: Sequence[Any]) -> str:
    """("artifacts", "rpm", "extra_files", 0, "dest") -> artifacts.rpm.extra_files[0].dest."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def with_value(data: Mapping[str, Any], path: Sequence[Any], value: Any) -> dict[str, Any]:
    """A copy of the manifest data with one field set. The service user's directories follow
    `system_user`, and the exporter's paths follow `name` and `system_user` (the privilege
    policy keeps files under /etc/<name>/ and /var/lib/<user>/), so that changing one field
    does not make an unrelated one invalid."""
    out = copy.deepcopy(dict(data))
    node: Any = out
    for p in path[:-1]:
        node = node[p]
    old = node.get(path[-1]) if isinstance(node, dict) else node[path[-1]]
    node[path[-1]] = value
    if path[-1] == "system_user" and isinstance(old, str) and isinstance(value, str):
        for d in node.get("directories", []):
            for role in ("owner", "group"):
                if d.get(role) == old:
                    d[role] = value
        _move_paths(node, f"/var/lib/{old}", f"/var/lib/{value}")
    if tuple(path) == ("name",) and isinstance(old, str) and isinstance(value, str):
        for kind in ("rpm", "deb"):
            _move_paths(out["artifacts"][kind], f"/etc/{old}", f"/etc/{value}")
    return out


def _move_paths(spec: dict[str, Any], old: str, new: str) -> None:
    for item, key in [(f, "dest") for f in spec.get("extra_files", [])] + [
        (d, "path") for d in spec.get("directories", [])
    ]:
        if item[key] == old or item[key].startswith(old + "/"):
            item[key] = new + item[key][len(old) :]


# --- counting the cases ----------------------------------------------------------------------


@dataclass
class CaseCount:
    """The cases a campaign really ran, in total and per family (a field, an outcome such as
    "refused" or "rendered rpm"). ``check`` fails when the total differs from the number the
    campaign claims, or when a family it must cover got no case: a generator that runs out of
    examples, or a field whose every value is refused before rendering, fails instead of
    passing with less coverage than it claims."""

    campaign: str
    claimed: int
    cases: int = 0
    families: Counter = field(default_factory=Counter)

    def case(self, *families: str) -> None:
        """One case finished, in these families."""
        self.cases += 1
        self.families.update(families)

    def check(self, required: Iterable[str]) -> None:
        counts = ", ".join(f"{k}: {n}" for k, n in sorted(self.families.items()))
        assert self.cases == self.claimed, f"{self.campaign}: {self.cases} cases ran, {self.claimed} claimed ({counts})"
        empty = sorted(f for f in set(required) if not self.families[f])
        assert not empty, f"{self.campaign}: no case for {', '.join(empty)} ({counts})"


# --- systemd -------------------------------------------------------------------------------


class Malformed(AssertionError):
    """What a strict reader found wrong with a rendered artifact."""


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """section -> [(key, value)] as systemd reads a unit (systemd.syntax(7)): comments start
    a line with '#' or ';', values are stripped. Stricter than systemd: a continuation line
    (a line ending in an unescaped backslash), a line that is neither a section, a comment
    nor an assignment, a key outside the syntax, or a repeated section is an error."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, raw in enumerate(text.split("\n"), 1):
        if "\r" in raw:
            raise Malformed(f"line {number}: carriage return: {raw!r}")
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        escaped = False
        for ch in raw:
            escaped = not escaped if ch == "\\" else False
        if escaped:
            raise Malformed(f"line {number}: ends in a backslash, systemd joins the next line: {raw!r}")
        if line.startswith("["):
            if not re.fullmatch(r"\[[A-Za-z][A-Za-z0-9-]*\]", line):
                raise Malformed(f"line {number}: not a section header: {raw!r}")
            current = line[1:-1]
            if current in sections:
                raise Malformed(f"line {number}: section [{current}] repeated")
            sections[current] = []
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()):
            raise Malformed(f"line {number}: not an assignment in a section: {raw!r}")
        sections[current].append((key.strip(), value.strip()))
    return sections


def unescape_specifiers(value: str) -> str:
    """A value where `%%` is the only specifier our units may use."""
    if "%" in value.replace("%%", ""):
        raise Malformed(f"{value!r}: a % specifier systemd would expand")
    return value.replace("%%", "%")


_C_ESCAPES = {
    "\\": "\\",
    '"': '"',
    "'": "'",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "s": " ",
}


def exec_words(value: str) -> list[tuple[bool, str]]:
    """systemd's splitting of a command line (systemd.service(5), "Command lines"): (quoted,
    word) pairs. Quoted words: C escapes, then `%%` and `$$`. Strict: an unquoted word must be
    the first (an absolute path) or a whole `$NAME` reference; a quoted word must not hold a
    specifier or a variable reference."""
    words: list[tuple[bool, str]] = []
    i, n = 0, len(value)
    while i < n:
        if value[i] in " \t":
            i += 1
            continue
        if value[i] == '"':
            i += 1
            buf = []
            while True:
                if i >= n:
                    raise Malformed(f"unterminated quote in {value!r}")
                ch = value[i]
                if ch == '"':
                    i += 1
                    break
                if ch == "\\":
                    if i + 1 >= n or value[i + 1] not in _C_ESCAPES:
                        raise Malformed(f"escape systemd would not take as given in {value!r}")
                    buf.append(_C_ESCAPES[value[i + 1]])
                    i += 2
                    continue
                buf.append(ch)
                i += 1
            if i < n and value[i] not in " \t":
                raise Malformed(f"text right after a closing quote in {value!r}")
            word = "".join(buf)
            if "$" in word.replace("$$", "") or "%" in word.replace("%%", ""):
                raise Malformed(f"quoted word {word!r}: a variable or specifier systemd would expand")
            words.append((True, word.replace("%%", "%").replace("$$", "$")))
        else:
            j = i
            while j < n and value[j] not in " \t":
                if value[j] in "\"'\\;%":
                    raise Malformed(f"unquoted word with {value[j]!r} in {value!r}")
                j += 1
            words.append((False, value[i:j]))
            i = j
    return words


def unit_settings(text: str) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values, through parse_unit."""
    out: dict[str, dict[str, list[str]]] = {}
    for section, items in parse_unit(text).items():
        for key, value in items:
            out.setdefault(section, {}).setdefault(key, []).append(value)
    return out


@dataclass(frozen=True)
class UnitExpectation:
    description: str
    documentation: str | None
    after: tuple[str, ...]
    service_type: str
    user: str | None
    env_file: str
    argv: tuple[str, ...]
    restart: str
    sandbox: tuple[tuple[str, str], ...] = ()  # (key, value) in order, see expected_sandbox


def expected_sandbox(spec: Any) -> tuple[tuple[str, str], ...]:
    """The sandbox settings a package spec's unit holds (hub.packaging.sandbox)."""
    user = None if spec.system_user == "root" else spec.system_user
    writable = [d.path for d in spec.directories if user and d.owner == user]
    return tuple((s.key, s.value) for s in sandbox(spec.systemd.grants, writable=writable))


def check_unit(text: str, want: UnitExpectation) -> None:
    """The unit holds exactly the settings we write, with the manifest's values."""
    s = unit_settings(text)
    if set(s) != {"Unit", "Service", "Install"}:
        raise Malformed(f"sections {sorted(s)}")
    unit_keys = (
        {"Description"}
        | ({"Documentation"} if want.documentation else set())
        | ({"After", "Wants"} if want.after else set())
    )
    service_keys = {
        "Type",
        "EnvironmentFile",
        "ExecStart",
        "Restart",
        "RestartSec",
    } | ({"User", "Group"} if want.user else set())
    sandbox_keys = {k for k, _ in want.sandbox}
    for section, keys in (("Unit", unit_keys), ("Service", service_keys), ("Install", {"WantedBy"})):
        own = {k: v for k, v in s[section].items() if k not in sandbox_keys or section != "Service"}
        if set(own) != keys or any(len(v) != 1 for v in own.values()):
            raise Malformed(f"[{section}] has {s[section]}, expected one each of {sorted(keys)}")
    for key in sandbox_keys:
        values = [v for k, v in want.sandbox if k == key]
        if s["Service"].get(key) != values:
            raise Malformed(f"{key}={s['Service'].get(key)}, expected {values}")
    unit, service = {k: v[0] for k, v in s["Unit"].items()}, {k: v[0] for k, v in s["Service"].items()}
    if unescape_specifiers(unit["Description"]) != want.description:
        raise Malformed(f"Description={unit['Description']!r}, expected {want.description!r}")
    if want.documentation and unescape_specifiers(unit["Documentation"]) != want.documentation:
        raise Malformed(f"Documentation={unit['Documentation']!r}")
    if want.after and (unit["After"].split() != list(want.after) or unit["Wants"].split() != list(want.after)):
        raise Malformed(f"After={unit['After']!r} Wants={unit['Wants']!r}, expected {want.after}")
    if want.user and (service["User"] != want.user or service["Group"] != want.user):
        raise Malformed(f"User={service['User']!r} Group={service['Group']!r}, expected {want.user!r}")
    if service["Type"] != want.service_type or service["Restart"] != want.restart:
        raise Malformed(f"Type={service['Type']!r} Restart={service['Restart']!r}")
    if service["EnvironmentFile"] != f"-{want.env_file}":
        raise Malformed(f"EnvironmentFile={service['EnvironmentFile']!r}")
    words = exec_words(service["ExecStart"])
    if words[0] != (False, want.argv[0]) or words[-1] != (False, "$ARGS"):
        raise Malformed(f"ExecStart={service['ExecStart']!r}: expected {want.argv[0]} first and $ARGS last")
    if any(not quoted for quoted, _ in words[1:-1]) or tuple(w for _, w in words[:-1]) != want.argv:
        raise Malformed(f"ExecStart={service['ExecStart']!r} runs {[w for _, w in words]}, expected {want.argv}")
    if s["Install"]["WantedBy"] != ["multi-user.target"]:
        raise Malformed(f"WantedBy={s['Install']['WantedBy']}")


def check_environment_file(text: str) -> None:
    """The EnvironmentFile: comments and one empty ARGS, as systemd reads it (a comment line
    ending in a backslash continues on the next line there, which must be a comment too)."""
    lines = text.split("\n")
    assignments = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("#", ";")):
            if stripped.endswith("\\") and i + 1 < len(lines) and not lines[i + 1].strip().startswith(("#", ";")):
                raise Malformed(f"comment line {i + 1} continues into a setting: {line!r}")
            continue
        if stripped:
            assignments.append(stripped)
    if assignments != ['ARGS=""']:
        raise Malformed(f"environment file assigns {assignments}")


# --- shell ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    # "bare", "single", "double", "expansion" ($name, ${name...}) or "command" ($(...))
    kind: str
    text: str  # as written, without the quotes (double-quoted escapes are kept as written)


@dataclass(frozen=True)
class Word:
    parts: tuple[Part, ...]
    value: str  # the parts' text joined

    @classmethod
    def of(cls, parts: Sequence[Part]) -> Word:
        return cls(tuple(parts), "".join(p.text for p in parts))

    @property
    def literal(self) -> bool:
        """Nothing in it is expanded: single quotes, and bare or double-quoted text without
        `$`, backquotes, globs or backslashes."""
        return all(
            p.kind == "single" or (p.kind in ("bare", "double") and not re.search(r"[$`\\*?\[]", p.text))
            for p in self.parts
        )


SHELL_SAFE_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")
# What our maintainer scripts run. Besides these, a script may call the functions it defines
# itself, whose names start with "_" (so none can stand in for a real command).
SHELL_COMMANDS = frozenset(
    {
        "[",
        ":",
        "true",
        "set",
        "exit",
        "return",
        "shift",
        "break",
        "continue",
        "command",
        "read",
        "printf",
        "echo",
        "sleep",
        "timeout",
        "getent",
        "groupadd",
        "useradd",
        "systemd-sysusers",
        "systemd-tmpfiles",
        "systemctl",
        "journalctl",
        "deb-systemd-helper",
        "deb-systemd-invoke",
        "dpkg-query",
        "dpkg-statoverride",
        "mv",
        "cp",
        "rm",
        "mkdir",
        "rmdir",
        "readlink",
        "md5sum",
        "grep",
        "sed",
        "awk",
        "cut",
        "head",
        "tail",
        "ss",
        "date",
        "stat",
    }
)
# Reserved words that may open a command (the compound commands our scripts use; no
# subshells, no `until`, no `select`).
_SHELL_RESERVED = frozenset({"if", "then", "else", "elif", "fi", "while", "do", "done", "!", "{", "}", "esac"})
# Parameters any script may expand: the maintainer script's arguments and their count.
# Everything else must be one of the script's own variables, which it assigns itself and
# names with a leading "_" (so no environment variable, HOME or ARGS, can be one).
SHELL_PARAMETERS = frozenset({"1", "2", "#"})
_SHELL_OPERATOR = re.compile(r";;|&&|\|\||[;&|()\n]")
_SHELL_REDIRECTION = re.compile(r"[0-9]?(>>|>&|<&|>|<)")
_OWN_NAME = re.compile(r"_[a-z][a-z0-9_]*")


class _ShellReader:
    """A reader of the POSIX sh our templates write: simple commands, pipelines and lists,
    if/while/for/case, brace groups, functions, quotes, `$name`, `${name}` with the
    `:+ # ## % %%` operators, and `$(...)`, which is read as a script of its own. Anything
    else (backquotes, subshells, here-documents, arithmetic, escapes outside double quotes,
    a lone `$`) is an error."""

    def __init__(self, script: str) -> None:
        self.s = script
        self.pos = 0
        self.commands: list[list[Word]] = []
        self.called: set[str] = set()
        self.functions: set[str] = set()
        self.assigned: set[str] = set()
        self.references: list[tuple[str, bool]] = []  # (parameter name, inside double quotes)
        self.arguments: list[Word] = []  # the words a command gets as its arguments
        self.patterns: list[Word] = []  # case patterns

    def fail(self, what: str) -> Malformed:
        return Malformed(f"{what}: {self.s[max(0, self.pos - 40):self.pos + 40]!r}")

    # -- words --

    def word(self) -> Word:
        parts: list[Part] = []
        bare: list[str] = []

        def flush() -> None:
            if bare:
                parts.append(Part("bare", "".join(bare)))
                bare.clear()

        s, n = self.s, len(self.s)
        while self.pos < n and s[self.pos] not in " \t\n;&|<>()":
            ch = s[self.pos]
            if ch == "'":
                end = s.find("'", self.pos + 1)
                if end < 0:
                    raise self.fail("unterminated single quote")
                flush()
                parts.append(Part("single", s[self.pos + 1 : end]))
                self.pos = end + 1
            elif ch == '"':
                flush()
                self.pos += 1
                parts.extend(self.double())
            elif ch == "$":
                flush()
                parts.append(self.dollar(quoted=False))
            elif ch in "`\\":
                raise self.fail(f"{ch!r} outside quotes")
            else:
                bare.append(ch)
                self.pos += 1
        flush()
        return Word.of(parts)

    def double(self) -> list[Part]:
        """A double-quoted string, from after its opening quote to after its closing one."""
        parts: list[Part] = []
        text: list[str] = []
        s, n = self.s, len(self.s)
        while True:
            if self.pos >= n:
                raise self.fail("unterminated double quote")
            ch = s[self.pos]
            if ch == '"':
                self.pos += 1
                break
            if ch == "`":
                raise self.fail("backquote")
            if ch == "\\" and self.pos + 1 < n and s[self.pos + 1] in '$`"\\\n':
                text.append(s[self.pos : self.pos + 2])
                self.pos += 2
            elif ch == "$":
                if text:
                    parts.append(Part("double", "".join(text)))
                    text = []
                parts.append(self.dollar(quoted=True))
            else:
                text.append(ch)
                self.pos += 1
        if text or not parts:
            parts.append(Part("double", "".join(text)))
        return parts

    def dollar(self, quoted: bool) -> Part:
        s, start = self.s, self.pos
        self.pos += 1
        if s.startswith("((", self.pos):
            raise self.fail("arithmetic expansion")
        if s.startswith("(", self.pos):
            self.pos += 1
            self.commands_until(closing=True)
            return Part("command", s[start : self.pos])
        if s.startswith("{", self.pos):
            m = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*|[0-9#@])(:[-+=?]|##|#|%%|%|)").match(s, self.pos)
            if m is None:
                raise self.fail("parameter expansion")
            self.references.append((m.group(1), quoted))
            self.pos = m.end()
            if m.group(2):
                self.operand()
            if not s.startswith("}", self.pos):
                raise self.fail("parameter expansion")
            self.pos += 1
            return Part("expansion", s[start : self.pos])
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9#@?$!*-]").match(s, self.pos)
        if m is None:
            raise self.fail("a lone '$'")
        self.references.append((m.group(0), quoted))
        self.pos = m.end()
        return Part("expansion", s[start : self.pos])

    def operand(self) -> None:
        """The word of `${name op word}`, up to its closing brace (blanks are part of it)."""
        s, n = self.s, len(self.s)
        while self.pos < n and s[self.pos] != "}":
            ch = s[self.pos]
            if ch == "'":
                end = s.find("'", self.pos + 1)
                if end < 0:
                    raise self.fail("unterminated single quote")
                self.pos = end + 1
            elif ch == '"':
                self.pos += 1
                self.double()
            elif ch == "$":
                self.dollar(quoted=True)
            elif ch in "`\\\n":
                raise self.fail(f"{ch!r} in a parameter expansion")
            else:
                self.pos += 1

    # -- commands --

    def commands_until(self, closing: bool) -> None:
        """Commands up to the end of the script, or up to the `)` that closes `$(`."""
        s, n = self.s, len(self.s)
        command: list[Word] = []
        redirect = False
        start = True  # the next word opens a command
        mode = ""  # "for", "for-in", "for-words", "case", "case-in", "pattern"
        cases = 0
        pending_function = False

        def end_command() -> None:
            nonlocal command, start
            if redirect:
                raise self.fail("a redirection without a target")
            if command:
                self.commands.append(command)
            command, start = [], True

        while True:
            while self.pos < n and (s[self.pos] in " \t" or s.startswith("\\\n", self.pos)):
                self.pos += 2 if s[self.pos] == "\\" else 1
            if self.pos >= n:
                if closing:
                    raise self.fail("unterminated $(")
                break
            if s[self.pos] == "#":
                end = s.find("\n", self.pos)
                self.pos = n if end < 0 else end
                continue
            if s.startswith("<<", self.pos):
                raise self.fail("here-document")
            m = _SHELL_REDIRECTION.match(s, self.pos)
            if m:
                if redirect:
                    raise self.fail("a redirection without a target")
                self.pos = m.end()
                redirect = True
                continue
            m = _SHELL_OPERATOR.match(s, self.pos)
            if m:
                op = m.group(0)
                self.pos = m.end()
                if op == "(" and pending_function and s.startswith(")", self.pos):
                    # `name()`: a function definition, whose body follows
                    name = command.pop().value
                    if not _OWN_NAME.fullmatch(name):
                        raise self.fail(f"function {name!r}: our functions' names start with '_'")
                    self.called.discard(name)
                    self.functions.add(name)
                    self.pos += 1
                    pending_function = False
                    end_command()
                    continue
                pending_function = False
                if op == ")":
                    if mode == "pattern":
                        mode = ""
                        end_command()
                        continue
                    if closing:
                        end_command()
                        return
                    raise self.fail("unexpected ')'")
                if op == "(":
                    raise self.fail("a subshell")
                if op == "|" and mode == "pattern":
                    continue
                if mode in ("for", "for-in", "case", "case-in") and op != "\n":
                    raise self.fail(f"{op!r} in a for or case header")
                if mode == "for-words":
                    mode = ""
                if mode == "case-in" and op == "\n":
                    mode = "pattern"
                if op == ";;":
                    if not cases:
                        raise self.fail("';;' outside case")
                    mode = "pattern"
                end_command()
                continue
            word = self.word()
            if not word.parts:
                raise self.fail("an empty word")
            if redirect:
                redirect = False
                continue
            bare = len(word.parts) == 1 and word.parts[0].kind == "bare"
            if mode == "for":
                if not (bare and _OWN_NAME.fullmatch(word.value)):
                    raise self.fail(f"for {word.value!r}")
                self.assigned.add(word.value)
                mode = "for-in"
            elif mode in ("for-in", "case-in"):
                if word.value != "in" or not bare:
                    raise self.fail(f"{word.value!r} where 'in' was expected")
                mode = "for-words" if mode == "for-in" else "pattern"
            elif mode == "for-words":
                command.append(word)
            elif mode == "case":
                command.append(word)
                mode = "case-in"
            elif mode == "pattern":
                if bare and word.value == "esac":
                    cases -= 1
                    mode = ""
                else:
                    command.append(word)
                    self.patterns.append(word)
            elif start and bare and word.value in _SHELL_RESERVED:
                if word.value == "esac":
                    raise self.fail("'esac' outside case")
            elif start and bare and word.value == "for":
                mode = "for"
            elif start and bare and word.value == "case":
                mode, cases = "case", cases + 1
            elif start and word.parts[0].kind == "bare" and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", word.parts[0].text):
                name = word.parts[0].text.split("=", 1)[0]
                if not _OWN_NAME.fullmatch(name):
                    raise self.fail(f"assigns {name!r}: our variables' names start with '_'")
                self.assigned.add(name)
                command.append(word)
            elif start:
                if not bare:
                    raise self.fail(f"runs a command whose name is not a plain word: {word.value!r}")
                self.called.add(word.value)
                command.append(word)
                start = False
                pending_function = True
                continue
            else:
                if command and command[0].value == "read" and bare and _OWN_NAME.fullmatch(word.value):
                    self.assigned.add(word.value)
                command.append(word)
                self.arguments.append(word)
            pending_function = False
        end_command()
        if mode or cases:
            raise self.fail("an unfinished for or case")


def shell_commands(script: str) -> list[list[Word]]:
    """The simple commands of a maintainer script (those inside `$(...)` too), each a list of
    words (redirections and their targets removed; for and case headers give their words as
    a command of their own). Strict: see _ShellReader; a command must be one of
    SHELL_COMMANDS or a function the script defines, and a parameter must be one of
    SHELL_PARAMETERS, `"$@"` or a variable the script assigns itself."""
    return read_shell(script).commands


def read_shell(script: str) -> _ShellReader:
    """shell_commands, with what the reader found (the words that are arguments)."""
    reader = _ShellReader(script)
    reader.commands_until(closing=False)
    unknown = sorted(reader.called - SHELL_COMMANDS - reader.functions)
    if unknown:
        raise Malformed(f"runs {unknown}")
    for name, quoted in reader.references:
        if not (name in SHELL_PARAMETERS or (name == "@" and quoted) or name in reader.assigned):
            raise Malformed(f"expansion of {name!r}, which the script does not assign")
    return reader


def assigned_word(word: Word) -> Word | None:
    """What `_name=<word>` assigns, as a word of its own (None for any other word)."""
    first = word.parts[0] if word.parts else None
    if first is None or first.kind != "bare" or not re.match(r"[A-Za-z_][A-Za-z0-9_]*=", first.text):
        return None
    rest = first.text.split("=", 1)[1]
    return Word.of(([Part("bare", rest)] if rest else []) + list(word.parts[1:]))


def check_script_values(script: str, values: Sequence[str], pattern_values: Sequence[str] = ()) -> list[list[Word]]:
    """The script has only our commands and expansions (shell_commands), and each word that
    is exactly one of the values, or what an assignment word assigns, is a literal:
    single-quoted (shlex.quote) unless made of characters no shell treats specially. No value
    starts with '-' (a command would read it as an option), except ``pattern_values``, which
    the script may only use as a case pattern or assign to one of its variables."""
    reader = read_shell(script)
    commands = reader.commands
    by_value: dict[str, list[Word]] = {}
    as_arguments = {w.value for w in reader.arguments}
    for c in commands:
        for w in c:
            by_value.setdefault(w.value, []).append(w)
            assigned = assigned_word(w)
            if assigned is not None:
                by_value.setdefault(assigned.value, []).append(assigned)
    # The templates' own catch-all pattern, which a flag named "*" cannot be told apart from.
    catch_all = {id(w) for w in reader.patterns if w.parts == (Part("bare", "*"),)}
    for value in pattern_values:
        if value.startswith("-") and value in as_arguments:
            raise Malformed(f"value {value!r} is a command's argument, which would read it as an option")
        for w in by_value.get(value, ()) if value else ():
            if id(w) in catch_all:
                continue
            if not w.literal or any(p.kind == "bare" and not SHELL_SAFE_BARE.fullmatch(p.text) for p in w.parts):
                raise Malformed(f"value {value!r} is not a quoted literal: {w}")
    for value in values:
        if value.startswith("-"):
            raise Malformed(f"value {value!r} would be read as an option")
        for w in by_value.get(value, ()):
            if not w.literal or any(p.kind == "bare" and not SHELL_SAFE_BARE.fullmatch(p.text) for p in w.parts):
                raise Malformed(f"value {value!r} is not a quoted literal: {w}")
    return commands


# --- deb822 (the control file) ---------------------------------------------------------------


def parse_control(text: str) -> dict[str, str]:
    """A binary package's control paragraph (deb822): `Field: value` lines and continuation
    lines starting with a space. Strict: a repeated field, an empty line inside the paragraph
    or a line that is neither is an error. Continuation lines keep their leading space."""
    fields: dict[str, str] = {}
    last = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for raw in lines:
        if raw.startswith((" ", "\t")) and last is not None:
            fields[last] += "\n" + raw
            continue
        m = re.fullmatch(r"([!-9;-~][!-9;-~]*):(.*)", raw)
        if not m:
            raise Malformed(f"control line {raw!r}")
        last = m.group(1)
        if last in fields:
            raise Malformed(f"field {last} repeated")
        fields[last] = m.group(2).strip()
    return fields


def deb_description_paragraphs(value: str) -> tuple[str, list[list[str]]]:
    """(synopsis, paragraphs as lists of words) of a Description field (Policy 5.6.13)."""
    first, *rest = value.split("\n")
    paragraphs: list[list[str]] = [[]]
    for line in rest:
        if not line.startswith(" "):
            raise Malformed(f"description line {line!r} does not start with a space")
        if line == " .":
            paragraphs.append([])
        elif line.startswith("  "):
            raise Malformed(f"description line {line!r} would be shown verbatim")
        else:
            paragraphs[-1].extend(line[1:].split(" "))
    return first, [[w for w in p if w] for p in paragraphs]


def words_of(text: str) -> list[str]:
    """Words as textwrap splits them (ASCII whitespace only)."""
    return [w for w in re.split(r"[\t\n\x0b\x0c\r ]+", text) if w]


# --- expectations from the manifest ----------------------------------------------------------


def go_expand(value: str, env: Mapping[str, str]) -> str:
    """Go's os.Expand, as nfpm applies it to some configuration fields."""
    out, i, n = [], 0, len(value)
    special = set("*#$@!?-0123456789")
    while i < n:
        if value[i] != "$" or i + 1 >= n:
            out.append(value[i])
            i += 1
            continue
        s = value[i + 1 :]
        if s[0] == "{":
            if len(s) > 2 and s[1] in special and s[2] == "}":
                name, w = s[1], 3
            else:
                close = s.find("}")
                name, w = (("", 2) if close == 1 else (s[1:close], close + 1)) if close > 0 else ("", 1)
        elif s[0] in special:
            name, w = s[0], 1
        else:
            m = re.match(r"[A-Za-z0-9_]*", s)
            name, w = m.group(0), len(m.group(0))
        if name == "" and w > 0:
            pass  # invalid syntax: Go eats it
        elif name == "":
            out.append("$")
        else:
            out.append(env.get(name, ""))
        i += w + 1
    return "".join(out)


def iter_texts(plan: PackagePlan) -> Iterator[tuple[str, str]]:
    """(path, text) of every generated text file of the plan (the gzip changelog decoded)."""
    for e in plan.entries:
        if e.content is None:
            continue
        data = gzip.decompress(e.content) if e.dst.endswith(".gz") else e.content
        yield e.dst, data.decode("utf-8")


# --- sysusers.d and tmpfiles.d ----------------------------------------------------------------


def check_declarations(texts: Mapping[str, str], plan: PackagePlan, user: str) -> None:
    """The package's sysusers.d and tmpfiles.d read back as exactly what it declares: one
    account, and one line per owned path, each with its fields in their columns (a value
    with a space or a specifier would shift or expand them)."""
    accounts = _declaration_lines(texts[f"/usr/lib/sysusers.d/{plan.name}.conf"])
    if (
        len(accounts) != 1
        or accounts[0][:2] != ["u", user]
        or accounts[0][-2:] != [f"/var/lib/{user}", NOLOGIN[plan.kind]]
    ):
        raise Malformed(f"sysusers.d declares {accounts}, expected one account {user!r}")
    path = f"/usr/lib/tmpfiles.d/{plan.name}.conf"
    if plan.kind == "rpm" or not plan.ownership:
        if path in texts:
            raise Malformed(f"{path}: not expected")
        return
    lines = _declaration_lines(texts[path])
    want = [
        ["d" if o.is_dir else ("C" if o.template else "z"), o.path, o.mode, o.owner, o.group, "-"]
        + ([o.template] if o.template else [])
        for o in plan.ownership
    ]
    if lines != want:
        raise Malformed(f"tmpfiles.d declares {lines}, expected {want}")
    for line in lines:
        if any("%" in field for field in line):
            raise Malformed(f"a specifier systemd-tmpfiles would expand: {line}")


def _declaration_lines(text: str) -> list[list[str]]:
    """sysusers.d/tmpfiles.d lines as fields (a quoted GECOS is one field)."""
    out = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(shlex.split(line))
    return out
