"""Workbooks (.xlsx, .xlsm, .xlsb, .xls, .ods): one table per worksheet, read as stored values (a formula's
last computed result) by python-calamine (Rust's calamine), which reads every one of these formats itself.

Chosen over openpyxl (7 times slower on a 20,000-row sheet, .xlsx only) and over converting .xls and .ods with
LibreOffice (about 1 s a file against 1 ms): benchmarks/reader_candidates.py, figures in the README."""

from __future__ import annotations

import io

from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum

from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult
from freshrag.parsing.packages import encrypted_ooxml, is_ole, refuse_package
from freshrag.parsing.tables import table_sections


def parse_workbook(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    # An OLE file is a .xls, or an OOXML workbook a password encrypted; the rest are zip packages.
    refused = encrypted_ooxml(data, "a workbook") if is_ole(data) else refuse_package(data, "a workbook")
    if refused is not None:
        return refused
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError:
        return Failed("encrypted workbook: a password is required to read it")
    except (CalamineError, ValueError) as exc:
        return Failed(f"damaged or not a workbook: {exc}")
    try:
        sections = [
            section
            for sheet in workbook.sheets_metadata
            if sheet.typ == SheetTypeEnum.WorkSheet
            for section in table_sections(sheet.name, workbook.get_sheet_by_name(sheet.name).iter_rows())
        ]
    except (CalamineError, ValueError) as exc:
        return Failed(f"damaged workbook: {exc}")
    finally:
        workbook.close()
    return ParsedDocument(title=fallback_title, sections=sections)
