"""What parser processes answer is checked data, never code; the parse limits come from the settings."""

from __future__ import annotations

import pytest

from freshrag.parsing import Failed, ParsedDocument, ParseLimits, ParseOptions, Section, Skipped
from freshrag.parsing.pdf import parse_pdf
from freshrag.parsing.protocol import (
    ProtocolError,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
    parser_reference,
    resolve_parser,
)
from freshrag.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    "result",
    [
        ParsedDocument(title="T", sections=[Section(("A", "B"), "text \udcff kept"), Section((), "")]),
        ParsedDocument(title="empty"),
        ParsedDocument(title="scan", sections=[Section(("page 1",), "read")], parser="pdf", ocr_pages=1),
        ParsedDocument(title="mail", parser="eml", notes=("attachment a.zip not read",)),
        Skipped("no text layer"),
        Failed("parser crashed (signal 11, SIGSEGV)"),
    ],
)
def test_results_survive_the_trip(result: ParsedDocument | Skipped | Failed) -> None:
    assert decode_result(encode_result(result, retire=True)) == (result, True)


@pytest.mark.parametrize(
    "message",
    [
        b"\x80\x04\x95 pickle",
        b"[]",
        b'{"kind": "parsed", "title": "t", "sections": [[["h"], 3]], "retire": false}',
        b'{"kind": "failed", "retire": false}',
        b'{"kind": "exec", "reason": "x", "retire": false}',
        b'{"kind": "skipped", "reason": "x"}',
    ],
)
def test_anything_else_is_refused(message: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_result(message)


def test_parsers_travel_by_name() -> None:
    reference = parser_reference(parse_pdf)
    assert reference == "freshrag.parsing.pdf:parse_pdf"
    assert resolve_parser(reference) is parse_pdf
    options = ParseOptions(ocr_languages="eng+deu", ocr_max_pages=3, seconds=9.5)
    assert decode_request(encode_request(reference, "title", options)) == (reference, "title", options)
    with pytest.raises(ValueError, match="module-level"):
        parser_reference(lambda data, title: Skipped("x"))


def test_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ParseLimits.from_settings(load_settings()) == ParseLimits(60.0, 1024, 2)
    monkeypatch.setenv("FRESHRAG_PARSE_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("FRESHRAG_PARSE_MEMORY_MB", "512")
    monkeypatch.setenv("FRESHRAG_PARSE_WORKERS", "4")
    monkeypatch.setenv("FRESHRAG_OCR_LANGUAGES", "eng+deu")
    monkeypatch.setenv("FRESHRAG_OCR_MAX_PAGES", "3")
    limits = ParseLimits.from_settings(load_settings())
    assert limits == ParseLimits(5.0, 512, 4, ocr_languages="eng+deu", ocr_max_pages=3)
    assert limits.memory_bytes == 512 * 2**20
    assert limits.options == ParseOptions("eng+deu", 3, seconds=4.0)  # OCR and converters end first
    monkeypatch.setenv("FRESHRAG_OCR_LANGUAGES", "eng; rm -rf /")
    with pytest.raises(SettingsError, match="FRESHRAG_OCR_LANGUAGES"):
        load_settings()
    monkeypatch.setenv("FRESHRAG_OCR_LANGUAGES", "eng")
    monkeypatch.setenv("FRESHRAG_PARSE_MEMORY_MB", "64")  # less than the parsers' code needs
    with pytest.raises(SettingsError, match="FRESHRAG_PARSE_MEMORY_MB"):
        load_settings()
