"""Files of the types the shared data set lacks, made by the libraries that write them, each holding the
phrases a test searches for; legacy and OpenDocument files are converted from them by LibreOffice."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tempfile
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

import docx
import openpyxl
from ebooklib import epub
from PIL import Image, ImageDraw, ImageFont
from pptx import Presentation
from pptx.util import Inches


def pptx_bytes(title: str, body: str, notes: str) -> bytes:
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    slide.shapes.title.text = "Opening remarks"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = title
    box = second.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(2))
    box.text_frame.text = body
    second.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def xlsx_bytes(rows: list[list[object]], sheet: str = "Inventory") -> bytes:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Summary"
    first.append(["Note"])
    first.append(["Inventory of the harbour, counted each spring"])
    worksheet = workbook.create_sheet(sheet)
    for row in rows:
        worksheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def docx_bytes(heading: str, paragraph: str) -> bytes:
    document = docx.Document()
    document.add_heading(heading, level=1)
    document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def eml_bytes(subject: str, body: str, attachment_name: str, attachment: bytes) -> bytes:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Ada Keeper <ada@example.org>"
    message["To"] = "crew@example.org"
    message["Date"] = "Tue, 01 Dec 2026 09:30:00 +0000"
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    message.add_attachment(
        attachment, maintype="application", subtype="octet-stream", filename=attachment_name
    )
    return message.as_bytes()


def epub_bytes(chapters: list[tuple[str, str]]) -> bytes:
    book = epub.EpubBook()
    book.set_identifier("freshrag-test-book")
    book.set_title("Tides and Lanterns")
    book.set_language("en")
    items = []
    for number, (heading, text) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=heading, file_name=f"chapter{number}.xhtml", lang="en")
        item.content = f"<html><body><h1>{heading}</h1><p>{text}</p></body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "book.epub"
        epub.write_epub(str(path), book)
        return path.read_bytes()


def text_image_png(lines: list[str]) -> bytes:
    """A scan-like page: black text on white, large enough for OCR."""
    font = ImageFont.load_default(size=40)
    image = Image.new("L", (1800, 120 + 70 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((60, 60 + 70 * number), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def multipage_tiff(png: bytes, pages: int) -> bytes:
    """A fax-like TIFF of `pages` copies of the page `png`."""
    frame = Image.open(io.BytesIO(png))
    out = io.BytesIO()
    frame.save(out, format="TIFF", save_all=True, append_images=[frame.copy() for _ in range(pages - 1)])
    return out.getvalue()


def converted(data: bytes, suffix: str, target: str) -> bytes:
    """`data` (a file of type `suffix`) converted by LibreOffice to `target` (doc, xls, ppt, ods, odp)."""
    soffice = shutil.which("soffice")
    assert soffice is not None, "LibreOffice is missing: run scripts/system-deps"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / f"in{suffix}").write_bytes(data)
        subprocess.run(
            [
                soffice,
                "--headless",
                f"-env:UserInstallation={(work / 'p').as_uri()}",
                "--convert-to",
                target,
                "--outdir",
                str(work),
                str(work / f"in{suffix}"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return (work / f"in.{target}").read_bytes()


def image_pdf_bytes(pages: int) -> bytes:
    """A PDF of `pages` pages, each showing the same small grey image and no text: an image-only scan as
    large as one likes, made in a few milliseconds (every page shares one image object)."""
    pixels = zlib.compress(bytes([128]) * 64)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages' numbers are known
        b"<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Filter /FlateDecode /Length "
        + str(len(pixels)).encode()
        + b" >>\nstream\n"
        + pixels
        + b"\nendstream",
        b"<< /Length 29 >>\nstream\nq 200 0 0 200 100 300 cm /I Do Q\nendstream",
    ]
    first_page = len(objects) + 1
    for _ in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /XObject << /I 3 0 R >> >> >>"
        )
    kids = b" ".join(f"{n} 0 R".encode() for n in range(first_page, first_page + pages))
    objects[1] = b"<< /Type /Pages /Count " + str(pages).encode() + b" /Kids [" + kids + b"] >>"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def zip_bomb(member: str = "xl/worksheets/sheet1.xml", inflated_mib: int = 300) -> bytes:
    """A zip whose one member inflates from about 0.3 MB to `inflated_mib` MiB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        with package.open(member, "w", force_zip64=True) as stream:
            block = bytes(2**20)
            for _ in range(inflated_mib):
                stream.write(block)
    return out.getvalue()


def corrupt(data: bytes) -> bytes:
    """`data` with its middle overwritten: the start (magic numbers) intact, the structure broken."""
    middle = len(data) // 3
    return data[:middle] + struct.pack("<I", 0xDEADBEEF) * (len(data) // 12) + data[middle + len(data) // 3 :]
