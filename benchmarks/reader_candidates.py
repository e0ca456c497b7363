"""Candidate readers measured against the ones chosen, on the same files: for workbooks, python-calamine
(chosen) against openpyxl's read-only mode (.xlsx) and against LibreOffice converting .xls and .ods to .xlsx
first; for RTF and .odt, LibreOffice (chosen) against striprtf and odfpy. Seconds per file (best of three,
in this process, no parser pool) and the text each gives. The candidates that lost are not dependencies of
freshrag (openpyxl is a test dependency): install them into a folder of their own first.

    pip install --target /tmp/cands striprtf odfpy
    PYTHONPATH=. .venv/bin/python benchmarks/reader_candidates.py [--path /tmp/cands]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from typing import Any

from common import SHARED_DATA, save
from openpyxl import load_workbook

from freshrag.parsing import ParsedDocument, ParseOptions
from freshrag.parsing.converted import parse_odt, parse_rtf
from freshrag.parsing.sheets import parse_workbook
from freshrag.parsing.tables import table_sections
from tests.file_samples import converted, xlsx_bytes

OPTIONS = ParseOptions()
ROWS = [["Item", "Serial", "Berth", "Count"]] + [
    [f"Crane {n}", f"QX-{n:05d}", f"Berth {n % 40}", n] for n in range(20_000)
]


def best(function: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def text_of(result: Any) -> str:
    assert isinstance(result, ParsedDocument), result
    return "\n".join(section.text for section in result.sections)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default="/tmp/cands")
    sys.path.insert(0, parser.parse_args().path)
    from odf import teletype  # type: ignore[import-not-found]
    from odf import text as odf_text  # type: ignore[import-not-found]
    from odf.opendocument import load  # type: ignore[import-not-found]
    from striprtf.striprtf import rtf_to_text  # type: ignore[import-not-found]

    def openpyxl(data: bytes) -> ParsedDocument:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sections = [
            section
            for sheet in workbook.worksheets
            for section in table_sections(sheet.title, sheet.iter_rows(values_only=True))
        ]
        workbook.close()
        return ParsedDocument(title="", sections=sections)

    def calamine(data: bytes) -> Any:
        return parse_workbook(data, "", OPTIONS)

    big = xlsx_bytes(ROWS)
    small = xlsx_bytes(ROWS[:200])
    rtf = (SHARED_DATA / "files/other/fake-doc.rtf").read_bytes()
    odt = (SHARED_DATA / "files/other/simple.odt").read_bytes()
    result: dict[str, Any] = {}
    for label, data, chosen, candidate in [
        ("xlsx 20,000 rows x 4: calamine vs openpyxl", big, calamine, openpyxl),
        (
            "xls 200 rows: calamine vs LibreOffice to .xlsx, then calamine",
            converted(small, ".xlsx", "xls"),
            calamine,
            lambda d: calamine(converted(d, ".xls", "xlsx")),
        ),
        (
            "ods 200 rows: calamine vs LibreOffice to .xlsx, then calamine",
            converted(small, ".xlsx", "ods"),
            calamine,
            lambda d: calamine(converted(d, ".ods", "xlsx")),
        ),
    ]:
        chosen_s, chosen_doc = best(lambda: chosen(data))  # noqa: B023
        cand_s, cand_doc = best(lambda: candidate(data))  # noqa: B023
        result[label] = {
            "chosen_seconds": round(chosen_s, 4),
            "candidate_seconds": round(cand_s, 4),
            "same_text": text_of(chosen_doc) == text_of(cand_doc),
        }
    rtf_s, rtf_doc = best(lambda: parse_rtf(rtf, "", OPTIONS))
    strip_s, strip_text = best(lambda: rtf_to_text(rtf.decode("latin-1")))
    result["rtf (shared): LibreOffice vs striprtf"] = {
        "chosen_seconds": round(rtf_s, 4),
        "candidate_seconds": round(strip_s, 5),
        "chosen_text": text_of(rtf_doc),
        "candidate_text": strip_text.strip(),
    }
    odt_s, odt_doc = best(lambda: parse_odt(odt, "", OPTIONS))
    odf_s, odf_read = best(
        lambda: "\n".join(
            teletype.extractText(p) for p in load(io.BytesIO(odt)).getElementsByType(odf_text.P)
        )
    )
    result["odt (shared): LibreOffice vs odfpy"] = {
        "chosen_seconds": round(odt_s, 4),
        "candidate_seconds": round(odf_s, 5),
        "chosen_text": text_of(odt_doc),
        "candidate_text": odf_read.strip(),
    }
    save("reader_candidates", result)


if __name__ == "__main__":
    main()
