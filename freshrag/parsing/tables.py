"""Rows of a table as text a search can match on its own: each row one paragraph naming its columns
("Team: Detroit Red Wings; Year: 1997"), the first row of more than one value taken as the header (rows of one
value above it are a caption, kept as text). A long table is cut into sections of `ROWS_PER_SECTION` rows, so
an edit to one row re-embeds that group only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from freshrag.parsing.model import Section

ROWS_PER_SECTION = 100

Cell = object


def cell_text(value: Cell) -> str:
    """A cell as a person reads it: whole floats without '.0', dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def table_sections(name: str, rows: Iterable[Sequence[Cell]]) -> list[Section]:
    """Sections of one table (`name`: the sheet's, or empty for a file that is one table), headed
    (name, "rows 2-101") once it is longer than one group."""
    header: list[str] | None = None
    captions: list[str] = []
    groups: list[tuple[int, int, list[str]]] = []  # first row, last row, paragraphs
    for number, row in enumerate(rows, start=1):
        cells = [cell_text(value) for value in row]
        filled = [cell for cell in cells if cell]
        if not filled:
            continue
        if header is None:
            if len(filled) == 1:
                captions.append(filled[0])
            else:
                header = cells
            continue
        if not groups or len(groups[-1][2]) >= ROWS_PER_SECTION:
            groups.append((number, number, []))
        first, _, paragraphs = groups[-1]
        paragraphs.append(_row_text(header, cells))
        groups[-1] = (first, number, paragraphs)
    base = (name,) if name else ()
    if header is not None and not groups:  # a header alone: still words a person may look for
        captions.append("; ".join(cell for cell in header if cell))
    if len(groups) <= 1:  # one column (all captions) or a short table: one section
        paragraphs = captions + (groups[0][2] if groups else [])
        return [Section(heading=base, text="\n\n".join(paragraphs))] if paragraphs else []
    sections = [
        Section(heading=(*base, f"rows {first}-{last}"), text="\n\n".join(paragraphs))
        for first, last, paragraphs in groups
    ]
    if captions:
        sections.insert(0, Section(heading=base, text="\n\n".join(captions)))
    return sections


def _row_text(header: list[str], cells: list[str]) -> str:
    parts = []
    for index, value in enumerate(cells):
        if not value:
            continue
        column = header[index] if index < len(header) and header[index] else f"column {index + 1}"
        parts.append(f"{column}: {value}")
    return "; ".join(parts)
