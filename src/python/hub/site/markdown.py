"""Exporter READMEs in the portal: CommonMark, rendered by markdown-it-py, made safe.

A README is upstream text: hostile until proven otherwise. The renderer is markdown-it-py's
CommonMark preset (plus GitHub pipe tables), configured so that:

- raw HTML is never passed through (``html: False``): ``<script>`` in a README shows as text;
- links keep only absolute ``http:``/``https:`` URLs (:func:`safe_url`); anything else
  (``javascript:``, ``data:``, relative paths, which would point into the portal) renders as
  its plain label, and every link gets ``rel="nofollow noopener noreferrer"``;
- images become links to the image (``[image: alt]``), never loaded: the portal makes no request;
- headings move down by ``heading_offset`` levels, so a README's ``# title`` fits under the
  page's own headings; tables are wrapped for scrolling, with ``scope="col"`` headers and no
  inline styles (the page's CSP allows none);
- blocks and inlines nest at most ``MAX_NESTING`` levels deep (markdown-it's ``maxNesting``):
  deeper content is dropped, so ``">" * 1200`` renders 20 quotes instead of recursing 1200
  times.

And so that the work grows linearly with the input: markdown-it-py 3.0 joins adjacent text
tokens by repeated string concatenation (``"_a " * n`` is quadratic: 84 KB took seconds) and
gathers the rest of the paragraph for every reference definition (thousands of ``[a]: /u``
lines are quadratic too). Both rules are replaced here, by linear joins and by a definition
that looks at most ``MAX_REFERENCE_LINES`` lines ahead.
"""

from __future__ import annotations

import html
from typing import Any, List, Sequence
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block.reference import reference as commonmark_reference
from markdown_it.rules_block.state_block import StateBlock
from markdown_it.rules_core.state_core import StateCore
from markdown_it.rules_inline.state_inline import StateInline
from markdown_it.token import Token
from markdown_it.common.utils import unescapeAll
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["render", "safe_url", "MAX_NESTING", "MAX_REFERENCE_LINES"]

MAX_NESTING = 20  # CommonMark preset's default: quotes, lists and inlines inside one another
MAX_REFERENCE_LINES = 20  # a reference definition (label, destination, title) spans fewer lines
LINK_REL = "nofollow noopener noreferrer"
UNSAFE = "unsafe:"  # what an unsafe link destination becomes while parsing


def safe_url(url: str) -> str | None:
    """The URL if it is an absolute http(s) URL with a host, else None."""
    url = url.strip()
    if any(c in url for c in "\x00\r\n\t \"'<>`\\"):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


# --- linear replacements of markdown-it-py's quadratic rules ----------------------------------


def _joined(run: List[Token]) -> Token:
    """The first text token of a run, holding the whole run's text (one join, not n concatenations)."""
    if len(run) > 1:
        run[0].content = "".join(token.content for token in run)
    return run[0]


def _join_text_runs(tokens: Sequence[Token], *, levels: bool) -> List[Token]:
    """Adjacent text tokens merged into one; with ``levels``, every token's nesting level is
    computed again (what markdown-it's ``fragments_join`` does after emphasis)."""
    out: List[Token] = []
    run: List[Token] = []
    level = 0
    for token in tokens:
        if levels:
            if token.nesting < 0:
                level -= 1
            token.level = level
            if token.nesting > 0:
                level += 1
        if token.type == "text":
            run.append(token)
            continue
        if run:
            out.append(_joined(run))
            run = []
        out.append(token)
    if run:
        out.append(_joined(run))
    return out


def _fragments_join(state: StateInline) -> None:
    state.tokens[:] = _join_text_runs(state.tokens, levels=True)


def _text_join(state: StateCore) -> None:
    for token in state.tokens:
        if token.type != "inline" or not token.children:
            continue
        for child in token.children:
            if child.type == "text_special":  # an escaped character, text from now on
                child.type = "text"
        token.children = _join_text_runs(token.children, levels=False)


def _reference(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """CommonMark's reference definition, looking at most MAX_REFERENCE_LINES lines ahead
    (the stock rule reads up to the end of the paragraph for each line of it)."""
    line_max = state.lineMax
    state.lineMax = min(line_max, start_line + MAX_REFERENCE_LINES)
    try:
        return commonmark_reference(state, start_line, end_line, silent)
    finally:
        state.lineMax = line_max


# --- rendering ----------------------------------------------------------------------------------


def _normalize_link(url: str) -> str:
    """Checked before normalizing (``https://a/"on..`` must not survive as ``https://a/%22on..``):
    a safe destination is normalized as usual (percent-encoding), anything else becomes
    :data:`UNSAFE`, which the renderer shows as the label alone."""
    return _STOCK_NORMALIZE_LINK(url) if safe_url(url) else UNSAFE


def _validate_link(url: str) -> bool:
    """Every destination is parsed as a link (so that ``[t](javascript:x)`` shows ``t``, not
    the whole source); what is not safe is never rendered as one (:func:`_link_open`)."""
    return bool(url)


_OPEN_LINKS = "hub_open_links"  # env key: for each open link, whether it shows as its label alone


def _link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    unsafe = safe_url(str(token.attrGet("href") or "")) is None
    env.setdefault(_OPEN_LINKS, []).append(unsafe)
    if unsafe:
        return ""
    token.attrSet("rel", LINK_REL)
    return self.renderToken(tokens, idx, options, env)


def _link_close(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    opened = env.get(_OPEN_LINKS)
    if opened and opened.pop():
        return ""
    return self.renderToken(tokens, idx, options, env)


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """A link to the image, labelled with its alt text; never an <img>."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    label = f"[image: {_escape(alt)}]"
    src = safe_url(str(token.attrGet("src") or ""))
    if src is None:
        return _escape(alt)
    return f'<a href="{_escape(src)}" rel="{LINK_REL}">{label}</a>'


def _table_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return '<div class="table-wrap"><table>\n'


def _table_close(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return "</table></div>\n"


def _cell_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    token.attrs.pop("style", None)  # alignment as an inline style: the page's CSP refuses those
    if token.type == "th_open":
        token.attrSet("scope", "col")
    return self.renderToken(tokens, idx, options, env)


def _escape(text: str) -> str:
    """Text as HTML, quotes included (markdown-it leaves ``'`` as it is): the same escaping
    as the page's own (MarkupSafe) everywhere in a README."""
    return html.escape(text, quote=True)


def _text(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return _escape(tokens[idx].content)


def _code_inline(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return f"<code>{_escape(tokens[idx].content)}</code>"


def _code_block(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """Indented and fenced code; a fence's first info word names the language (a class)."""
    token = tokens[idx]
    info = unescapeAll(token.info).strip() if token.type == "fence" else ""
    language = info.split(maxsplit=1)[0] if info else ""
    attribute = f' class="language-{_escape(language)}"' if language else ""
    return f"<pre><code{attribute}>{_escape(token.content)}</code></pre>\n"


def _make_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING})
    md.enable("table")
    md.inline.ruler2.at("fragments_join", _fragments_join)
    md.core.ruler.at("text_join", _text_join)
    md.block.ruler.at("reference", _reference)
    md.normalizeLink = _normalize_link  # type: ignore[method-assign]
    md.validateLink = _validate_link  # type: ignore[method-assign]
    rules: dict[str, Any] = {
        "text": _text,
        "code_inline": _code_inline,
        "code_block": _code_block,
        "fence": _code_block,
        "link_open": _link_open,
        "link_close": _link_close,
        "image": _image,
        "table_open": _table_open,
        "table_close": _table_close,
        "th_open": _cell_open,
        "td_open": _cell_open,
    }
    for name, rule in rules.items():
        md.add_render_rule(name, rule)
    return md


_STOCK_NORMALIZE_LINK = MarkdownIt().normalizeLink
_PARSER = _make_parser()


def render(text: str, *, heading_offset: int = 0) -> str:
    """Markdown to safe HTML (a string to mark safe in a template)."""
    env: dict[str, Any] = {}
    tokens = _PARSER.parse(text, env)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + heading_offset)}"
    return _PARSER.renderer.render(tokens, _PARSER.options, env).rstrip("\n")
