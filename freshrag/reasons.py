"""Why a document is not indexed, as one of a few kinds: the bounded `reason` label of
`freshrag_not_indexed_total` and the groups of the status page. The reasons themselves are sentences for a
person (they name the file, the setting, the package); their kind is read from the words every producer of
that reason uses, in the order below (the first that matches wins)."""

from __future__ import annotations

_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("unsupported type", ("unsupported file type", "not read by ocr", "is off (freshrag_ocr")),
    ("no text", ("no extractable text", "no text layer", "found no text")),
    ("encrypted", ("encrypted", "password")),
    ("missing program", ("install the debian package", "install tesseract", "needs libreoffice")),
    ("too large", ("zip bomb", "over the limit", "too large", "max_file_bytes")),
    ("memory limit", ("mib",)),
    ("time limit", ("parser exceeded", "did not convert it within", "did not read")),
    ("parser crashed", ("crashed", "exited unexpectedly", "misbehaved", "parser raised")),
    ("damaged", ("damaged", "not a valid", "could not read", "not readable", "binary content", "not an ")),
    ("not a regular file", ("symbolic link", "named pipe", "socket", "device", "outside the watched")),
    ("unreadable", ("cannot read", "permission denied", "changed while being read")),
)
OTHER = "other"
REASON_KINDS = (*(kind for kind, _ in _KINDS), OTHER)


def reason_kind(reason: str | None) -> str:
    """The kind of a skip or failure reason (one of `REASON_KINDS`)."""
    text = (reason or "").lower()
    for kind, phrases in _KINDS:
        if any(phrase in text for phrase in phrases):
            return kind
    return OTHER
