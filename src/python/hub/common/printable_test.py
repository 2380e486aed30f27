"""hub.common.printable: the first refused character of a text, named by its category."""

import pytest

from hub.common.printable import HIDDEN_OR_LINE_BREAKING, first_refused


@pytest.mark.parametrize(
    "text, found",
    [
        ("node_exporter 1.8.2 — «Prometheus»", None),
        ("a\x1bb", ("\x1b", "a control character (U+001B)")),
        ("a\x85b", ("\x85", "a control character (U+0085)")),  # NEL, a C1 control
        ("abc\u202edef", ("\u202e", "an invisible formatting character (U+202E)")),
        ("a\u2028b", ("\u2028", "a line separator (U+2028)")),
        ("a\u2029b\x00", ("\u2029", "a paragraph separator (U+2029)")),  # the first one is named
    ],
)
def test_first_refused_character(text: str, found: tuple[str, str] | None) -> None:
    assert first_refused(text, HIDDEN_OR_LINE_BREAKING) == found


def test_callers_add_their_own_categories() -> None:
    refused = {**HIDDEN_OR_LINE_BREAKING, "Cs": "a lone surrogate"}
    assert first_refused("a\udcffb", HIDDEN_OR_LINE_BREAKING) is None
    assert first_refused("a\udcffb", refused) == ("\udcff", "a lone surrogate (U+DCFF)")
