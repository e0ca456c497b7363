"""Zip packages (OOXML, ODF, EPUB) checked by what their central directory declares, before a parser opens
them: a zip bomb is refused without inflating a byte. What the directory declares also bounds what is read:
Python's zipfile stops an entry at its declared size (and then fails its CRC), so a member cannot lie small
and inflate big."""

from __future__ import annotations

import io
import zipfile

from freshrag.parsing.model import Failed

# Far above any real document (a 100,000-row workbook inflates to about 50 MB) and below a parser's memory.
MAX_UNCOMPRESSED_BYTES = 256 * 2**20
MAX_MEMBERS = 20_000


def refuse_package(data: bytes, kind: str) -> Failed | None:
    """None when `data` is a zip package a parser may open; else why not, naming `kind` ("a .xlsx file")."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        return Failed(f"damaged or not {kind} (it is not a readable zip package): {exc}")
    if len(members) > MAX_MEMBERS:
        return Failed(f"zip bomb refused: {len(members)} members, over {MAX_MEMBERS}")
    declared = sum(member.file_size for member in members)
    if declared > MAX_UNCOMPRESSED_BYTES:
        limit = MAX_UNCOMPRESSED_BYTES // 2**20
        return Failed(f"zip bomb refused: its parts inflate to {declared / 2**20:.0f} MiB, over {limit} MiB")
    return None


def is_ole(data: bytes) -> bool:
    """An OLE compound file: legacy Office (.doc, .xls, .ppt, .msg), and OOXML once a password encrypts it."""
    return data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def encrypted_ooxml(data: bytes, kind: str) -> Failed | None:
    """An OOXML file encrypted with a password is an OLE file holding `EncryptionInfo`, not a zip."""
    if is_ole(data) and "EncryptionInfo".encode("utf-16-le") in data:
        return Failed(f"encrypted {kind.partition(' ')[2]}: a password is required to read it")
    return None
