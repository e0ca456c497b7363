"""PDF: the text layer of each page, one section per page (pypdfium2, PDFium's own extraction); pages without
a text layer are rendered and read by OCR, the first `ocr_max_pages` of them, within the parser's time."""

from __future__ import annotations

import pypdfium2 as pdfium

from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult, Section, Skipped
from freshrag.parsing.ocr import MAX_PAGE_PIXELS, OCR_DPI, OcrBudget, OcrTimeout, OcrUnavailable, read_image


def parse_pdf(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            return Failed("encrypted PDF: a password is required to read it")
        return Failed(f"damaged or not a PDF: {message}")
    try:
        title = str(pdf.get_metadata_dict().get("Title") or "").strip()
        texts = [_page_text(pdf, number) for number in range(len(pdf))]
        unread = [number for number, text in enumerate(texts) if not text]
        ocr = _Ocr(options, len(unread))
        for number in unread:
            if ocr.stopped():
                break
            texts[number] = ocr.read(pdf[number])
    finally:
        pdf.close()
    sections = [Section(heading=(f"page {n + 1}",), text=text) for n, text in enumerate(texts) if text]
    if not sections:
        return Skipped(ocr.why_no_text())
    return ParsedDocument(
        title=title or fallback_title, sections=sections, ocr_pages=ocr.budget.used, notes=ocr.notes()
    )


def _page_text(pdf: pdfium.PdfDocument, number: int) -> str:
    page = pdf[number]
    textpage = page.get_textpage()
    text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
    textpage.close()
    page.close()
    return str(text).strip()


class _Ocr:
    """OCR of the pages without a text layer, until the page limit or the time is spent or it cannot run."""

    def __init__(self, options: ParseOptions, pages: int) -> None:
        self.options = options
        self.pages = pages
        self.budget = OcrBudget(options.ocr_max_pages, options.seconds)
        self.problem: str | None = None
        self.timed_out = False

    def stopped(self) -> bool:
        return self.problem is not None or self.timed_out or self.budget.spent()

    def read(self, page: pdfium.PdfPage) -> str:
        width, height = page.get_size()
        scale = min(OCR_DPI / 72, (MAX_PAGE_PIXELS / max(width * height, 1)) ** 0.5)
        try:
            image = page.render(scale=scale, grayscale=True).to_pil()
            return read_image(image, self.options.ocr_languages, self.budget)
        except OcrUnavailable as exc:
            self.problem = str(exc)
        except OcrTimeout:
            self.timed_out = True
        finally:
            page.close()
        return ""

    def notes(self) -> tuple[str, ...]:
        if self.pages == 0 or self.budget.used >= self.pages:
            return ()
        why = self.problem or ("time limit" if self.timed_out else "FRESHRAG_OCR_MAX_PAGES")
        return (f"OCR read {self.budget.used} of the {self.pages} pages without a text layer ({why})",)

    def why_no_text(self) -> str:
        if self.options.ocr_max_pages == 0:
            return "no text layer (scanned or image-only PDF), and OCR is off (FRESHRAG_OCR_MAX_PAGES=0)"
        if self.problem is not None:
            return f"no text layer (scanned or image-only PDF), and OCR cannot run: {self.problem}"
        if self.timed_out and self.budget.used <= 1:
            return f"no text layer, and OCR did not read a page within {self.options.seconds:g} s"
        return f"no text layer, and OCR found no text on {self.budget.used} of its {self.pages} pages"
