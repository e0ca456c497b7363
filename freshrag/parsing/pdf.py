"""PDF: the text layer of each page, one section per page (pypdfium2, PDFium's own extraction)."""

from __future__ import annotations

import pypdfium2 as pdfium

from freshrag.parsing.model import Failed, ParsedDocument, ParseResult, Section, Skipped


def parse_pdf(data: bytes, fallback_title: str) -> ParseResult:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            return Failed("encrypted PDF: a password is required to read it")
        return Failed(f"damaged or not a PDF: {message}")
    try:
        title = str(pdf.get_metadata_dict().get("Title") or "").strip()
        sections = []
        for number in range(len(pdf)):
            page = pdf[number]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
            textpage.close()
            page.close()
            sections.append(Section(heading=(f"page {number + 1}",), text=text.strip()))
    finally:
        pdf.close()
    if not any(section.text for section in sections):
        return Skipped("no text layer (scanned or image-only PDF; OCR is not supported)")
    return ParsedDocument(title=title or fallback_title, sections=[s for s in sections if s.text])
