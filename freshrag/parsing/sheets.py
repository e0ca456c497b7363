"""Spreadsheets (.xlsx, .xlsm): one table per sheet, read as stored values (the last computed result of a
formula), streamed row by row (openpyxl's read-only mode) so a big sheet never sits in memory whole."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult
from freshrag.parsing.packages import encrypted_ooxml, refuse_package
from freshrag.parsing.tables import table_sections


def parse_xlsx(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    refused = encrypted_ooxml(data, "a workbook") or refuse_package(data, "a .xlsx workbook")
    if refused is not None:
        return refused
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        return Failed(f"not a valid workbook (a part Excel writes is missing or damaged): {exc}")
    try:
        sections = [
            section
            for sheet in workbook.worksheets
            for section in table_sections(sheet.title, sheet.iter_rows(values_only=True))
        ]
        title = (workbook.properties.title or "").strip() if workbook.properties else ""
    finally:
        workbook.close()
    return ParsedDocument(title=title or fallback_title, sections=sections)
