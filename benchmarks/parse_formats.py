"""Parse throughput by format, OCR pages per second, and what OCR adds to drop-to-searchable.

Part 1: each sample parsed again and again in one parser process (as ingest parses: the pool, its limits,
the answer sent back), for at least `--seconds` per sample: MB/s and seconds per file. Samples are the shared
files of each type, plus files the writing libraries make (a 20,000-row workbook and CSV, a 50-slide deck)
and LibreOffice conversions of them for the legacy and OpenDocument types.
Part 2: `freshrag up` on an idle machine, one-page files dropped one at a time: the Lorem ipsum scan (a PDF
without a text layer, read by OCR) against the same text as a .txt file; the difference is what OCR adds.

    PYTHONPATH=. .venv/bin/python benchmarks/parse_formats.py [--seconds 3] [--drops 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import PROJECT, SHARED_DATA, save, start_up, stop
from pptx import Presentation
from pptx.util import Inches

from freshrag.documents import file_doc_id, root_key
from freshrag.parsing import ParsedDocument, ParseLimits, ParserPool, parse_file
from tests.file_samples import converted, text_image_png, xlsx_bytes

FILES = SHARED_DATA / "files"
ROWS = [["Item", "Serial", "Berth", "Count", "Inspected", "Warden"]] + [
    [
        f"Crane {n}",
        f"QX-{n:05d}",
        f"Berth {n % 40}",
        n,
        f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}",
        f"Warden {n % 97}",
    ]
    for n in range(20_000)
]


def samples() -> dict[str, tuple[str, bytes]]:
    """format label: (file name, bytes)."""
    deck = _deck(50)
    sheet = xlsx_bytes(ROWS)
    csv_text = "\n".join(",".join(str(cell) for cell in row) for row in ROWS).encode()
    small_sheet = xlsx_bytes(ROWS[:200])
    return {
        "pdf (text layer, reference)": (
            "paper.pdf",
            (FILES / "pdf/layout-parser-paper-fast.pdf").read_bytes(),
        ),
        "docx (reference)": ("handbook.docx", (FILES / "awkward/huge_handbook-872p.docx").read_bytes()),
        "pptx (shared)": ("deck.pptx", (FILES / "other/fake-power-point.pptx").read_bytes()),
        "pptx (50 slides)": ("deck.pptx", deck),
        "xlsx (20,000 rows x 6)": ("sheet.xlsx", sheet),
        "csv (20,000 rows x 6)": ("sheet.csv", csv_text),
        "eml (shared, 2 images attached)": ("mail.eml", (FILES / "awkward/email-no-utf8.eml").read_bytes()),
        "epub (shared, 40 sections)": ("book.epub", (FILES / "other/winter-sports.epub").read_bytes()),
        "rtf (shared)": ("doc.rtf", (FILES / "other/fake-doc.rtf").read_bytes()),
        "odt (shared)": ("doc.odt", (FILES / "other/simple.odt").read_bytes()),
        "doc (shared)": ("doc.doc", (FILES / "awkward/legacy.doc").read_bytes()),
        "xls (200 rows)": ("sheet.xls", converted(small_sheet, ".xlsx", "xls")),
        "ods (200 rows)": ("sheet.ods", converted(small_sheet, ".xlsx", "ods")),
        "ppt (50 slides)": ("deck.ppt", converted(deck, ".pptx", "ppt")),
        "odp (50 slides)": ("deck.odp", converted(deck, ".pptx", "odp")),
        "OCR: scanned PDF page (shared Lorem ipsum, 300 dpi)": (
            "scan.pdf",
            (FILES / "awkward/scanned-image-only_loremipsum-flat.pdf").read_bytes(),
        ),
        "OCR: PNG, 2 lines of text": (
            "page.png",
            text_image_png(["The keeper logs every schooner", "since 1887."]),
        ),
    }


def _deck(slides: int) -> bytes:
    presentation = Presentation()
    for number in range(slides):
        slide = presentation.slides.add_slide(presentation.slide_layouts[5])
        slide.shapes.title.text = f"Slide {number}: harbour report"
        box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(8), Inches(4))
        box.text_frame.text = f"Tides, berths and cranes, part {number}. " * 20
        slide.notes_slide.notes_text_frame.text = f"Speaker notes for slide {number}."
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def throughput(seconds: float) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with ParserPool(ParseLimits(timeout_seconds=120, memory_mb=1024, workers=1)) as pool:
        for label, (name, data) in samples().items():
            first = parse_file(name, data, pool)  # warm: the parser process and its libraries
            assert isinstance(first, ParsedDocument), (label, first)
            runs = 0
            started = time.perf_counter()
            while runs < 3 or time.perf_counter() - started < seconds:
                parse_file(name, data, pool)
                runs += 1
            elapsed = (time.perf_counter() - started) / runs
            rows[label] = {
                "bytes": len(data),
                "seconds_per_file": round(elapsed, 4),
                "mb_per_second": round(len(data) / 1e6 / elapsed, 2),
                "ocr_pages": first.ocr_pages,
                "pages_per_second": round(first.ocr_pages / elapsed, 2) if first.ocr_pages else None,
                "runs": runs,
            }
            print(label, rows[label])
    return rows


def drop_to_searchable(drops: int) -> dict[str, Any]:
    scan = (FILES / "awkward/scanned-image-only_loremipsum-flat.pdf").read_bytes()
    with ParserPool(ParseLimits(timeout_seconds=120, memory_mb=1024, workers=1)) as pool:
        read = parse_file("scan.pdf", scan, pool)
    assert isinstance(read, ParsedDocument)
    text = "\n\n".join(section.text for section in read.sections).encode()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        inbox.mkdir()
        process, client = start_up(inbox, Path(scratch) / "data", cwd=PROJECT)
        key = root_key(inbox)
        try:
            time.sleep(2)
            latencies: dict[str, list[float]] = {"scan.pdf": [], "same-text.txt": []}
            for number in range(drops):
                for kind, data in (("scan.pdf", scan), ("same-text.txt", text)):
                    name = f"{number}-{kind}"
                    started = time.perf_counter()
                    (inbox / name).write_bytes(data)
                    while True:
                        answer = client.get(f"/documents/{file_doc_id(key, name)}")
                        if answer.status_code == 200 and answer.json()["status"] in (
                            "indexed",
                            "failed",
                            "skipped",
                        ):
                            assert answer.json()["status"] == "indexed", answer.json()
                            break
                        time.sleep(0.005)
                    latencies[kind].append(time.perf_counter() - started)
                    time.sleep(0.3)
        finally:
            stop(process)
    for kind, values in latencies.items():
        result[kind] = {
            "median_seconds": round(statistics.median(values), 3),
            "all": [round(v, 3) for v in values],
        }
    result["ocr_adds_seconds"] = round(
        result["scan.pdf"]["median_seconds"] - result["same-text.txt"]["median_seconds"], 3
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--drops", type=int, default=5)
    args = parser.parse_args()
    save(
        "parse_formats",
        {
            "what": "parse throughput per format in one parser process; OCR pages/s; drop-to-searchable of a "
            "one-page scan against the same text as .txt on freshrag up",
            "throughput": throughput(args.seconds),
            "drop_to_searchable": drop_to_searchable(args.drops),
        },
    )


if __name__ == "__main__":
    main()
