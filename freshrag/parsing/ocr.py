"""OCR with Tesseract (Debian's `tesseract-ocr`), run as a program so that its memory and time are the parser
process' own: one page image in, its text out, one thread (the parser pool is the parallelism).

Chosen over an ONNX OCR with models inside its wheel (RapidOCR) by benchmarks/ocr_engines.py on the shared
scans: about 7 times faster per page and more words right (see the README)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time

from PIL import Image

# 300 dpi is what Tesseract is trained for; a page larger than this many pixels is rendered smaller (a
# poster scanned at 300 dpi would need gigabytes).
OCR_DPI = 300
MAX_PAGE_PIXELS = 40_000_000
_MISSING_LANGUAGE = re.compile(r"Failed loading language '([^']+)'")


class OcrUnavailable(Exception):
    """OCR cannot run here (no Tesseract, a language without its data): says which Debian package to add."""


class OcrTimeout(Exception):
    """The page was not read before the deadline."""


class OcrBudget:
    """What OCR may still spend on one file: `pages` more pages, until `deadline` (time.monotonic())."""

    def __init__(self, pages: int, seconds: float) -> None:
        self.pages = pages
        self.deadline = time.monotonic() + seconds
        self.used = 0

    def spent(self) -> bool:
        return self.used >= self.pages or time.monotonic() >= self.deadline


def read_image(image: Image.Image, languages: str, budget: OcrBudget) -> str:
    """The text Tesseract reads on `image` (a page), counted against `budget`. Raises `OcrUnavailable` and
    `OcrTimeout`."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        raise OcrUnavailable("OCR needs Tesseract: install the Debian package tesseract-ocr")
    png = io.BytesIO()
    image.convert("L").save(png, format="PNG")
    remaining = budget.deadline - time.monotonic()
    if remaining <= 0:
        raise OcrTimeout
    budget.used += 1
    try:
        done = subprocess.run(
            [tesseract, "stdin", "stdout", "-l", languages, "--dpi", str(OCR_DPI)],
            input=png.getvalue(),
            capture_output=True,
            timeout=remaining,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OcrTimeout from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace")
        missing = _MISSING_LANGUAGE.search(message)
        if missing:
            package = f"tesseract-ocr-{missing.group(1).lower().replace('_', '-')}"
            raise OcrUnavailable(f"OCR language '{missing.group(1)}' is not installed: install {package}")
        raise OcrUnavailable(f"Tesseract failed: {message.strip()[-300:]}")
    return done.stdout.decode("utf-8", errors="replace").replace("\f", "").strip()
