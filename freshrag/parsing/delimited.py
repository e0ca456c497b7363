"""Delimited text (.csv, .tsv): one table, decoded whatever its encoding; a .csv's delimiter is sniffed
(comma, semicolon, tab, pipe), a .tsv's is a tab."""

from __future__ import annotations

import contextlib
import csv

from freshrag.decoding import UndecodableError, decode_text
from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult, Skipped
from freshrag.parsing.tables import table_sections
from freshrag.parsing.text import normalise_newlines

_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024
# csv's own default (128 KiB) fails on real exports with long free-text cells; 16 MiB still bounds a row.
csv.field_size_limit(16 * 2**20)


def parse_csv(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    return _parse(data, fallback_title, tab_separated=False)


def parse_tsv(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    return _parse(data, fallback_title, tab_separated=True)


def _parse(data: bytes, fallback_title: str, *, tab_separated: bool) -> ParseResult:
    try:
        text = normalise_newlines(decode_text(data))
    except UndecodableError as exc:
        return Skipped(f"binary content: {exc}")
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab if tab_separated else csv.excel
    if not tab_separated:
        with contextlib.suppress(csv.Error):  # one column, or too irregular to tell: commas
            dialect = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS)
    try:
        sections = table_sections("", csv.reader(text.split("\n"), dialect))
    except csv.Error as exc:
        return Failed(f"not readable as delimited text: {exc}")
    return ParsedDocument(title=fallback_title, sections=sections)
