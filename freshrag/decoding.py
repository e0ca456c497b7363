"""Bytes to text for files that do not say their encoding: BOMs first, then strict UTF-8, then detection."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we can recognise."""


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode `data` to text: a BOM wins, then a declared charset, then strict UTF-8, then charset
    detection. Raises `UndecodableError` for binary content."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        # NULs without a BOM: UTF-16/32 without a BOM, or binary; detection tells which.
        best = from_bytes(data[:200_000], cp_isolation=["utf_16", "utf_32", "utf_16_le", "utf_16_be"]).best()
    else:
        best = from_bytes(data[:200_000]).best()
    if best is None or best.encoding is None:
        raise UndecodableError("content is not text in any recognised encoding")
    return data.decode(best.encoding, errors="replace")
