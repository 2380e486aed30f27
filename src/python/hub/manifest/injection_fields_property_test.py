"""Manifest injection, in process, field by field: a hostile value in every structured field
(names, versions, users, paths, modes, unit names, relations, image settings), alone or around a
valid one, is refused with a message naming the field or renders inertly; and manifests whose
every value sits on the edge of its pattern render inertly.

The checks are in testkit.injection_campaign; the free-text campaign is
hub/packaging/injection_property_test.py, and the two files run side by side under Pants.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from testkit.injection import STRUCTURED_FIELDS, CaseCount, base_manifest, field_name, with_value
from testkit.injection_campaign import (
    CASES,
    FILE,
    at_full_scale,
    campaign_settings,
    campaign_size,
    check_rendered,
    edge_words,
    how,
    how_families,
    load,
    mutations,
    printable,
    printable_atoms,
    refused_or_rendered,
    value_at,
)

from hub.packaging import content as package_content


def test_structured_field_is_refused_or_inert() -> None:
    count = CaseCount("structured fields", campaign_size(CASES["structured"]))

    @campaign_settings(CASES["structured"])
    @given(data=st.data(), field=st.sampled_from(STRUCTURED_FIELDS), how=how)
    def case(data: st.DataObject, field: tuple[Any, ...], how: tuple[bool, tuple[str, ...]]) -> None:
        base = base_manifest()
        value = data.draw(mutations(str(value_at(base, field))))
        refused_or_rendered(count, field_name(field), with_value(base, field, value), how)

    case()
    # A hostile value in each field was refused at least once; some were rendered.
    count.check(
        at_full_scale([f"{field_name(f)}: refused" for f in STRUCTURED_FIELDS])
        + ["rendered rpm", "rendered deb", "through YAML", "without YAML"]
    )


# Values that pass validation on the edges of each pattern: they must render inertly.
LOWER, DIGITS = "abcdefghijklmnopqrstuvwxyz", "0123456789"
ALNUM = LOWER + LOWER.upper() + DIGITS


def word(first: str, rest: str, max_size: int, last: str | None = None) -> st.SearchStrategy[str]:
    """first char from `first`, then up to max_size chars from `rest` (and one of `last`)."""
    parts = [st.sampled_from(first), st.text(alphabet=rest, max_size=max_size)]
    if last:
        parts.append(st.sampled_from(last))
    return st.tuples(*parts).map("".join)


segment = word(ALNUM + "_+@-", ALNUM + "_+@-.", 10)
user = word(LOWER + "_", LOWER + DIGITS + "_-", 12)
binary = word(ALNUM, ALNUM + "._+-", 20)
number = st.integers(0, 9999).map(str)
version = st.tuples(
    st.sampled_from(["", "v"]),
    number,
    number,
    number,
    st.sampled_from(["", "-rc.1", "-0", "-alpha-1.x", "-beta.2.3"]),
    st.sampled_from(["", "+build.7", "+0-a"]),
).map(lambda t: f"{t[0]}{t[1]}.{t[2]}.{t[3]}{t[4]}{t[5]}")
deb_relation = st.tuples(
    word(LOWER + DIGITS, LOWER + DIGITS + ".+-", 12, last=LOWER + DIGITS),  # Policy 5.6.1: 2 or more
    st.sampled_from(["", " (>= {})", " (<< {})", " (= {})", " >= {}", " < {}"]),
    st.tuples(st.sampled_from(["", "1:", "20:"]), word(DIGITS, ALNUM + ".+~", 8)).map("".join),
).map(lambda t: t[0] + t[1].format(t[2]))
rpm_relation = st.tuples(
    word(ALNUM, ALNUM + ".+_-", 12),
    st.sampled_from(["", " >= {}", " < {}", " = {}", " (>= {})"]),
    st.tuples(st.sampled_from(["", "1:"]), word(ALNUM, ALNUM + ".+~_", 8), st.sampled_from(["", "-1", "-0.el9"])).map(
        "".join
    ),
).map(lambda t: t[0] + t[1].format(t[2]))
unit_name = st.tuples(
    word(ALNUM + ":_.-", ALNUM + ":_.-", 12), st.sampled_from([".target", ".service", ".socket"])
).map("".join)
argument = st.lists(printable_atoms | edge_words, min_size=1, max_size=5).map("".join)


@st.composite
def valid_edge_manifest(draw: Any) -> dict[str, Any]:
    data = base_manifest()
    data["name"] = draw(word(LOWER + DIGITS, LOWER + DIGITS + "_", 20, last=LOWER + DIGITS))
    data["build"]["binary_name"] = draw(binary)
    data["build"]["extra_binaries"] = [draw(binary.filter(lambda b: b != data["build"]["binary_name"]))]
    data["version"] = draw(version)
    data["description"] = draw(printable)
    for kind in ("rpm", "deb"):
        spec = data["artifacts"][kind]
        owner = draw(user)
        spec["system_user"] = owner
        spec["summary"] = draw(printable)[:200]
        spec["systemd"]["arguments"] = draw(st.lists(argument, max_size=4))
        spec["systemd"]["after"] = draw(st.lists(unit_name, max_size=2, unique=True))
        # Within the privilege policy (hub.manifest.policy): the exporter's own paths only, the
        # service's directories in its state and log directories only, and no mode that lets
        # others write. Outside it every case is refused before rendering.
        own_roots = [f"/var/lib/{owner}", f"/var/log/{data['name']}"]
        base_dir = draw(st.sampled_from(own_roots)) + "".join("/" + s for s in draw(st.lists(segment, max_size=2)))
        conf = f"/etc/{data['name']}/" + draw(segment)
        spec["directories"] = [
            {
                "path": base_dir,
                "mode": draw(st.sampled_from(["", "0"]))
                + draw(st.text("01234567", min_size=2, max_size=2))
                + draw(st.sampled_from("0145")),
                "owner": owner,
                "group": owner,
            },
        ]
        spec["extra_files"] = [
            {"source": "assets/config.yml", "dest": conf, "mode": "0644", "config": True},
            {
                "source": "assets/secret.cnf",
                "dest": base_dir + "/" + draw(segment),
                "mode": "0600",
                "config": draw(st.booleans()),
            },
        ]
        relation = deb_relation if kind == "deb" else rpm_relation
        spec["dependencies"] = draw(st.lists(relation, max_size=2, unique=True))
        spec["conflicts"] = draw(st.lists(relation, max_size=1))
        spec["replaces"] = []
    return data


def test_valid_values_on_the_edges_render_inertly() -> None:
    count = CaseCount("valid values on the edges", campaign_size(CASES["valid_edges"]))

    @campaign_settings(CASES["valid_edges"])
    @given(data=valid_edge_manifest(), how=how)
    def case(data: dict[str, Any], how: tuple[bool, tuple[str, ...]]) -> None:
        m, errors = load(data, via_yaml=how[0])
        # The generators stay inside the patterns; the few semantic refusals (a DEB relation
        # naming the package itself, two identical paths) must still read well.
        if errors:
            for e in errors:
                assert e.render(FILE).startswith(f"{FILE}: {e.field}: ") and e.render(FILE).isprintable()
            count.case("refused", *how_families(how))
            return
        try:
            check_rendered(m, kinds=how[1])
        except package_content.HubError as e:
            # Plan-time refusals (an owner that is neither root nor the service user...) are
            # errors, never rendered: they must say what is wrong.
            assert str(e).isprintable() and str(e), e
            count.case("refused when planned", *how_families(how))
            return
        count.case(f"rendered {how[1][0]}", *how_families(how))

    case()
    count.check(["rendered rpm", "rendered deb", "through YAML", "without YAML"])
