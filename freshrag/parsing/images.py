"""Images (.png, .jpg, .tiff, ...): the text OCR reads on each frame (a multi-page TIFF is a fax or a scan),
one section per page, at most `ocr_max_pages` pages."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageSequence, UnidentifiedImageError

from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult, Section, Skipped
from freshrag.parsing.ocr import MAX_PAGE_PIXELS, OcrBudget, OcrTimeout, OcrUnavailable, read_image


def parse_image(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    if options.ocr_max_pages == 0:
        return Skipped("an image, and OCR is off (FRESHRAG_OCR_MAX_PAGES=0)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except UnidentifiedImageError:
        return Failed("damaged or not an image (Pillow recognises no image format in it)")
    except (OSError, SyntaxError, ValueError) as exc:
        return Failed(f"damaged image: {exc}")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return Failed(f"image too large to read: {exc}")
    budget = OcrBudget(options.ocr_max_pages, options.seconds)
    sections: list[Section] = []
    notes: list[str] = []
    frames = getattr(image, "n_frames", 1)
    try:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if budget.spent():
                notes.append(f"OCR read {number - 1} of {frames} pages (FRESHRAG_OCR_MAX_PAGES, time limit)")
                break
            if frame.width * frame.height > MAX_PAGE_PIXELS:
                return Failed(f"image too large to read: {frame.width}x{frame.height} pixels")
            text = read_image(frame, options.ocr_languages, budget)
            sections.append(Section(heading=(f"page {number}",) if frames > 1 else (), text=text))
    except OcrUnavailable as exc:
        return Skipped(str(exc))
    except OcrTimeout:
        if not sections:
            return Failed(f"OCR did not read the image within {options.seconds:g} s")
        notes.append(f"OCR stopped after {len(sections)} of {frames} pages: time limit")
    return ParsedDocument(
        title=fallback_title,
        sections=[s for s in sections if s.text],
        ocr_pages=budget.used,
        notes=tuple(notes),
    )
