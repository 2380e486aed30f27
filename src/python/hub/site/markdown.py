"""A small, safe Markdown subset for exporter READMEs in the portal.

Everything is escaped; only the constructs below become HTML, built here from escaped text:

- ATX headings (``#`` ... ``######``), shifted down by ``heading_offset`` levels so a README's
  ``# title`` fits under the page's own headings;
- paragraphs, ``---`` rules, ``>`` quotes;
- fenced code blocks (``` or ~~~, with an optional language) and indented code blocks;
- ``-``/``*``/``+`` and ``1.`` lists (one level; indented continuation lines join the item);
- GitHub pipe tables;
- inline: `` `code` ``, ``**strong**``, ``*em*``/``_em_``, ``[text](url)``, ``<url>``,
  ``![alt](url)`` (shown as a link to the image, never loaded: the portal makes no request).

Links keep only ``http:`` and ``https:`` URLs (anything else, ``javascript:`` included, renders
as plain text). Raw HTML is never passed through: ``<script>`` in a README shows as text.
"""

from __future__ import annotations

import html
import re
from typing import Iterator
from urllib.parse import urlsplit

__all__ = ["render", "safe_url"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([A-Za-z0-9_+.#-]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_BULLET = re.compile(r"^ {0,3}([-*+])[ \t]+(.*)$")
_ORDERED = re.compile(r"^ {0,3}([0-9]{1,9})[.)][ \t]+(.*)$")
_QUOTE = re.compile(r"^ {0,3}>[ ]?(.*)$")
_TABLE_SEP = re.compile(r"^ {0,3}\|?[ \t]*:?-{1,}:?[ \t]*(\|[ \t]*:?-{1,}:?[ \t]*)*\|?[ \t]*$")

# Inline tokens, leftmost first: code span, image, link, autolink.
_INLINE = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<codetext>.+?)(?P=ticks))"
    r"|(?P<image>!\[(?P<alt>[^\]\n]*)\]\((?P<isrc>[^()\s]+)(?:\s+\"[^\"\n]*\")?\))"
    r"|(?P<link>\[(?P<text>[^\]]+)\]\((?P<href>[^()\s]+(?:\([^()\s]*\))?[^()\s]*)(?:\s+\"[^\"\n]*\")?\))"
    r"|(?P<auto><(?P<aurl>https?://[^\s<>]+)>)",
    re.S,
)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
_EM = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", re.S)


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


def _emphasis(escaped: str) -> str:
    """Strong and emphasis on already-escaped text (only our own tags are added)."""
    escaped = _STRONG.sub(lambda m: f"<strong>{m.group(2)}</strong>", escaped)
    return _EM.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", escaped)


def _link(url: str, label_html: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}" rel="nofollow noopener noreferrer">{label_html}</a>'


def inline(text: str) -> str:
    """One paragraph's worth of inline Markdown to HTML; everything else is escaped."""
    out = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(_emphasis(html.escape(text[pos : m.start()], quote=True)))
        pos = m.end()
        if m.group("code"):
            code = m.group("codetext")
            if code.startswith(" ") and code.endswith(" ") and code.strip():
                code = code[1:-1]
            out.append(f"<code>{html.escape(code, quote=True)}</code>")
        elif m.group("image"):
            alt = html.escape(m.group("alt") or "image", quote=True)
            url = safe_url(m.group("isrc"))
            out.append(_link(url, f"[image: {alt}]") if url else alt)
        elif m.group("link"):
            label = inline(m.group("text"))
            url = safe_url(m.group("href"))
            out.append(_link(url, label) if url else label)
        else:
            url = safe_url(m.group("aurl"))
            shown = html.escape(m.group("aurl"), quote=True)
            out.append(_link(url, shown) if url else html.escape(m.group(0), quote=True))
    out.append(_emphasis(html.escape(text[pos:], quote=True)))
    return "".join(out)


def _is_block_start(line: str) -> bool:
    return bool(
        _FENCE.match(line)
        or _HEADING.match(line)
        or _RULE.match(line)
        or _BULLET.match(line)
        or _ORDERED.match(line)
        or _QUOTE.match(line)
    )


def _table_start(lines: list[str], i: int) -> bool:
    return "|" in lines[i] and i + 1 < len(lines) and "-" in lines[i + 1] and bool(_TABLE_SEP.match(lines[i + 1]))


def _split_row(line: str) -> list[str]:
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells = re.split(r"(?<!\\)\|", row)
    return [c.strip().replace("\\|", "|") for c in cells]


def _blocks(lines: list[str], offset: int) -> Iterator[str]:
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            marker, lang = fence.group(1), fence.group(2)
            body = []
            i += 1
            while i < n and not (
                lines[i].strip().startswith(marker[0] * len(marker)) and not lines[i].strip().strip(marker[0])
            ):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end of the document)
            cls = f' class="language-{html.escape(lang, quote=True)}"' if lang else ""
            yield f"<pre><code{cls}>{html.escape(chr(10).join(body), quote=True)}</code></pre>"
            continue
        if line.startswith("    ") or line.startswith("\t"):
            body = []
            while i < n and (lines[i].startswith("    ") or lines[i].startswith("\t") or not lines[i].strip()):
                body.append(lines[i][4:] if lines[i].startswith("    ") else lines[i][1:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            yield f"<pre><code>{html.escape(chr(10).join(body), quote=True)}</code></pre>"
            continue
        heading = _HEADING.match(line)
        if heading:
            level = min(6, len(heading.group(1)) + offset)
            yield f"<h{level}>{inline(heading.group(2) or '')}</h{level}>"
            i += 1
            continue
        if _RULE.match(line):
            yield "<hr>"
            i += 1
            continue
        if _QUOTE.match(line):
            body = []
            while i < n and lines[i].strip() and (_QUOTE.match(lines[i]) or not _is_block_start(lines[i])):
                q = _QUOTE.match(lines[i])
                body.append(q.group(1) if q else lines[i])
                i += 1
            yield "<blockquote>" + "".join(_blocks(body, offset)) + "</blockquote>"
            continue
        for pattern, tag in ((_BULLET, "ul"), (_ORDERED, "ol")):
            opener = pattern.match(line)
            if opener:
                items: list[list[str]] = []
                while i < n:
                    m = pattern.match(lines[i])
                    if m:
                        items.append([m.group(2)])
                    elif lines[i].strip() and (lines[i].startswith(" ") or lines[i].startswith("\t")) and items:
                        items[-1].append(lines[i].strip())
                    elif lines[i].strip() and items and not _is_block_start(lines[i]) and lines[i - 1].strip():
                        items[-1].append(lines[i].strip())  # a lazy continuation line
                    else:
                        break
                    i += 1
                start = ""
                if tag == "ol":
                    first = int(opener.group(1))
                    start = f' start="{first}"' if first != 1 else ""
                yield f"<{tag}{start}>" + "".join(f"<li>{inline(chr(10).join(it))}</li>" for it in items) + f"</{tag}>"
                break
        else:
            if _table_start(lines, i):
                header = _split_row(line)
                rows = []
                i += 2
                while i < n and lines[i].strip() and "|" in lines[i]:
                    rows.append(_split_row(lines[i]))
                    i += 1
                head = "".join(f'<th scope="col">{inline(c)}</th>' for c in header)
                tbody = "".join(
                    "<tr>"
                    + "".join(f"<td>{inline(c)}</td>" for c in (row + [""] * len(header))[: len(header)])
                    + "</tr>"
                    for row in rows
                )
                yield f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{tbody}</tbody></table></div>'
                continue
            para: list[str] = []
            while (
                i < n and lines[i].strip() and (not para or not (_is_block_start(lines[i]) or _table_start(lines, i)))
            ):
                para.append(lines[i].strip())
                i += 1
            yield f"<p>{inline(chr(10).join(para))}</p>"
        continue


def render(text: str, *, heading_offset: int = 0) -> str:
    """Markdown to safe HTML (a string to mark safe in a template)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    return "\n".join(_blocks(text.split("\n"), heading_offset))
