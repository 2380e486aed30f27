"""hub.common.semver: semver.org 2.0.0 precedence, equality ignoring build metadata and the
leading v, and strict parsing with one clear message."""

from __future__ import annotations

import pytest

from hub.common.errors import HubError
from hub.common.semver import parse_semver

# semver.org 2.0.0, section 11: each is lower than the next.
ORDERED = [
    "0.9.9",
    "1.0.0-0.3.7",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.9.0",
    "1.10.0",  # a string comparison would put it before 1.9.0
    "1.11.0-rc.1",
    "1.11.0",
    "2.0.0",
    "10.0.0",
]


@pytest.mark.parametrize("lower,higher", list(zip(ORDERED, ORDERED[1:])))
def test_semver_order(lower: str, higher: str) -> None:
    assert parse_semver(lower) < parse_semver(higher)
    assert parse_semver(higher) > parse_semver(lower)
    assert parse_semver(lower) != parse_semver(higher)


def test_semver_sorts_the_whole_table() -> None:
    shuffled = sorted(ORDERED, key=lambda v: (len(v) * 7919 + sum(map(ord, v))) % 101)
    assert [v.text for v in sorted(map(parse_semver, shuffled))] == ORDERED


@pytest.mark.parametrize(
    "a,b",
    [
        ("v1.2.3", "1.2.3"),  # the leading v is spelling, not version
        ("1.2.3+build.5", "1.2.3"),  # build metadata is ignored
        ("1.2.3+a", "1.2.3+b"),
        ("v1.0.0-rc.1+x", "1.0.0-rc.1"),
    ],
)
def test_semver_equal(a: str, b: str) -> None:
    assert parse_semver(a) == parse_semver(b)
    assert hash(parse_semver(a)) == hash(parse_semver(b))
    assert not parse_semver(a) < parse_semver(b)


def test_semver_fields() -> None:
    v = parse_semver("v1.22.3-rc.1.x-y+build.7")
    assert (v.major, v.minor, v.patch) == (1, 22, 3)
    assert v.prerelease == ("rc", "1", "x-y") and v.build == ("build", "7")
    assert v.is_prerelease and not parse_semver("1.0.0").is_prerelease
    assert str(v) == "v1.22.3-rc.1.x-y+build.7"


@pytest.mark.parametrize(
    "text",
    [
        "1.2",
        "1.2.3.4",
        "01.2.3",  # leading zeros
        "1.02.3",
        "1.2.3-01",  # numeric prerelease identifiers have no leading zero
        "1.2.3-",
        "1.2.3+",
        "1.2.3-a..b",
        "1.2.3-a_b",
        "V1.2.3",
        "vv1.2.3",
        "latest",
        "",
        " 1.2.3",
        "1.2.3\n",
        "\u0661.2.3",  # an Arabic-Indic digit is not a digit here
        "1.2.x",
    ],
)
def test_semver_rejects(text: str) -> None:
    with pytest.raises(HubError) as e:
        parse_semver(text, what="catalog/index.json: exporters[0].version")
    message = str(e.value)
    assert message.startswith("catalog/index.json: exporters[0].version: ")
    assert "is not a semantic version MAJOR.MINOR.PATCH" in message


def test_semver_rejects_non_strings() -> None:
    with pytest.raises(HubError, match="int 1 is not a semantic version"):
        parse_semver(1)
