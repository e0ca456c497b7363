"""The parsers of slides, sheets, delimited text, e-mail and e-books, called in this process on files the
libraries that write them made: what each keeps (headings, rows with their columns, attachments) and how
each refuses what it cannot read. OCR and LibreOffice conversions are tested in
tests/integration/test_file_formats.py."""

from __future__ import annotations

import pytest

from freshrag.parsing import Failed, ParsedDocument, ParseOptions, ParseResult
from freshrag.parsing.delimited import parse_csv, parse_tsv
from freshrag.parsing.epub import parse_epub
from freshrag.parsing.mail import parse_eml, parse_msg
from freshrag.parsing.packages import MAX_UNCOMPRESSED_BYTES, refuse_package
from freshrag.parsing.sheets import parse_workbook
from freshrag.parsing.slides import parse_pptx
from freshrag.parsing.tables import ROWS_PER_SECTION
from freshrag.reasons import REASON_KINDS, reason_kind
from tests.file_samples import docx_bytes, eml_bytes, epub_bytes, pptx_bytes, xlsx_bytes, zip_bomb

OPTIONS = ParseOptions()


def parsed(result: ParseResult) -> ParsedDocument:
    assert isinstance(result, ParsedDocument), result
    return result


def test_a_slide_is_a_section_headed_by_its_title_with_its_notes() -> None:
    data = pptx_bytes(
        "Quarterly tide tables", "Spring tides peak on the equinox.", "Mention the ferry delays."
    )
    document = parsed(parse_pptx(data, "deck", OPTIONS))
    assert [section.heading for section in document.sections] == [("Quarterly tide tables",)]
    text = document.sections[0].text
    assert "Spring tides peak on the equinox." in text
    assert "Notes: Mention the ferry delays." in text
    assert "Quarterly tide tables" not in text  # the title is the heading, not repeated in the body


def test_each_row_names_its_columns_and_long_sheets_come_in_row_groups() -> None:
    rows: list[list[object]] = [["Item", "Serial", "Count"]]
    rows += [[f"Crane {n}", f"QX-{n:04d}", n * 2.0] for n in range(1, 251)]
    document = parsed(parse_workbook(xlsx_bytes(rows), "inventory", OPTIONS))
    headings = [section.heading for section in document.sections]
    assert headings[0] == ("Summary",)
    assert headings[1:] == [
        ("Inventory", "rows 2-101"),
        ("Inventory", "rows 102-201"),
        ("Inventory", "rows 202-251"),
    ]
    group = document.sections[1].text.split("\n\n")
    assert len(group) == ROWS_PER_SECTION
    assert "Item: Crane 7; Serial: QX-0007; Count: 14" in group  # a whole float reads as an integer


def test_a_caption_above_the_header_is_kept_as_text() -> None:
    document = parsed(
        parse_workbook(xlsx_bytes([["Harbour fees"], ["Berth", "Fee"], ["North", 12]]), "x", OPTIONS)
    )
    assert document.sections[1].text == "Harbour fees\n\nBerth: North; Fee: 12"


@pytest.mark.parametrize(
    ("parser", "data"),
    [
        (parse_csv, b"Berth;Fee;Warden\nNorth;12;Ada\nSouth;9;Grace\n"),
        (parse_csv, "Berth,Fee,Warden\r\nNorth,12,Ada\r\nSouth,9,Grace\r\n".encode("utf-16")),
        (parse_tsv, b"Berth\tFee\tWarden\nNorth\t12\tAda\nSouth\t9\tGrace\n"),
    ],
)
def test_delimited_text_rows_name_their_columns(parser: object, data: bytes) -> None:
    document = parsed(parser(data, "fees", OPTIONS))  # type: ignore[operator]
    assert (
        document.sections[0].text
        == "Berth: North; Fee: 12; Warden: Ada\n\nBerth: South; Fee: 9; Warden: Grace"
    )


def test_an_email_keeps_subject_people_date_body_and_attached_documents() -> None:
    attachment = docx_bytes("Mooring plan", "Buoy eleven moves to the east channel.")
    data = eml_bytes("Harbour closure", "The north pier closes on Friday.", "plan.docx", attachment)
    document = parsed(parse_eml(data, "mail", OPTIONS))
    assert document.title == "Harbour closure"
    header, body, attached = document.sections
    assert header.text.splitlines() == [
        "From: Ada Keeper <ada@example.org>",
        "To: crew@example.org",
        "Date: Tue, 01 Dec 2026 09:30:00 +0000",
    ]
    assert body.text == "The north pier closes on Friday."  # the plain part, not the HTML one too
    assert attached.heading == ("attachment: plan.docx", "Mooring plan")
    assert attached.text == "Buoy eleven moves to the east channel."


def test_an_attachment_freshrag_cannot_read_is_noted_not_fatal() -> None:
    data = eml_bytes("Logs", "See the archive.", "logs.7z", b"7z\xbc\xaf\x27\x1c")
    document = parsed(parse_eml(data, "mail", OPTIONS))
    assert document.notes == ("attachment logs.7z not read: '.7z' files are not read",)


def test_an_epub_chapter_is_headed_by_its_heading() -> None:
    data = epub_bytes([("The Tide Turns", "Low water at noon."), ("Lanterns", "Lit at dusk.")])
    document = parsed(parse_epub(data, "book", OPTIONS))
    assert document.title == "Tides and Lanterns"
    chapters = [(s.heading, s.text) for s in document.sections if s.heading]
    assert (("The Tide Turns",), "Low water at noon.") in chapters
    assert (("Lanterns",), "Lit at dusk.") in chapters


@pytest.mark.parametrize("parser", [parse_pptx, parse_workbook, parse_epub])
def test_zip_bombs_are_refused_from_the_directory(parser: object) -> None:
    result = parser(zip_bomb(inflated_mib=MAX_UNCOMPRESSED_BYTES // 2**20 + 1), "bomb", OPTIONS)  # type: ignore[operator]
    assert isinstance(result, Failed)
    assert result.reason.startswith("zip bomb refused")


@pytest.mark.parametrize("parser", [parse_pptx, parse_workbook, parse_epub])
def test_what_is_not_a_zip_package_is_failed_naming_the_type(parser: object) -> None:
    result = parser(b"PK\x03\x04 not really", "x", OPTIONS)  # type: ignore[operator]
    assert isinstance(result, Failed)
    assert "zip package" in result.reason


def test_a_msg_that_is_not_an_ole_file_is_never_taken_for_a_path() -> None:
    result = parse_msg(b"/etc/passwd", "x", OPTIONS)
    assert result == Failed("damaged or not an Outlook .msg file (no OLE compound file header)")


def test_a_small_package_passes_the_guard() -> None:
    assert refuse_package(docx_bytes("A", "b"), "a .docx file") is None


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("unsupported file type: '.zip' files are not indexed (supported: ...)", "unsupported type"),
        ("no extractable text (empty, whitespace only, or images without a text layer)", "no text"),
        ("no text layer, and OCR found no text on 1 of its 1 pages", "no text"),
        ("encrypted workbook: a password is required to read it", "encrypted"),
        (
            "reading .doc files needs LibreOffice: install the Debian package libreoffice-writer-nogui",
            "missing program",
        ),
        ("zip bomb refused: its parts inflate to 300 MiB, over 256 MiB", "too large"),
        ("file is 60,000,000 bytes, over the limit of 50,000,000 (FRESHRAG_MAX_FILE_BYTES)", "too large"),
        ("parser exceeded 60 s", "time limit"),
        ("parser exceeded 1024 MiB", "memory limit"),
        ("parser crashed (signal 11, SIGSEGV)", "parser crashed"),
        ("damaged or not a PDF: Data format error", "damaged"),
        ("symbolic link loop", "not a regular file"),
        ("permission denied: freshrag cannot read this file", "unreadable"),
        ("something new", "other"),
    ],
)
def test_reasons_fall_into_a_few_kinds(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind
    assert kind in REASON_KINDS


def test_an_empty_table_has_no_sections_so_parse_file_skips_it() -> None:
    assert parsed(parse_csv(b"", "empty", OPTIONS)).sections == []
    assert parsed(parse_csv(b"\n\n;;\n", "blank", OPTIONS)).sections == []
