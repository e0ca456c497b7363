"""E-books (.epub): the chapters in reading order (the spine), each read as HTML with its own headings; a
chapter without one is headed by its table-of-contents entry (EbookLib)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from typing import Any

import ebooklib
from ebooklib import epub

from freshrag.parsing.html import parse_html
from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult, Section
from freshrag.parsing.packages import refuse_package


def parse_epub(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    refused = refuse_package(data, "an .epub e-book")
    if refused is not None:
        return refused
    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except (epub.EpubException, zipfile.BadZipFile, KeyError, ValueError, AttributeError) as exc:
        return Failed(f"not a valid .epub e-book (its package or a chapter is missing or damaged): {exc}")
    toc = dict(_toc_entries(book.toc))
    sections: list[Section] = []
    for item_id, _ in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        chapter = parse_html(item.get_content(), "", options)
        if not isinstance(chapter, ParsedDocument):
            continue
        name = toc.get(item.get_name(), "") or chapter.title
        for section in chapter.sections:
            heading = section.heading or ((name,) if name else ())
            sections.append(Section(heading=heading, text=section.text))
    title = str(book.title or "").strip()
    return ParsedDocument(title=title or fallback_title, sections=sections)


def _toc_entries(entries: Iterable[Any]) -> Iterable[tuple[str, str]]:
    """(file name, title) of each table-of-contents entry, nested ones included, first entry per file."""
    seen: set[str] = set()
    stack = list(entries)[::-1]
    while stack:
        entry = stack.pop()
        if isinstance(entry, tuple | list) and len(entry) == 2:  # (section, children)
            section, children = entry
            stack.extend(list(children)[::-1])
            entry = section
        href = str(getattr(entry, "href", "") or "").partition("#")[0]
        title = str(getattr(entry, "title", "") or "").strip()
        if href and title and href not in seen:
            seen.add(href)
            yield href, title
