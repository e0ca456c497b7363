"""OCR engines compared on the shared scanned pages: Tesseract (Debian's `tesseract-ocr`, the CLI) and
RapidOCR (`rapidocr-onnxruntime`, PaddleOCR's models in ONNX inside its wheel), one thread each.

Accuracy without a hand-made transcript: for the Lorem ipsum scan, the share of the words read that belong
to the Lorem ipsum generator's vocabulary; for the 1940s memo, the words one engine read that the other did
not (a relative measure only). RapidOCR is not a dependency of freshrag: install it into a folder of
its own first.

    pip install --target /tmp/rapidocr rapidocr-onnxruntime
    .venv/bin/python benchmarks/ocr_engines.py [--rapidocr-path /tmp/rapidocr]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
from common import SHARED_DATA, save

SCANS = {
    "loremipsum": "awkward/scanned-image-only_loremipsum-flat.pdf",
    "memo-1940s": "awkward/scanned-with-bad-ocr_pdf-with-ocr-text.pdf",
}
_LOREM_WORDS = """
    a ac accumsan adipiscing aenean aliquam aliquet amet ante arcu at auctor augue bibendum blandit
    commodo condimentum congue consectetur consequat convallis cras curabitur cursus dapibus diam dictum
    dictumst dignissim dolor donec dui duis efficitur egestas eget eleifend elementum elit enim erat
    eros est et etiam eu euismod ex facilisi facilisis fames faucibus felis fermentum feugiat finibus
    fringilla fusce gravida habitant habitasse hac hendrerit iaculis id imperdiet in integer interdum
    ipsum justo lacinia lacus laoreet lectus leo libero ligula lobortis lorem luctus maecenas magna
    malesuada massa mattis mauris maximus metus mi molestie mollis morbi nam nec neque netus nibh nisi
    nisl non nulla nullam nunc odio orci ornare pellentesque pharetra phasellus placerat platea porta
    porttitor posuere potenti praesent pretium proin pulvinar purus quam quis quisque rhoncus risus
    rutrum sagittis sapien scelerisque sed sem semper senectus sit sodales sollicitudin suscipit
    suspendisse tellus tempor tempus tincidunt tortor tristique turpis ullamcorper ultrices ultricies
    urna ut varius vehicula vel velit venenatis vestibulum vitae vivamus viverra volutpat vulputate
"""
LOREM = set(_LOREM_WORDS.split())
WORD = re.compile(r"[A-Za-z]+")


def render(path: Path, folder: Path) -> Path:
    pdf = pdfium.PdfDocument(path)
    image = pdf[0].render(scale=300 / 72, grayscale=True).to_pil()
    target = folder / f"{path.stem}.png"
    image.save(target)
    pdf.close()
    return target


def tesseract(image: Path) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        ["tesseract", str(image), "stdout", "-l", "eng"],
        capture_output=True,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return done.stdout.decode(), time.perf_counter() - started


def rapidocr_reader(path: str) -> Any:
    sys.path.insert(0, path)
    from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-not-found]

    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def rapidocr(engine: Any, image: Path) -> tuple[str, float]:
    started = time.perf_counter()
    result, _ = engine(str(image))
    return "\n".join(line[1] for line in result or []), time.perf_counter() - started


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def lorem_accuracy(text: str) -> float:
    read = words(text)
    return sum(w in LOREM for w in read) / max(len(read), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rapidocr-path", default="/tmp/rapidocr")
    args = parser.parse_args()
    engine = rapidocr_reader(args.rapidocr_path)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, relative in SCANS.items():
            image = render(SHARED_DATA / "files" / relative, Path(tmp))
            tess_text, tess_s = tesseract(image)
            rapid_text, rapid_s = rapidocr(engine, image)
            entry: dict[str, Any] = {
                "tesseract_seconds": round(tess_s, 2),
                "rapidocr_seconds": round(rapid_s, 2),
                "tesseract_words": len(words(tess_text)),
                "rapidocr_words": len(words(rapid_text)),
            }
            if name == "loremipsum":
                entry["tesseract_vocabulary_share"] = round(lorem_accuracy(tess_text), 3)
                entry["rapidocr_vocabulary_share"] = round(lorem_accuracy(rapid_text), 3)
            else:
                tess_words, rapid_words = set(words(tess_text)), set(words(rapid_text))
                entry["words_only_tesseract_read"] = len(tess_words - rapid_words)
                entry["words_only_rapidocr_read"] = len(rapid_words - tess_words)
            result[name] = entry
    save("ocr_engines", result)


if __name__ == "__main__":
    main()
