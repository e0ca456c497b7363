"""HTML: visible text only (no scripts, styles or navigation), sections split at h1-h6 (selectolax/lexbor)."""

from __future__ import annotations

import re

from freshrag.decoding import UndecodableError, decode_text
from freshrag.html_text import drop_invisible, parse_bounded, tidy
from freshrag.parsing.model import ParsedDocument, ParseOptions, ParseResult, Section, Skipped

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BLOCKS = (
    "p, div, li, ul, ol, tr, table, section, article, aside, header, footer, main, blockquote, pre, "
    "dd, dt, dl, figure, figcaption, form, fieldset, address, hr"
)
_HEADINGS = "h1, h2, h3, h4, h5, h6"
# Private-use markers survive text extraction and cannot occur in real headings we keep.
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"


def parse_html(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    declared = _META_CHARSET.search(data[:4096])
    try:
        markup = decode_text(data, declared.group(1).decode("ascii") if declared else None)
    except UndecodableError as exc:
        return Skipped(f"binary content: {exc}")
    tree = parse_bounded(markup)  # nesting bounded: a deeply nested file costs linear time, not quadratic
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    drop_invisible(tree)
    for node in tree.css(_HEADINGS):
        level = (node.tag or "h1")[1]
        heading = " ".join(node.text(separator=" ").split())
        node.replace_with(f"\n\n{_MARK_OPEN}{level}{heading}{_MARK_CLOSE}\n\n")
    for node in tree.css("br"):
        node.replace_with("\n")
    for node in tree.css(_BLOCKS):
        node.insert_after("\n\n")
    body = tree.body if tree.body is not None else tree.root
    text = body.text(separator="") if body is not None else ""
    return ParsedDocument(title=title or _first_heading(text) or fallback_title, sections=_sections(text))


def _first_heading(text: str) -> str:
    match = re.search(f"{_MARK_OPEN}\\d(.*?){_MARK_CLOSE}", text)
    return match.group(1) if match else ""


def _sections(text: str) -> list[Section]:
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    parts = re.split(f"{_MARK_OPEN}(\\d)(.*?){_MARK_CLOSE}", text)
    sections.append(Section(heading=(), text=tidy(parts[0])))
    for index in range(1, len(parts), 3):
        level, name, body = int(parts[index]), parts[index + 1], parts[index + 2]
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, name))
        sections.append(Section(heading=tuple(n for _, n in path), text=tidy(body)))
    return [section for section in sections if section.text]
