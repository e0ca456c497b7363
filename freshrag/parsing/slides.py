"""Slides (.pptx): one section per slide, its title as the heading, then its text boxes, tables and speaker
notes (python-pptx)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.exc import PackageNotFoundError

from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult, Section
from freshrag.parsing.packages import encrypted_ooxml, refuse_package


def parse_pptx(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    refused = encrypted_ooxml(data, "a .pptx file") or refuse_package(data, "a .pptx file")
    if refused is not None:
        return refused
    try:
        presentation = Presentation(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        return Failed(f"not a valid .pptx file (a part PowerPoint writes is missing or damaged): {exc}")
    sections = []
    first_title = ""
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        first_title = first_title or title
        paragraphs = [text for shape in slide.shapes if shape != title_shape for text in _texts(shape)]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                paragraphs.append(f"Notes: {notes}")
        sections.append(Section(heading=(title or f"slide {number}",), text="\n\n".join(paragraphs)))
    title = (presentation.core_properties.title or "").strip() or first_title or fallback_title
    return ParsedDocument(title=title, sections=[s for s in sections if s.text.strip()])


def _texts(shape: Any) -> Iterator[str]:
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        yield from (text for inner in shape.shapes for text in _texts(inner))
    elif getattr(shape, "has_table", False) and shape.has_table:
        yield "\n".join(_row(cell.text for cell in row.cells) for row in shape.table.rows)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        text = shape.text_frame.text.strip()
        if text:
            yield text


def _row(cells: Iterable[str]) -> str:
    return " | ".join(" ".join(cell.split()) for cell in cells)
