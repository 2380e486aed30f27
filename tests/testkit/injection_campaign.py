"""The in-process manifest injection campaign's machinery, shared by its two test files
(hub/packaging/injection_property_test.py and hub/manifest/injection_fields_property_test.py,
which Pants runs side by side): hypothesis settings and strategies of hostile values, the
round trip of a manifest through the real loader, and the strict checks of a refusal and of
everything rendered from an accepted manifest.

The hostile atoms and the strict readers it uses are in testkit.injection, which needs no
hypothesis (the tools campaign in tests/integration uses them too).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from testkit.injection import (
    check_declarations,
    EDGE_ALPHABET,
    HOSTILE_ATOMS,
    LOCK,
    UnitExpectation,
    expected_sandbox,
    check_environment_file,
    assigned_word,
    check_script_values,
    packaged_flags,
    check_unit,
    deb_description_paragraphs,
    go_expand,
    iter_texts,
    parse_control,
    words_of,
)

from hub.catalog import artifact as catalog
from hub.common import files, matrix, schemas
from hub.manifest import load as manifest_module
from hub.packaging import content as package_content
from hub.packaging import nfpm
from hub.packaging.build import metadata
from hub.packaging.plan import NOLOGIN, plan_package

FILE = "exporters/demo_exporter/manifest.yaml"
# YAML 1.2's printable characters (nfpm reads its configuration as YAML).
YAML_PRINTABLE = re.compile("[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The cases per test; together over 10,000 (see docs/security.md, "Manifest injection").
# Split over two files, so that Pants runs them side by side (one core each):
# hub/manifest/injection_fields_property_test.py has the "structured" and "valid_edges" campaigns.
CASES = {"free_text": 4000, "structured": 3500, "valid_edges": 2500, "portal": 200}
SCALE = float(os.environ.get("HUB_INJECTION_SCALE", "1"))  # to iterate faster; 1 in CI


def campaign_size(n: int) -> int:
    """The cases a campaign of ``n`` runs (scaled by HUB_INJECTION_SCALE): what its CaseCount
    must count."""
    return max(1, int(n * SCALE))


def at_full_scale(families: list[str]) -> list[str]:
    """Families a campaign must cover only at its full size: a scaled-down run to iterate
    faster has too few cases to reach every field."""
    return families if SCALE >= 1 else []


def campaign_settings(n: int) -> Any:
    """hypothesis settings for a campaign of ``n`` cases (scaled by HUB_INJECTION_SCALE)."""
    return settings(
        max_examples=campaign_size(n),
        deadline=None,
        derandomize=True,
        database=None,
        # A failure shows the case as generated: shrinking these nested manifests can take
        # minutes, and the strict readers already say what is wrong.
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# --- strategies ----------------------------------------------------------------------------

atoms = st.sampled_from(HOSTILE_ATOMS)
edge_words = st.text(alphabet=EDGE_ALPHABET, min_size=1, max_size=8)
hostile = st.lists(st.one_of(atoms, atoms, edge_words, st.text(min_size=1, max_size=4)), min_size=1, max_size=6).map(
    "".join
)
# Printable hostile text: what validation lets through to the renderers.
printable_atoms = st.sampled_from(
    [a for a in HOSTILE_ATOMS if a.isprintable() and not any(0xD800 <= ord(c) < 0xE000 for c in a)]
)
printable = st.lists(
    st.one_of(
        printable_atoms,
        printable_atoms,
        edge_words,
        st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=8,
).map("".join)


# How a case is run: through YAML text (one in ten), and which family it renders.
how = st.tuples(
    st.integers(0, 9).map(lambda i: i == 0),
    st.sampled_from([("rpm",), ("deb",)]),
)


def how_families(how: tuple[bool, tuple[str, ...]]) -> tuple[str, ...]:
    """The CaseCount families of a case's `how`: read through YAML text or not."""
    return ("through YAML",) if how[0] else ("without YAML",)


def mutations(base: str) -> st.SearchStrategy[str]:
    """Hostile values, alone or around a valid one (near misses of the field's pattern)."""
    return st.one_of(
        hostile,
        st.tuples(hostile).map(lambda t: base + t[0]),
        st.tuples(hostile).map(lambda t: t[0] + base),
        st.tuples(hostile, st.integers(0, len(base))).map(lambda t: base[: t[1]] + t[0] + base[t[1] :]),
    )


def value_at(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at a field path, like testkit.injection.field_name's paths."""
    for p in path:
        data = data[p]
    return data


# --- the round trip through the real loader --------------------------------------------------


def load(data: dict[str, Any], via_yaml: bool = False) -> tuple[Any, list[Any]]:
    """(model or None, errors) for manifest data, through YAML text and the real loader when
    asked (a tenth of the cases: PyYAML is most of a case's time)."""
    parsed = data
    if via_yaml:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=False)
        parsed = yaml.load(text, Loader=manifest_module._Loader)  # noqa: S506 - a SafeLoader subclass
        assert parsed == data, "the YAML round trip changed the manifest"
    errors = manifest_module.validate_manifest_data(parsed, file_name=FILE)
    if errors:
        return None, errors
    return manifest_module._build(FILE, manifest_module._with_defaults(parsed)), []


def check_refusal(errors: list[Any], field: str) -> None:
    for e in errors:
        rendered = e.render(FILE)
        assert rendered.startswith(f"{FILE}: {e.field}: ") and e.message, rendered
        assert rendered.isprintable(), f"the error message carries unprintable characters: {rendered!r}"
    fields = [e.field for e in errors]
    assert any(
        f == field or f.startswith(field + "[") or f.startswith(field + ".") for f in fields
    ), f"the hostile {field} was refused under other fields: {fields}"


def refused_or_rendered(count: Any, field: str, data: dict[str, Any], how: tuple[bool, tuple[str, ...]]) -> None:
    """One case of a field campaign: `data` (a manifest holding a hostile value in `field`) is
    either refused under that field, or rendered inertly in the family `how` names. The case
    goes into `count` (a testkit.injection.CaseCount) under the outcome and `how`."""
    m, errors = load(data, via_yaml=how[0])
    if errors:
        check_refusal(errors, field)
        count.case(f"{field}: refused", *how_families(how))
        return
    check_rendered(m, kinds=how[1])
    count.case(f"{field}: rendered", f"rendered {how[1][0]}", *how_families(how))


# --- what is rendered ------------------------------------------------------------------------


def check_artifact_schema(doc: dict[str, Any]) -> None:
    assert not schemas.schema_errors(doc, "artifact")


def check_rendered(m: Any, kinds: tuple[str, ...] = ("rpm", "deb")) -> None:
    for kind, dist in (("rpm", "el9"), ("deb", "debian-12")):
        if kind not in kinds:
            continue
        spec = m.rpm if kind == "rpm" else m.deb
        plan = plan_package(m, LOCK, kind=kind, arch="amd64", dist=dist, binaries_dir="/b")
        texts = dict(iter_texts(plan))
        user = None if spec.system_user == "root" else spec.system_user
        unit = f"{m.name}.service"
        d = matrix.DISTS[dist]
        summary = package_content.synopsis(spec.summary)
        assert plan.summary == summary

        # systemd unit and environment file
        if spec.systemd.enabled:
            check_unit(
                texts[f"/usr/lib/systemd/system/{unit}"],
                UnitExpectation(
                    description=summary,
                    documentation=m.homepage or f"https://github.com/{m.upstream.repo}",
                    after=spec.systemd.after,
                    service_type=spec.systemd.type,
                    user=user,
                    env_file=f"{d.env_dir}/{m.name}",
                    argv=(f"/usr/bin/{m.build.binary_name}", *spec.systemd.arguments),
                    restart=spec.systemd.restart,
                    sandbox=expected_sandbox(spec),
                ),
            )
            check_environment_file(texts[f"{d.env_dir}/{m.name}"])

        # maintainer scripts
        values = [unit] if spec.systemd.enabled else []  # the package name is only in comments
        if user:
            values += [user, f"/var/lib/{user}", f"{user} service account (Monitoring Hub)", NOLOGIN[kind]]
            check_declarations(texts, plan, user)
            sysusers = f"/usr/lib/sysusers.d/{plan.name}.conf"
            # DEB: the file, once installed; RPM's %pre: its one line, on standard input.
            values.append(sysusers if kind == "deb" else texts[sysusers].splitlines()[-1])
        if kind == "deb":
            if plan.ownership:
                # applied by its name (an administrator's /etc/tmpfiles.d file wins); each
                # owned path asked of dpkg-statoverride, whose entries go to that file
                values += [f"{plan.name}.conf", f"/etc/tmpfiles.d/{plan.name}.conf"]
                values += [o.path for o in plan.ownership]
            values += [d.path for d in spec.directories if user and d.owner == user]
        # The DEB's postinst names the unit's own flags and their values when it carries the
        # distribution package's flags over: case patterns and assignments.
        patterns = []
        if kind == "deb" and spec.systemd.enabled and m.distribution_package_names("deb"):
            patterns = packaged_flags(spec.systemd.arguments)
        scripts = dict(plan.scripts)
        all_words = set()
        for text in scripts.values():
            assert text.startswith("#!/bin/sh\n")
            for c in check_script_values(text, values, pattern_values=patterns):
                all_words |= {w.value for w in c}
                all_words |= {a.value for a in map(assigned_word, c) if a is not None}
        missing = [v for v in values + patterns if v not in all_words]
        assert not missing, f"values the scripts should name as whole words: {missing}"

        # nfpm configuration: JSON that YAML reads too, then nfpm's own expansion
        text = nfpm.config_text(plan, "/w")
        assert not re.search(r"\\u[dD][89abcdefABCDEF]", text), "a surrogate escape, which YAML refuses"
        assert all(YAML_PRINTABLE.fullmatch(ch) for ch in text), "a character YAML cannot hold"
        config = json.loads(text)
        env = {nfpm.DOLLAR_VARIABLE: "$"}
        assert go_expand(config["description"], env) == plan.description
        for key in ("depends", "conflicts", "replaces"):
            assert [go_expand(v, env) for v in config[key]] == list(getattr(plan, key))
        if plan.homepage:
            assert go_expand(config["homepage"], env) == plan.homepage
        if kind == "rpm":
            assert config["rpm"]["summary"] == summary  # not expanded by nfpm
        else:
            check_control(plan, m, summary)

        # artifact JSON
        doc = catalog.package_artifact(
            kind=kind,
            exporter=m.name,
            version=m.clean_version,
            arch="amd64",
            dist=dist,
            build_date=plan.source_date,
            path=_package_file(plan.filename),
            package_name=plan.name,
            metadata=metadata(plan),
            source={"url": "https://example.org/a.tar.gz", "sha256": "ab" * 32},
        )
        assert json.loads(files.dumps_json(doc)) == doc
        check_artifact_schema(doc)
        if kind == "rpm":
            assert doc["rpm_metadata"]["summary"] == summary


_PACKAGE_DIR: list[str] = []


def _package_file(filename: str) -> str:
    """A small file named like the package (the artifact JSON reads its digest)."""
    if not _PACKAGE_DIR:
        import tempfile

        _PACKAGE_DIR.append(tempfile.mkdtemp(prefix="hub-injection-"))
    path = os.path.join(_PACKAGE_DIR[0], filename)
    if not os.path.exists(path):
        Path(path).write_bytes(b"package")
    return path


def control_text(plan: Any) -> str:
    """The control file as nfpm 2.48's deb template writes it from our configuration
    (the real one is read by dpkg-deb in the tools campaign)."""
    lines = [
        f"Package: {plan.name}",
        f"Version: {plan.full_version}",
        "Section: net",
        "Priority: optional",
        f"Architecture: {plan.pkg_arch}",
        "Maintainer: Monitoring Hub <packages@monitoring-hub.invalid>",
        "Installed-Size: 1",
    ]
    for field, values in (("Replaces", plan.replaces), ("Depends", plan.depends), ("Conflicts", plan.conflicts)):
        if values:
            lines.append(f"{field}: {', '.join(values)}")
    if plan.homepage:
        lines.append(f"Homepage: {plan.homepage}")
    lines.append("Description: " + plan.description.replace("\n", "\n "))
    return "\n".join(lines) + "\n"


def expected_description(plan: Any, m: Any, summary: str) -> list[str]:
    """Each paragraph of the long description, whitespace removed (long words may be broken
    across lines): the manifest's description unless it repeats the summary, then ours."""
    paragraphs = []
    if package_content.synopsis(m.description).lower() != summary.lower():
        paragraphs.append("".join(words_of(m.description.rstrip(".") + ".")))
    long = plan.description.split("\n", 1)[1] if plan.kind == "deb" else plan.description
    paragraphs.append("".join(words_of(long.split("\n.\n" if plan.kind == "deb" else "\n\n")[-1])))
    return paragraphs


def check_control(plan: Any, m: Any, summary: str) -> None:
    fields = parse_control(control_text(plan))
    optional = {
        "Depends": plan.depends,
        "Conflicts": plan.conflicts,
        "Replaces": plan.replaces,
        "Homepage": plan.homepage,
    }
    assert set(fields) == {
        "Package",
        "Version",
        "Section",
        "Priority",
        "Architecture",
        "Maintainer",
        "Installed-Size",
        "Description",
    } | {k for k, v in optional.items() if v}
    synopsis, paragraphs = deb_description_paragraphs(fields["Description"])
    assert synopsis == summary
    assert ["".join(p) for p in paragraphs] == expected_description(plan, m, summary), fields["Description"]
    for key in ("Depends", "Conflicts", "Replaces"):
        assert fields.get(key, "").split(", ") == (list(optional[key]) or [""])
