"""README rendering (hub.site.markdown) against hostile and pathological READMEs: nesting
that would recurse, inputs whose work would grow quadratically, links that must not survive.
The escaping of a whole page is in portal_test.py and, in a browser, tests/integration.
"""

from __future__ import annotations

import gc
import re
import time
from pathlib import Path
from typing import Callable

import pytest

from hub.site import markdown, portal
from hub.site.markdown import MAX_NESTING, render


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(">" * 1200, id="quotes"),
        pytest.param("> " * 1200 + "a", id="quotes-spaced"),
        pytest.param("- " * 1200 + "a", id="lists"),
        pytest.param("> - " * 600 + "a", id="quotes-and-lists"),
        pytest.param("*" * 1200 + "a" + "*" * 1200, id="emphasis"),
        pytest.param("[" * 1200 + "a" + "](https://example.org/)" * 1200, id="links"),
    ],
)
def test_deep_nesting_renders_without_recursion(source: str) -> None:
    """1.2 KB of ``>`` made the hand-written renderer recurse 1200 times (RecursionError,
    and the whole site build failed). Deeper than MAX_NESTING, content is dropped."""
    out = render(source)
    assert out.count("<blockquote>") <= MAX_NESTING
    assert out.count("<ul>") <= MAX_NESTING


def test_a_deeply_nested_readme_does_not_fail_the_portal(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "README.md").write_text(">" * 1200 + "\n\n# still here\n")
    page = str(portal.read_readme(tmp_path, "x"))
    assert page.count("<blockquote>") == MAX_NESTING
    assert "<h3>still here</h3>" in page


def _fastest(make: Callable[[int], str], n: int) -> float:
    """CPU seconds (not wall time: a loaded machine makes us wait, not work), the best of three
    runs, each without the cyclic garbage collector, whose passes over every live object are
    noise here, not the renderer's work."""
    text = make(n)
    runs = []
    for _ in range(3):
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            render(text)
            runs.append(time.process_time() - start)
        finally:
            gc.enable()
    return min(runs)


@pytest.mark.parametrize(
    "make, n",
    [
        # 84 KB of this took 29 s with the hand-written renderer; markdown-it-py's own text
        # join is quadratic too (replaced in hub.site.markdown)
        pytest.param(lambda n: "_a " * n, 5000, id="underscore-openers"),
        pytest.param(lambda n: "*a **b " * n, 2000, id="mixed-emphasis"),
        # markdown-it-py reads the rest of the paragraph for every definition line
        pytest.param(lambda n: "".join(f"[a{i}]: /u\n" for i in range(n)), 500, id="reference-definitions"),
    ],
)
def test_work_grows_linearly(make: Callable[[int], str], n: int) -> None:
    """Four times the input may cost up to eight times the time (linear, with a generous
    margin for noise), never the sixteen times of quadratic work. No absolute time limit."""
    _fastest(make, n // 10)  # warm up
    small, large = _fastest(make, n), _fastest(make, 4 * n)
    assert large / small < 8, f"{n} -> {small:.3f}s, {4 * n} -> {large:.3f}s: ratio {large / small:.1f}"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("[t](javascript:alert(1))", "<p>t</p>"),
        ("[t](data:text/html;base64,PHNjcmlwdD4=)", "<p>t</p>"),
        ("[t](docs/relative.md)", "<p>t</p>"),
        ("[t](//example.org/no-scheme)", "<p>t</p>"),
        ("<javascript:alert(2)>", "<p>javascript:alert(2)</p>"),
        ("[t][r]\n\n[r]: javascript:alert(3)", "<p>t</p>"),
        ("![alt](javascript:alert(4))", "<p>alt</p>"),
        (
            "[t][r]\n\n[r]: https://example.org/r",
            '<p><a href="https://example.org/r" rel="nofollow noopener noreferrer">t</a></p>',
        ),
        (
            "<https://example.org/a?b=1&c=2>",
            '<p><a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">'
            "https://example.org/a?b=1&amp;c=2</a></p>",
        ),
        (
            '![a "pic"](https://example.org/p.png)',
            '<p><a href="https://example.org/p.png" rel="nofollow noopener noreferrer">[image: a &quot;pic&quot;]</a></p>',
        ),
        (  # an autolink inside an unsafe link: each link's tags stay balanced
            "[<https://a.example>](javascript:x)",
            '<p><a href="https://a.example" rel="nofollow noopener noreferrer">https://a.example</a></p>',
        ),
        ("it's <b>", "<p>it&#x27;s &lt;b&gt;</p>"),
        ("###### six", "<h6>six</h6>"),
        ("```js x\n1\n```", '<pre><code class="language-js">1\n</code></pre>'),
    ],
)
def test_links_images_and_escaping(source: str, expected: str) -> None:
    assert render(source, heading_offset=2) == expected


def test_a_quote_cannot_break_out_of_an_attribute() -> None:
    out = render('[x](https://example.org/"onmouseover="alert(1)) [y](https://example.org/\'a)')
    assert out == "<p>x y</p>"  # each shown as its label: the destination is not a safe URL


def test_table_alignment_uses_no_inline_style() -> None:
    """The portal's Content-Security-Policy refuses inline styles."""
    out = render("| a | b |\n|:-:|--:|\n| 1 | 2 |")
    assert "style=" not in out
    assert re.findall(r"<t[hd](?: [^>]*)?>", out) == ['<th scope="col">', '<th scope="col">', "<td>", "<td>"]


def test_the_replaced_rules_keep_commonmark_results() -> None:
    """The linear text joins and the bounded reference rule change no ordinary output."""
    assert render("a *b* _c_ **d** \\*e\\* f") == "<p>a <em>b</em> <em>c</em> <strong>d</strong> *e* f</p>"
    assert render("[a]\n\n[a]:\n  https://example.org/\n  'title'") == (
        '<p><a href="https://example.org/" title="title" rel="nofollow noopener noreferrer">a</a></p>'
    )
    long_title = "[a]\n\n[a]: https://example.org/ '" + "\n" * 0 + "x\n" * (markdown.MAX_REFERENCE_LINES + 5) + "'"
    assert "<a " not in render(long_title)  # past the bounded look-ahead: a paragraph, not a definition
