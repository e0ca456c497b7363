"""The file types freshrag reads: by extension, the parser and what it reads with (shown by
`/documents/{id}`), and the format's name (the `format` label of `freshrag_parse_seconds`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from freshrag.parsing.converted import parse_doc, parse_odp, parse_odt, parse_ppt, parse_rtf
from freshrag.parsing.delimited import parse_csv, parse_tsv
from freshrag.parsing.docx import parse_docx
from freshrag.parsing.epub import parse_epub
from freshrag.parsing.html import parse_html
from freshrag.parsing.images import parse_image
from freshrag.parsing.mail import parse_eml, parse_msg
from freshrag.parsing.markdown import parse_markdown
from freshrag.parsing.model import Parser
from freshrag.parsing.pdf import parse_pdf
from freshrag.parsing.sheets import parse_workbook
from freshrag.parsing.slides import parse_pptx
from freshrag.parsing.text import parse_text


@dataclass(frozen=True)
class Format:
    name: str
    parser: Parser
    reader: str


_LIBREOFFICE = "LibreOffice (headless) then "
_FORMATS = [
    (("md", "markdown"), Format("markdown", parse_markdown, "markdown-it-py")),
    (("txt", "text", "rst", "org", "adoc"), Format("text", parse_text, "charset-normalizer")),
    (("html", "htm", "xhtml"), Format("html", parse_html, "selectolax (lexbor)")),
    (("pdf",), Format("pdf", parse_pdf, "pypdfium2")),
    (("docx",), Format("docx", parse_docx, "python-docx")),
    (("pptx",), Format("pptx", parse_pptx, "python-pptx")),
    (("xlsx", "xlsm", "xlsb"), Format("xlsx", parse_workbook, "python-calamine")),
    (("xls",), Format("xls", parse_workbook, "python-calamine")),
    (("ods",), Format("ods", parse_workbook, "python-calamine")),
    (("csv",), Format("csv", parse_csv, "Python csv")),
    (("tsv", "tab"), Format("tsv", parse_tsv, "Python csv")),
    (("eml",), Format("eml", parse_eml, "Python email")),
    (("msg",), Format("msg", parse_msg, "extract-msg")),
    (("epub",), Format("epub", parse_epub, "EbookLib")),
    (("rtf",), Format("rtf", parse_rtf, _LIBREOFFICE + "python-docx")),
    (("odt",), Format("odt", parse_odt, _LIBREOFFICE + "python-docx")),
    (("doc",), Format("doc", parse_doc, _LIBREOFFICE + "python-docx")),
    (("odp",), Format("odp", parse_odp, _LIBREOFFICE + "python-pptx")),
    (("ppt",), Format("ppt", parse_ppt, _LIBREOFFICE + "python-pptx")),
    (
        ("png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"),
        Format("image", parse_image, "Pillow"),
    ),
]
FORMATS: dict[str, Format] = {f".{suffix}": known for suffixes, known in _FORMATS for suffix in suffixes}
FORMAT_NAMES = tuple(dict.fromkeys(known.name for _, known in _FORMATS))
OCR_READER = "Tesseract OCR"


def format_of(name: str) -> Format | None:
    """The format a file name says, by its extension (case ignored); None for one freshrag does not read."""
    return FORMATS.get(PurePath(name).suffix.lower())
