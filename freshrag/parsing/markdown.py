"""Markdown: sections split at headings (markdown-it-py finds them, so '#' inside code blocks is not one)."""

from __future__ import annotations

from markdown_it import MarkdownIt

from freshrag.decoding import UndecodableError, decode_text
from freshrag.parsing.model import ParsedDocument, ParseOptions, ParseResult, Section, Skipped
from freshrag.parsing.text import normalise_newlines

_MD = MarkdownIt("commonmark")


def _strip_front_matter(lines: list[str]) -> list[str]:
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() in ("---", "..."):
                return [""] * (index + 1) + lines[index + 1 :]
    return lines


def parse_markdown(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    try:
        text = normalise_newlines(decode_text(data))
    except UndecodableError as exc:
        return Skipped(f"binary content: {exc}")
    lines = _strip_front_matter(text.split("\n"))
    tokens = _MD.parse("\n".join(lines))
    # (line where the heading starts, line after it, level, heading text)
    headings: list[tuple[int, int, int, str]] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            inline = tokens[index + 1]
            headings.append((token.map[0], token.map[1], int(token.tag[1]), inline.content.strip()))

    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    title = next((name for _, _, level, name in headings if level == 1), "") or fallback_title
    preamble_end = headings[0][0] if headings else len(lines)
    sections.append(Section(heading=(), text="\n".join(lines[:preamble_end])))
    for position, (_, body_start, level, name) in enumerate(headings):
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, name))
        body_end = headings[position + 1][0] if position + 1 < len(headings) else len(lines)
        sections.append(
            Section(heading=tuple(n for _, n in path), text="\n".join(lines[body_start:body_end]))
        )
    return ParsedDocument(title=title, sections=[s for s in sections if s.text.strip()])
