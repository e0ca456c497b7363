"""What a parser process and its pool say to each other, as JSON: a parser process reads hostile files, so
nothing it answers may make the service run code (as unpickling its answer could).

A request is two messages, a header (which parser, the fallback title, the
`ParseOptions`) and the file's bytes; an answer is one
message, the `ParseResult` and whether the process retires after it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict
from typing import Any

from freshrag.parsing.model import Failed, ParsedDocument, ParseOptions, Parser, ParseResult, Section, Skipped

READY = b"ready"


class ProtocolError(ValueError):
    """A message that does not follow this protocol."""


def parser_reference(parser: Parser) -> str:
    """`module:qualified.name` of a parser, which the parser process imports; raises `ValueError` for a
    parser it could not import (a lambda, a nested function)."""
    module, name = getattr(parser, "__module__", None), getattr(parser, "__qualname__", "")
    if not module or not name or "<" in name:
        raise ValueError(f"{parser!r} is not a module-level function a parser process can import")
    return f"{module}:{name}"


def resolve_parser(reference: str) -> Parser:
    """The parser a `parser_reference` names (imported on first use)."""
    module_name, _, name = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in name.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise ProtocolError(f"{reference} is not callable")
    parser: Parser = target
    return parser


def encode_request(reference: str, fallback_title: str, options: ParseOptions) -> bytes:
    fields = {"parser": reference, "fallback_title": fallback_title, "options": asdict(options)}
    return json.dumps(fields).encode()


def decode_request(message: bytes) -> tuple[str, str, ParseOptions]:
    fields = _object(message)
    reference, fallback_title = fields.get("parser"), fields.get("fallback_title")
    options = fields.get("options")
    if not isinstance(reference, str) or not isinstance(fallback_title, str) or not isinstance(options, dict):
        raise ProtocolError("a request names its parser, fallback title and options")
    try:
        return reference, fallback_title, ParseOptions(**options)
    except TypeError as exc:
        raise ProtocolError(f"bad parse options: {exc}") from None


def encode_result(result: ParseResult, *, retire: bool) -> bytes:
    fields: dict[str, Any]
    if isinstance(result, ParsedDocument):
        sections = [[list(section.heading), section.text] for section in result.sections]
        fields = {
            "kind": "parsed",
            "title": result.title,
            "sections": sections,
            "parser": result.parser,
            "ocr_pages": result.ocr_pages,
            "notes": list(result.notes),
        }
    else:
        fields = {"kind": "skipped" if isinstance(result, Skipped) else "failed", "reason": result.reason}
    fields["retire"] = retire
    # Parsers may return lone surrogates (undecodable bytes kept as text): carried through unchanged.
    return json.dumps(fields, ensure_ascii=False).encode("utf-8", "surrogatepass")


def decode_result(message: bytes) -> tuple[ParseResult, bool]:
    """The result and whether the process retires; raises `ProtocolError` for anything else."""
    fields = _object(message)
    kind, retire = fields.get("kind"), fields.get("retire")
    if not isinstance(retire, bool):
        raise ProtocolError("an answer says whether its process retires")
    if kind in ("skipped", "failed"):
        reason = fields.get("reason")
        if not isinstance(reason, str):
            raise ProtocolError("a skipped or failed answer has a reason")
        return (Skipped(reason) if kind == "skipped" else Failed(reason)), retire
    title, sections = fields.get("title"), fields.get("sections")
    parser, ocr_pages, notes = fields.get("parser"), fields.get("ocr_pages"), fields.get("notes")
    if kind != "parsed" or not isinstance(title, str) or not isinstance(sections, list):
        raise ProtocolError("an answer is parsed (title, sections), skipped or failed")
    if not isinstance(parser, str) or not isinstance(ocr_pages, int) or not isinstance(notes, list):
        raise ProtocolError("a parsed answer names its parser, OCR pages and notes")
    document = ParsedDocument(
        title=title,
        sections=[_section(item) for item in sections],
        parser=parser,
        ocr_pages=ocr_pages,
        notes=tuple(str(note) for note in notes),
    )
    return document, retire


def _section(item: Any) -> Section:
    if isinstance(item, list) and len(item) == 2:
        heading, text = item
        if isinstance(heading, list) and all(isinstance(h, str) for h in heading) and isinstance(text, str):
            return Section(heading=tuple(heading), text=text)
    raise ProtocolError("a section is [heading names, text]")


def _object(message: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(message.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not a JSON message: {exc}") from None
    if not isinstance(fields, dict):
        raise ProtocolError("a message is a JSON object")
    return fields
