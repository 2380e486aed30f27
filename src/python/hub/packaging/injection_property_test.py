"""Manifest injection, in process: hostile strings in every manifest field are refused by
validation with a message naming the field, or land inertly in everything rendered from them.

For each generated manifest, read back through the real YAML loader:
- refused: every message reads `file: field: what was expected`, names the hostile field,
  and is printable (an error message must not carry the hostile characters to a terminal);
- accepted: for the RPM and the DEB, the systemd unit holds exactly our settings with the
  manifest's values (ExecStart's argv, User=, Description=); the environment file assigns
  only ARGS; every maintainer script runs only our commands (and its own functions),
  expands only $1, $2, $#, "$@" and its own `_` variables, and gets each value as a quoted
  literal word (the shell reader's positive controls are below); the nfpm configuration round-trips
  through JSON and, expanded as nfpm expands it, gives back the exact values; the DEB control
  file nfpm writes from it parses with exactly our fields; the artifact JSON round-trips and
  passes its schema; the portal escapes the description (same tags as with a plain one).

The checks and the strategies are in testkit.injection_campaign, shared with
hub/manifest/injection_fields_property_test.py; the same checks run with the real tools in
tests/integration/injection_tools_test.py. Deterministic (derandomize): the same cases on
every run.
"""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from testkit import synthetic
from testkit.injection import (
    FREE_TEXT_FIELDS,
    LOCK,
    CaseCount,
    Malformed,
    UnitExpectation,
    expected_sandbox,
    base_manifest,
    check_environment_file,
    check_script_values,
    check_unit,
    field_name,
    go_expand,
    iter_texts,
    with_value,
)
from testkit.injection_campaign import (
    CASES,
    FILE,
    at_full_scale,
    campaign_settings,
    campaign_size,
    check_control,
    check_refusal,
    check_rendered,
    hostile,
    how,
    load,
    printable,
    refused_or_rendered,
)

from hub.manifest import load as manifest_module
from hub.packaging import nfpm
from hub.packaging.plan import plan_package


# --- the campaigns ----------------------------------------------------------------------------


def test_free_text_is_refused_or_inert() -> None:
    count = CaseCount("free text", campaign_size(CASES["free_text"]))

    @campaign_settings(CASES["free_text"])
    @given(field=st.sampled_from(FREE_TEXT_FIELDS), value=st.one_of(printable, printable, hostile), how=how)
    def case(field: tuple[Any, ...], value: str, how: tuple[bool, tuple[str, ...]]) -> None:
        refused_or_rendered(count, field_name(field), with_value(base_manifest(), field, value), how)

    case()
    # Every field both refused (hostile characters) and rendered (printable hostile text).
    names = [field_name(f) for f in FREE_TEXT_FIELDS]
    count.check(
        at_full_scale([f"{n}: {outcome}" for n in names for outcome in ("refused", "rendered")])
        + ["rendered rpm", "rendered deb", "through YAML", "without YAML"]
    )


# --- the portal --------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(k for k, _ in attrs))))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag, ()))
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def _page(root: Path, description: str, tag: str) -> dict[str, _Tags]:
    spec = synthetic.Spec(
        "demo_exporter",
        description=description,
        built=["rpm_amd64_el9"],
        archs=("amd64",),
        rpm=("el9",),
        deb=(),
        docker=False,
        port=None,
        readme=None,
    )
    site = synthetic.build_site(root / tag, [spec])
    out = {}
    for page in ("index.html", "exporters/demo_exporter.html"):
        parser = _Tags()
        parser.feed((site / page).read_text(encoding="utf-8"))
        parser.close()
        out[page] = parser
    return out


@pytest.fixture(scope="module")
def plain_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, _Tags]:
    return _page(tmp_path_factory.mktemp("portal"), "A plain description", "plain")


def test_portal_escapes_the_description(
    tmp_path_factory: pytest.TempPathFactory, plain_pages: dict[str, _Tags]
) -> None:
    count = CaseCount("portal", campaign_size(CASES["portal"]))

    @campaign_settings(CASES["portal"])
    @given(description=printable)
    def case(description: str) -> None:
        if manifest_module.validate_manifest_data(
            {**synthetic.manifest_data(synthetic.Spec("demo_exporter")), "description": description}
        ):
            count.case("refused")
            return  # refused: covered above
        pages = _page(tmp_path_factory.mktemp("portal"), description, "hostile")
        for page, parsed in pages.items():
            assert parsed.tags == plain_pages[page].tags, f"{page}: the description changed the markup"
            assert any(description in t or html.escape(description) in t for t in parsed.text), page
            for script in parsed.scripts:
                if script.strip().startswith(("{", "[")):
                    assert description in _strings(json.loads(script)), page
        count.case("rendered")

    case()
    count.check(["rendered"])


def _strings(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return [data] if isinstance(data, str) else []


# --- the injections the campaign found, one by one ------------------------------------------------


@pytest.mark.parametrize(
    "field, value, message",
    [
        (("description",), "ok\ud800", "it contains a lone surrogate (not valid UTF-8) (U+D800)"),
        (("description",), "Trusted \u202eexe.txt", "it contains an invisible formatting character (U+202E)"),
        (("artifacts", "rpm", "summary"), "a\u200bb", "it contains an invisible formatting character (U+200B)"),
        (("description",), "line\u2028break", "it contains a line separator (U+2028)"),
        (("description",), "not a character \ufffe", "it contains an unassigned code point (U+FFFE)"),
        (("artifacts", "deb", "systemd", "arguments", 0), "--x=\x85", "it contains a control character (U+0085)"),
        (("description",), " . ", "expected some text besides spaces and full stops"),
        (("artifacts", "deb", "dependencies", 0), "0", "expected a Debian package name"),
        (("artifacts", "deb", "dependencies", 0), "libfoo (>= a1)", "expected a Debian version"),
        (("artifacts", "rpm", "dependencies", 0), "libfoo >= 1-2-3", "expected an rpm version"),
        (("artifacts", "rpm", "directories", 1, "owner"), "nobody", "expected root or the service user"),
        (("artifacts", "rpm", "systemd", "arguments"), ["-x"] * 33, "expected at most 32 items, got 33"),
    ],
)
def test_refused_with_the_field(field: tuple[Any, ...], value: Any, message: str) -> None:
    _, errors = load(with_value(base_manifest(), field, value))
    check_refusal(errors, field_name(field))
    assert any(message in e.message for e in errors), [e.render(FILE) for e in errors]


def _plan(kind: str, **changes: Any) -> tuple[Any, Any]:
    data = base_manifest()
    for path, value in changes.items():
        data = with_value(data, tuple(int(p) if p.isdigit() else p for p in path.split("__")), value)
    m, errors = load(data)
    assert not errors, errors
    dist = "el9" if kind == "rpm" else "debian-12"
    return m, plan_package(m, LOCK, kind=kind, arch="amd64", dist=dist, binaries_dir="/b")


def test_nfpm_does_not_expand_dollars() -> None:
    """nfpm expands $VAR, ${VAR}, $1 and $$ in the description (and leaked the build's PATH
    into it): each `$` goes through a variable that run_nfpm sets to "$"."""
    _, plan = _plan("deb", description="Costs $5 for ${PATH}, $HOME and $$", artifacts__deb__summary="Demo")
    config = nfpm.nfpm_config(plan, "/w")
    assert "$5" not in config["description"] and "${HUB_NFPM_DOLLAR}5" in config["description"]
    assert go_expand(config["description"], {nfpm.DOLLAR_VARIABLE: "$", "PATH": "/leak"}) == plan.description


def test_description_ending_in_a_backslash_does_not_swallow_the_next_setting() -> None:
    m, plan = _plan("rpm", artifacts__rpm__summary="Windows path C:\\")
    unit = dict(iter_texts(plan))["/usr/lib/systemd/system/demo_exporter.service"]
    assert "Description=Windows path C:\\ \n" in unit
    check_unit(
        unit,
        UnitExpectation(
            description="Windows path C:\\",
            documentation="https://example.org/demo",
            after=("network-online.target",),
            service_type="simple",
            user="demo_exporter",
            env_file="/etc/sysconfig/demo_exporter",
            argv=("/usr/bin/demo_exporter", "--web.listen-address=:9100"),
            restart="on-failure",
            sandbox=expected_sandbox(m.rpm),
        ),
    )


@pytest.mark.parametrize("description", ["a" * 71 + " . b", ". " + "b" * 75, "  Leading spaces"])
def test_deb_description_keeps_its_paragraphs(description: str) -> None:
    """A wrapped line that is a lone "." would read " ." (a paragraph break), and leading
    spaces would make a line verbatim text."""
    m, plan = _plan("deb", description=description, artifacts__deb__summary="Demo")
    check_control(plan, m, "Demo")


def test_a_valid_manifest_renders_inertly() -> None:
    m, errors = load(base_manifest(), via_yaml=True)
    assert not errors
    check_rendered(m)
    with pytest.raises(Malformed):
        check_environment_file('ARGS=""\n# x \\\nEVIL=1\n')


def test_nfpm_reads_characters_outside_the_bmp() -> None:
    """json.dumps wrote U+1F600 as a surrogate-pair escape, which nfpm's YAML parser refuses."""
    _, plan = _plan("rpm", description="Emoji \U0001f600 exporter")
    text = nfpm.config_text(plan, "/w")
    assert "\U0001f600" in text and "\\ud83d" not in text


def test_a_campaign_that_runs_fewer_cases_than_it_claims_fails() -> None:
    """The count catches a generator that runs out of examples: three values cannot make 50
    cases, and hypothesis stops after the three."""
    count = CaseCount("exhausted", 50)

    @campaign_settings(50)
    @given(value=st.sampled_from(["a", "b", "c"]))
    def case(value: str) -> None:
        count.case(value)

    case()
    assert count.cases < 50
    with pytest.raises(AssertionError, match=f"exhausted: {count.cases} cases ran, 50 claimed"):
        count.check([])
    full = CaseCount("families", 2)
    full.case("refused")
    full.case("refused")
    with pytest.raises(AssertionError, match="families: no case for rendered"):
        full.check(["refused", "rendered"])


# --- positive controls of the shell reader ----------------------------------------------------

_FUNCTION = '_hub_f() {\n    _v=1\n    %s\n}\n_hub_f "$@" || true\n'


@pytest.mark.parametrize(
    "script, values, patterns",
    [
        (_FUNCTION % "useradd -c $(id) x", [], []),  # a command substitution running id
        (_FUNCTION % 'echo "$(eval x)"', [], []),
        (_FUNCTION % "echo `id`", [], []),
        (_FUNCTION % 'echo "`id`"', [], []),
        (_FUNCTION % "echo ${HOME}", [], []),  # a parameter the script does not assign
        (_FUNCTION % 'echo "$ARGS"', [], []),
        (_FUNCTION % "echo $_w", [], []),
        (_FUNCTION % "echo $5", [], []),
        (_FUNCTION % "echo $$", [], []),
        (_FUNCTION % "echo $@", [], []),  # "$@" only, quoted
        (_FUNCTION % "echo $", [], []),
        (_FUNCTION % "echo $((1+1))", [], []),
        (_FUNCTION % "( id )", [], []),
        (_FUNCTION % "{ id; }", [], []),
        (_FUNCTION % "cat <<EOF\nx\nEOF", [], []),
        (_FUNCTION % "echo a\\;id", [], []),
        (_FUNCTION % "PATH=/tmp", [], []),  # only the script's own `_` variables
        ("rm() { :; }\nrm x\n", [], []),  # a function standing in for a command
        ("case $1 in *) id ;; esac\n", [], []),  # a command inside a case branch
        ("case $1 in\n    x) _v=1 ;;\n", [], []),  # an unfinished case
        ("for _i in 1; do id; done\n", [], []),
        ("for PATH in 1; do :; done\n", [], []),
        # a value that reaches the shell unquoted, as a whole word
        (_FUNCTION % "useradd -c x* u", ["x*"], []),
        (_FUNCTION % "useradd -c $_v u", ["$_v"], []),
        (_FUNCTION % 'useradd -c "$_v" u', ["$_v"], []),
        (_FUNCTION % "useradd -c '-rf' u", ["-rf"], []),
        # a unit's flag: a case pattern or an assignment, quoted, never an argument
        ("case $1 in\n    x*) _v=1 ;;\nesac\n", [], ["x*"]),
        ("case $1 in\n    'a') _v=$_v ;;\nesac\n", [], ["$_v"]),
        ("grep '-x' f\n", [], ["-x"]),
    ],
)
def test_the_shell_reader_refuses(script: str, values: list[str], patterns: list[str]) -> None:
    with pytest.raises(Malformed):
        check_script_values("#!/bin/sh\n" + script, values, pattern_values=patterns)


def test_the_shell_reader_takes_what_the_templates_write() -> None:
    script = (
        "#!/bin/sh\n_hub_f() {\n"
        "    for _x in 'a b' c; do\n"
        '        case ${_x#"${_x%%[!-]*}"} in\n'
        "            '-x'|'*') _v='-x' _w=\"${_v:+ and $_x}\" ;;\n"
        "            *) [ $# -gt 0 ] && shift && continue ;;\n"
        "        esac\n"
        "        _y=$(printf '%s' \"$_v\" | sed 's/a/b/') || _y=\n"
        '        { [ -n "$_y" ] || [ -z "$1" ]; } && echo \'x: \'"\\"$_y\\"" >&2\n'
        '    done\n}\n_hub_f "$@" || true\n'
    )
    commands = check_script_values(script, ["a b"], pattern_values=["-x", "*"])
    assert ["printf", "%s", "$_v"] in [[w.value for w in c] for c in commands]
