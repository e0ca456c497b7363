"""DOCX: paragraphs and tables in document order, sections split at Heading styles (python-docx)."""

from __future__ import annotations

import io
import zipfile

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult, Section
from freshrag.parsing.packages import encrypted_ooxml, refuse_package


def _heading_level(paragraph: Paragraph, names: dict[str | None, str]) -> int | None:
    # python-docx resolves a paragraph's style by scanning every style (1 ms each in a long handbook): once
    # per style id is enough. `_p.style` is the id the paragraph names (None: the default style).
    style_id = paragraph._p.style
    if style_id not in names:
        style = paragraph.style
        names[style_id] = (style.name or "") if style is not None else ""
    name = names[style_id]
    if name == "Title":
        return 0
    if name.startswith("Heading"):
        digits = name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def _table_text(table: Table) -> str:
    rows = []
    for row in table.rows:
        cells = [cell.text.strip() for cell in row.cells]
        rows.append(" | ".join(cells))
    return "\n".join(rows)


def parse_docx(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    refused = encrypted_ooxml(data, "a .docx file") or refuse_package(data, "a .docx file")
    if refused is not None:
        return refused
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return Failed(f"not a valid .docx file (it is not the zip package Word writes): {exc}")
    title = (document.core_properties.title or "").strip()
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []
    style_names: dict[str | None, str] = {}

    def flush() -> None:
        sections.append(Section(heading=tuple(n for _, n in path), text="\n\n".join(body).strip()))
        body.clear()

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            body.append(_table_text(block))
            continue
        level = _heading_level(block, style_names)
        text = block.text.strip()
        if level is None or not text:
            if text:
                body.append(text)
            continue
        flush()
        if level == 0:
            title = title or text
            continue
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, text))
    flush()
    return ParsedDocument(title=title or fallback_title, sections=[s for s in sections if s.text])
