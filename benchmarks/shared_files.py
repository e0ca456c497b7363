"""What freshrag makes of the 63 real files of ../shared/data/files: each parsed as ingest parses it (in the
parser pool, with the default limits), then counted as indexed (text found), skipped or failed, with the
reason and the parser that read it.

    .venv/bin/python benchmarks/shared_files.py
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from common import SHARED_DATA, save

from freshrag.parsing import ParsedDocument, parse_file

NOT_DATA = {"MANIFEST.tsv", "SOURCE.txt"}


def main() -> None:
    root = SHARED_DATA / "files"
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in NOT_DATA)
    rows: list[dict[str, Any]] = []
    for path in files:
        started = time.perf_counter()
        result = parse_file(path.name, path.read_bytes())
        seconds = round(time.perf_counter() - started, 3)
        row: dict[str, Any] = {"file": str(path.relative_to(root)), "seconds": seconds}
        if isinstance(result, ParsedDocument):
            row.update(outcome="indexed", parser=getattr(result, "parser", ""))
            row["ocr_pages"] = getattr(result, "ocr_pages", 0)
        else:
            row.update(outcome=type(result).__name__.lower(), reason=result.reason)
        rows.append(row)
        print(row)
    counts = Counter(row["outcome"] for row in rows)
    save("shared_files", {"files": len(rows), "outcomes": dict(counts), "rows": rows})


if __name__ == "__main__":
    main()
