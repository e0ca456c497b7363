"""Every file type a team keeps, through the real pipeline (parser processes, OCR, LibreOffice, the model,
embedded Qdrant): one folder holding one file of each new type, indexed once for the whole module, then a
search for a phrase found only inside each file gets that file first. Then the bad inputs: a corrupt file of
each new type, zip bombs disguised as OOXML and EPUB, and a 10,000-page image-only PDF, each ending failed or
skipped with its reason within the parser's limits while another file is parsed beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from freshrag.documents import DocStatus, DocumentRecord
from freshrag.embedding import SentenceTransformerEmbedder
from freshrag.parsing import Failed, ParsedDocument, ParseLimits, ParserPool, Skipped, parse_file
from freshrag.reconcile import folder_changes
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import load_settings
from freshrag.sources import IgnoreRules, WatchedFolder
from freshrag.status import collect_status
from services.api.app import create_app
from tests.file_samples import (
    converted,
    corrupt,
    docx_bytes,
    eml_bytes,
    image_pdf_bytes,
    multipage_tiff,
    pptx_bytes,
    text_image_png,
    xlsx_bytes,
    zip_bomb,
)

SHARED = {
    "fake-power-point.pptx": "other/fake-power-point.pptx",
    "winter-sports.epub": "other/winter-sports.epub",
    "fake-doc.rtf": "other/fake-doc.rtf",
    "simple.odt": "other/simple.odt",
    "fake-email.eml": "other/fake-email.eml",
    "loremipsum-scan.pdf": "awkward/scanned-image-only_loremipsum-flat.pdf",
    "password_protected.xlsx": "awkward/password_protected.xlsx",  # failed: encrypted
    "empty.eml": "awkward/empty.eml",  # skipped: no text
}
LEDGER = [["Item", "Serial", "Count"]] + [[f"Crane {n}", f"QX-{n:04d}", n] for n in range(1, 251)]
STOCK = [["Part", "Grade", "Supplier"], ["Anchor chain", "U3", "Hollis and Vane"], ["Bollard", "S2", "Marsh"]]

# file: the query that must find it first
QUERIES = {
    "fake-power-point.pptx": "Use _TextFrame.add_paragraph() for subsequent bullets",
    "deck.pptx": "ferry timetable changes in January",
    "winter-sports.epub": "a silly proverb which mistakenly tells us that seeing is believing",
    "fake-doc.rtf": "My First Heading, my first paragraph",
    "simple.odt": "a few of my favorite things: parrots and hockey",
    "fake-email.eml": "Roses are red, violets are blue",
    "closure.eml": "the north pier closes on Friday for storm repairs",
    "ledger.xlsx": "Crane 137 serial QX-0137",
    "fees.csv": "Ebenezer Marlowe warden fee",
    "minutes.doc": "harbour board approved the dredging budget of forty thousand crowns",
    "stock.xls": "Hollis and Vane anchor chain supplier",
    "briefing.ppt": "inspect the whistle buoys off Gannet Rock",
    "tolls.ods": "Lantern toll for the Saltmarsh canal",
    "survey.odp": "the seal colony on Puffin Skerry",
    "keeper.png": "lighthouse keeper logs every passing schooner",
    "loremipsum-scan.pdf": "Curabitur eget lacus sollicitudin, accumsan metus id, dictum ipsum",
}


@dataclass
class Indexed:
    runtime: Runtime
    folder: WatchedFolder

    def record(self, name: str) -> DocumentRecord:
        record = self.runtime.store.get_record(self.folder.change_for(name).doc_id)
        assert record is not None, name
        return record


def _made_files() -> dict[str, Callable[[], bytes]]:
    return {
        "deck.pptx": lambda: pptx_bytes(
            "Ferries",
            "Spring tides peak at the northern breakwater.",
            "Mention the ferry timetable changes in January.",
        ),
        "closure.eml": lambda: eml_bytes(
            "Harbour closure",
            "The north pier closes on Friday for storm repairs.",
            "plan.docx",
            docx_bytes("Mooring plan", "Buoy eleven moves to the east channel beside the old customs house."),
        ),
        "ledger.xlsx": lambda: xlsx_bytes(LEDGER),
        "fees.csv": lambda: (
            b"Berth,Fee,Warden\nLighthouse Quay,42,Ebenezer Marlowe\nFish Dock,7,Grace Pell\n"
        ),
        "minutes.doc": lambda: converted(
            docx_bytes(
                "Board minutes", "The harbour board approved the dredging budget of forty thousand crowns."
            ),
            ".docx",
            "doc",
        ),
        "stock.xls": lambda: converted(xlsx_bytes(STOCK, "Stock"), ".xlsx", "xls"),
        "briefing.ppt": lambda: converted(
            pptx_bytes(
                "Winter buoy inspection", "Inspect the whistle buoys off Gannet Rock.", "Take the launch."
            ),
            ".pptx",
            "ppt",
        ),
        "tolls.ods": lambda: converted(
            xlsx_bytes([["Toll", "Canal", "Price"], ["Lantern toll", "Saltmarsh canal", 3]], "Tolls"),
            ".xlsx",
            "ods",
        ),
        "survey.odp": lambda: converted(
            pptx_bytes("Bird survey", "Count the seal colony on Puffin Skerry.", "Weather permitting."),
            ".pptx",
            "odp",
        ),
        "keeper.png": lambda: text_image_png(
            ["The lighthouse keeper logs every passing schooner", "in the ledger kept since 1887."]
        ),
    }


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory,
    models_dir: Path,
    embedder: SentenceTransformerEmbedder,
    shared_data: Path,
) -> Iterator[Indexed]:
    root = tmp_path_factory.mktemp("formats")
    inbox = root / "inbox"
    inbox.mkdir()
    for name, relative in SHARED.items():
        (inbox / name).write_bytes((shared_data / "files" / relative).read_bytes())
    made = {name: make for name, make in _made_files().items() if name in QUERIES}
    with ThreadPoolExecutor(2) as threads:  # LibreOffice conversions, each with a profile of its own
        for name, data in zip(made, threads.map(lambda make: make(), made.values()), strict=True):
            (inbox / name).write_bytes(data)
    settings = load_settings(
        data_dir=root / "data",
        model_cache_dir=models_dir,
        reconcile_interval_seconds=0,
        canary_interval_seconds=0,
        drift_interval_seconds=0,
    )
    runtime = build_runtime(settings, embedder=embedder)
    folder = WatchedFolder.of(inbox)
    with ThreadPoolExecutor(2) as threads:
        list(threads.map(runtime.indexer.apply, folder_changes(runtime.store, folder, IgnoreRules())))
    yield Indexed(runtime, folder)
    runtime.close()


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_a_phrase_found_only_inside_a_file_finds_that_file_first(indexed: Indexed, name: str) -> None:
    record = indexed.record(name)
    assert record.status is DocStatus.INDEXED, (name, record.reason)
    results = indexed.runtime.search.search(QUERIES[name], 5).results
    assert [Path(hit.uri).name for hit in results][:1] == [name], [
        (Path(h.uri).name, h.text[:60]) for h in results
    ]


def test_an_attached_document_is_found_through_its_message(indexed: Indexed) -> None:
    results = indexed.runtime.search.search("Buoy eleven moves to the east channel", 3).results
    assert Path(results[0].uri).name == "closure.eml"
    assert "beside the old customs house" in results[0].text


def test_the_row_a_search_finds_names_its_columns(indexed: Indexed) -> None:
    top = indexed.runtime.search.search("Crane 137 serial QX-0137", 1).results[0]
    assert "Item: Crane 137; Serial: QX-0137; Count: 137" in top.text


def test_documents_say_which_parser_read_them_and_whether_ocr_did(indexed: Indexed) -> None:
    with TestClient(create_app(indexed.runtime)) as client:
        scan = client.get(f"/documents/{indexed.record('loremipsum-scan.pdf').doc_id}").json()
        sheet = client.get(f"/documents/{indexed.record('stock.xls').doc_id}").json()
        image = client.get(f"/documents/{indexed.record('keeper.png').doc_id}").json()
    assert (scan["parser"], scan["ocr_pages"]) == ("pdf: pypdfium2 + Tesseract OCR", 1)
    assert (sheet["parser"], sheet["ocr_pages"]) == ("xls: python-calamine", 0)
    assert (image["parser"], image["ocr_pages"]) == ("image: Pillow + Tesseract OCR", 1)


def test_what_is_not_indexed_is_counted_by_kind_of_reason(indexed: Indexed) -> None:
    assert indexed.record("password_protected.xlsx").status is DocStatus.FAILED
    assert collect_status(indexed.runtime)["problems_by_reason"] == {"encrypted": 1, "no text": 1}
    registry = indexed.runtime.metrics.registry
    counted = {
        (status, reason): registry.get_sample_value(
            "freshrag_not_indexed_total", {"status": status, "reason": reason}
        )
        for status, reason in (("failed", "encrypted"), ("skipped", "no text"), ("failed", "damaged"))
    }
    assert counted == {("failed", "encrypted"): 1, ("skipped", "no text"): 1, ("failed", "damaged"): 0}


def test_parse_time_is_observed_by_format(indexed: Indexed) -> None:
    registry = indexed.runtime.metrics.registry
    for fmt in (
        "pptx",
        "xlsx",
        "csv",
        "eml",
        "epub",
        "rtf",
        "odt",
        "doc",
        "xls",
        "ppt",
        "ods",
        "odp",
        "image",
    ):
        count = registry.get_sample_value("freshrag_parse_seconds_count", {"format": fmt})
        assert count, fmt


# Bad input: each through a parser pool with small limits, beside a good file.

LIMITS = ParseLimits(timeout_seconds=30.0, memory_mb=768, workers=2, ocr_max_pages=2)
GOOD = b"Berth,Fee\nNorth,12\n"


def bad_inputs() -> dict[str, bytes]:
    deck = pptx_bytes("T", "Body", "Notes")
    sheet = xlsx_bytes([["A", "B"], [1, 2]])
    mail = eml_bytes("S", "Body", "a.docx", docx_bytes("H", "P"))
    return {
        "broken.pptx": corrupt(deck),
        "broken.xlsx": corrupt(sheet),
        "broken.xlsm": deck[:200],
        "broken.epub": b"PK\x03\x04" + bytes(300),
        "broken.msg": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000),
        "broken.doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"garbage" * 300,
        "broken.xls": b"not an excel file at all",
        "broken.ppt": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000),
        "broken.rtf": b"{\\rtf1 \\b unterminated",
        "broken.odt": corrupt(sheet),
        "broken.ods": b"PK\x05\x06" + bytes(18),
        "broken.odp": b"",
        "broken.png": b"\x89PNG\r\n\x1a\n" + bytes(100),
        "broken.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 50,
        "broken.tiff": b"II*\x00" + bytes(20),
        "broken.eml": mail[: len(mail) // 2] + b"\x00\xff" * 50,
        "broken.csv": b"\x89PNG\r\n\x1a\n" + bytes(3000),  # an image renamed
    }


def test_a_corrupt_file_of_each_new_type_is_failed_or_skipped_with_a_reason() -> None:
    with ParserPool(LIMITS) as pool, ThreadPoolExecutor(2) as threads:
        cases = bad_inputs()
        results = dict(
            zip(cases, threads.map(lambda item: parse_file(*item, pool), cases.items()), strict=True)
        )
        assert isinstance(parse_file("good.csv", GOOD, pool), ParsedDocument)  # the pool still serves
    for name, result in results.items():
        # A broken e-mail may still hold readable headers: read what is there, never crash.
        if isinstance(result, ParsedDocument):
            assert name == "broken.eml", (name, result)
            continue
        assert isinstance(result, Failed | Skipped), (name, result)
        assert result.reason, name
        assert "parser crashed" not in result.reason, (name, result)
        assert "exceeded" not in result.reason, (name, result)


@pytest.mark.parametrize("name", ["budget.xlsx", "letter.docx", "novel.epub", "deck.pptx"])
def test_a_zip_bomb_is_refused_before_it_inflates_while_other_files_go_on(name: str) -> None:
    bomb = zip_bomb(inflated_mib=300)
    with ParserPool(LIMITS) as pool, ThreadPoolExecutor(2) as threads:
        refused, good = threads.map(lambda item: parse_file(*item, pool), [(name, bomb), ("good.csv", GOOD)])
    assert isinstance(refused, Failed)
    assert refused.reason == "zip bomb refused: its parts inflate to 300 MiB, over 256 MiB"
    assert isinstance(good, ParsedDocument)


def test_a_ten_thousand_page_image_pdf_is_read_up_to_the_page_limit_only() -> None:
    pdf = image_pdf_bytes(10_000)
    with ParserPool(LIMITS) as pool, ThreadPoolExecutor(2) as threads:
        scan, good = threads.map(
            lambda item: parse_file(*item, pool), [("huge.pdf", pdf), ("good.csv", GOOD)]
        )
    assert isinstance(good, ParsedDocument)
    assert scan == Skipped("no text layer, and OCR found no text on 2 of its 10000 pages")


def test_ocr_beyond_the_page_limit_is_noted_on_the_document() -> None:
    page = text_image_png(["Harbour dues are paid at the tide office."])
    with ParserPool(LIMITS) as pool:
        result = parse_file("dues.tiff", multipage_tiff(page, 3), pool)
    assert isinstance(result, ParsedDocument), result
    assert result.ocr_pages == 2
    assert result.notes == ("OCR read 2 of 3 pages (FRESHRAG_OCR_MAX_PAGES, time limit)",)
    assert "tide office" in result.sections[0].text
