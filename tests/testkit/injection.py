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
    return {
        "name": "demo_exporter",
        "description": "Demo exporter for the injection tests",
        "category": "System",
        "version": "v1.0.0",
        "license": "Apache-2.0",
        "homepage": "https://example.org/demo",
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
    kind: str  # "bare", "single" or "double"
    text: str  # as written (without the quotes)


@dataclass(frozen=True)
class Word:
    parts: tuple[Part, ...]
    value: str  # after quote removal (our scripts have no escapes inside double quotes)

    @classmethod
    def of(cls, parts: Sequence[Part]) -> Word:
        return cls(tuple(parts), "".join(p.text for p in parts))

    @property
    def literal(self) -> bool:
        """Nothing in it is expanded: single quotes, and bare or double-quoted text without
        `$`, backquotes, globs or backslashes."""
        return all(p.kind == "single" or not re.search(r"[$`\\*?\[]", p.text) for p in self.parts)


SHELL_SAFE_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")
# What our maintainer scripts run, and the only parameters they expand.
SHELL_COMMANDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "!",
        "set",
        "exit",
        "[",
        "command",
        "getent",
        "groupadd",
        "useradd",
        "printf",
        "echo",
        "systemd-sysusers",
        "systemd-tmpfiles",
        "dpkg-query",
        "dpkg-statoverride",
        "while",
        "do",
        "done",
        "read",
        "mv",
        "_overridden=",
        "_overridden=yes",
        "grep",
        "rm",
        "systemctl",
        "deb-systemd-helper",
        "deb-systemd-invoke",
        "_action=restart",
        "_action=start",
        ":",
        "true",
    }
)
SHELL_PARAMETERS = frozenset({"$1", "$2", "$_action", "$_overridden", "$_owner", "$_group", "$_mode", "$_first"})


_SHELL_TOKEN = re.compile(
    r"(?P<ws>[ \t]+)|(?P<sep>\n|;|&&|\|\||&|\|)|(?P<redir>[0-9]*[<>][>&]*)"
    r"|(?P<single>'[^']*')|(?P<double>\"[^\"\\\\`]*\")|(?P<bare>[^\s;&|<>'\"`(){}\\\\]+)"
)


def shell_commands(script: str) -> list[list[Word]]:
    """The simple commands of a maintainer script, each a list of words (redirections and
    their targets removed). Strict: subshells, groups, here-documents, backquotes, backslashes,
    `$(`, `${` and any parameter other than $1, $2 and $_action are errors."""
    commands: list[list[Word]] = []
    words: list[Word] = []
    parts: list[Part] = []
    redirect = False
    pos, n = 0, len(script)
    while pos < n:
        if script[pos] == "#" and not parts:
            end = script.find("\n", pos)
            pos = n if end < 0 else end
            continue
        m = _SHELL_TOKEN.match(script, pos)
        if m is None:
            raise Malformed(f"{script[pos]!r} outside quotes: {script[max(0, pos - 40):pos + 40]!r}")
        kind, text = m.lastgroup, m.group(0)
        pos = m.end()
        if kind in ("single", "double", "bare"):
            if kind != "single":
                _check_parameters(text)
            body = text if kind == "bare" else text[1:-1]
            parts.append(Part(kind, body))
            continue
        if kind == "redir" and text[0].isdigit() and parts:
            raise Malformed(f"a word runs into a redirection: {text!r}")
        if parts:
            if redirect:
                redirect = False
            else:
                words.append(Word.of(parts))
            parts = []
        if kind == "redir":
            redirect = True
        elif kind == "sep":
            if redirect:
                raise Malformed("a redirection without a target")
            if words:
                commands.append(words)
            words = []
    if parts and not redirect:
        words.append(Word.of(parts))
    if words:
        commands.append(words)
    for command in commands:
        name = command[0].value
        if name not in SHELL_COMMANDS:
            raise Malformed(f"runs {name!r}: {[w.value for w in command]}")
    return commands


def _check_parameters(text: str) -> None:
    for m in re.finditer(r"\$(\{|\(|[A-Za-z_][A-Za-z0-9_]*|.|$)", text):
        if m.group(0) not in SHELL_PARAMETERS:
            raise Malformed(f"expansion {m.group(0)!r} in {text!r}")


def check_script_values(script: str, values: Sequence[str]) -> list[list[Word]]:
    """The script has only our commands and expansions (shell_commands), and each word that
    is exactly one of the values is a literal: single-quoted
    (shlex.quote) unless made of characters no shell treats specially. No value starts with
    '-' (a command would read it as an option)."""
    commands = shell_commands(script)
    by_value: dict[str, list[Word]] = {}
    for c in commands:
        for w in c:
            by_value.setdefault(w.value, []).append(w)
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
