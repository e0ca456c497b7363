"""E-mail (.eml with the standard library's parser, .msg with extract-msg): the subject as the title, sender,
recipients and date kept as text, the plain-text body (or the HTML one, made text), then each attached
document read by the parser of its type as sections of the message's own, headed by the attachment's name.

Attachments are part of the message's document, not documents of their own: a search that finds one leads to
the message, and editing or deleting the message re-indexes or removes them with it. Images attached to mail
(logos, signatures) are not read by OCR; a forwarded message is read without its own attachments."""

from __future__ import annotations

import email
import email.policy
import time
from dataclasses import dataclass, field, replace
from email.message import EmailMessage, Message
from pathlib import PurePath

import extract_msg
import olefile
from extract_msg.msg_classes import MessageBase

from freshrag.decoding import UndecodableError, decode_text
from freshrag.parsing.html import parse_html
from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, ParseResult, Section
from freshrag.parsing.packages import is_ole

MAX_ATTACHMENTS = 20


@dataclass
class _Attachment:
    name: str
    data: bytes


@dataclass
class _Message:
    subject: str
    headers: list[tuple[str, str]]
    body: list[Section]
    attachments: list[_Attachment] = field(default_factory=list)


def parse_eml(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    message = _eml_message(data)
    return message if isinstance(message, Failed) else _document(message, fallback_title, options)


def parse_msg(data: bytes, fallback_title: str, options: ParseOptions) -> ParseResult:
    message = _msg_message(data)
    return message if isinstance(message, Failed) else _document(message, fallback_title, options)


def _eml_message(data: bytes) -> _Message | Failed:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        return Failed("not readable as an e-mail message")
    headers = [(name, str(message.get(name, "")).strip()) for name in ("From", "To", "Cc", "Date")]
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = _body_sections(body_part) if body_part is not None else []
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) if not part.is_multipart() else None
        if isinstance(payload, bytes):
            attachments.append(_Attachment(part.get_filename() or "attachment", payload))
    return _Message(str(message.get("Subject", "")).strip(), headers, body, attachments)


def _msg_message(data: bytes) -> _Message | Failed:
    # extract-msg takes bytes that are not an OLE file for a path name: never hand it those.
    if not is_ole(data) or len(data) < olefile.MINIMAL_OLEFILE_SIZE:
        return Failed("damaged or not an Outlook .msg file (no OLE compound file header)")
    try:
        message = extract_msg.openMsg(data, delayAttachments=False)
    except (OSError, ValueError, extract_msg.exceptions.ExMsgBaseException) as exc:
        return Failed(f"damaged or not an Outlook .msg file: {exc}")
    if not isinstance(message, MessageBase):
        message.close()
        return Failed(f"an Outlook {type(message).__name__} item, not a message: not read")
    try:
        headers = [
            ("From", message.sender or ""),
            ("To", message.to or ""),
            ("Cc", message.cc or ""),
            ("Date", str(message.date or "")),
        ]
        if message.body:
            body = [Section(heading=(), text=message.body.strip())]
        elif message.htmlBody:
            body = _html_sections(message.htmlBody)
        else:
            body = []
        attachments = [
            _Attachment(str(item.longFilename or item.shortFilename or "attachment"), item.data)
            for item in message.attachments
            if isinstance(item.data, bytes)
        ]
        return _Message(str(message.subject or "").strip(), headers, body, attachments)
    finally:
        message.close()


def _body_sections(part: Message) -> list[Section]:
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    if part.get_content_subtype() == "html":
        return _html_sections(raw)
    try:
        text = decode_text(raw, part.get_content_charset())
    except UndecodableError:
        return []
    return [Section(heading=(), text=text.replace("\r\n", "\n").strip())]


def _html_sections(raw: bytes) -> list[Section]:
    parsed = parse_html(raw, "", ParseOptions())
    return parsed.sections if isinstance(parsed, ParsedDocument) else []


def _document(
    message: _Message, fallback_title: str, options: ParseOptions, *, attachments: bool = True
) -> ParsedDocument:
    header_text = "\n".join(f"{name}: {value}" for name, value in message.headers if value)
    sections = [Section(heading=(), text=header_text), *message.body]
    notes: list[str] = []
    ocr_pages = 0
    deadline = time.monotonic() + options.seconds
    for number, attachment in enumerate(message.attachments if attachments else []):
        if number >= MAX_ATTACHMENTS:
            notes.append(
                f"{len(message.attachments) - MAX_ATTACHMENTS} attachments past the first 20 not read"
            )
            break
        options_left = replace(
            options,
            ocr_max_pages=max(options.ocr_max_pages - ocr_pages, 0),
            seconds=max(deadline - time.monotonic(), 0.0),
        )
        try:
            result = _read_attachment(attachment, options_left)
        except MemoryError:
            raise
        except Exception as exc:  # one attachment's parser bug must not lose the message
            result = Failed(f"parser raised {type(exc).__name__}: {exc}")
        if isinstance(result, ParsedDocument):
            ocr_pages += result.ocr_pages
            heading = (f"attachment: {attachment.name}",)
            sections.extend(replace(s, heading=heading + s.heading) for s in result.sections)
        else:
            notes.append(f"attachment {attachment.name} not read: {result.reason}")
    return ParsedDocument(
        title=message.subject or fallback_title,
        sections=[s for s in sections if s.text.strip()],
        ocr_pages=ocr_pages,
        notes=tuple(notes),
    )


def _read_attachment(attachment: _Attachment, options: ParseOptions) -> ParseResult:
    # Imported here: the format table names this module's parsers.
    from freshrag.parsing.formats import FORMATS

    suffix = PurePath(attachment.name).suffix.lower()
    known = FORMATS.get(suffix)
    if known is None:
        return Failed(f"'{suffix or 'no extension'}' files are not read")
    if known.name == "image":
        return Failed("images attached to mail are not read by OCR")
    stem = PurePath(attachment.name).stem
    nested = {".eml": _eml_message, ".msg": _msg_message}.get(suffix)
    if nested is not None:  # a forwarded message: read without its own attachments
        message = nested(attachment.data)
        return (
            message if isinstance(message, Failed) else _document(message, stem, options, attachments=False)
        )
    return known.parser(attachment.data, stem, options)
