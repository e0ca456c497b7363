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


_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_TIE = 0.02


class UndecodableError(ValueError):
    """The bytes are not text in any encoding we can recognise."""


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text of mostly ASCII characters has NULs in every other byte: odd ones for big-endian."""
    pairs = len(head) // 2
    if pairs == 0:
        return None
    even_nuls = head[0 : pairs * 2 : 2].count(0)
    odd_nuls = head[1 : pairs * 2 : 2].count(0)
    if even_nuls > pairs * 0.3 and odd_nuls < pairs * 0.05:
        return "utf-16-be"
    if odd_nuls > pairs * 0.3 and even_nuls < pairs * 0.05:
        return "utf-16-le"
    return None


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
    head = data[:4096]
    if b"\x00" in head:
        guessed = _utf16_without_bom(head)
        if guessed:
            return data.decode(guessed, errors="replace")
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    sample = data[:200_000]
    if b"\x00" in data[:4096]:
        # NULs without a BOM: UTF-16/32 without a BOM, or binary; detection tells which.
        matches = from_bytes(sample, cp_isolation=["utf_16", "utf_32", "utf_16_le", "utf_16_be"])
    else:
        matches = from_bytes(sample)
    best = matches.best()
    if best is None or best.encoding is None:
        raise UndecodableError("content is not text in any recognised encoding")
    encoding = best.encoding
    # On short samples several single-byte code pages look equally plausible; Western European is by far
    # the most common legacy encoding, so it wins a tie.
    for candidate in matches:
        if candidate.encoding in _WESTERN and candidate.chaos <= best.chaos + _TIE:
            encoding = candidate.encoding
            break
    return data.decode(encoding, errors="replace")
