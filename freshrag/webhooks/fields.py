"""Reading a CMS entry's fields: title, text, public URL and version, as a `ContentTypeMapping` says.

Shared by every platform and by the worker that fetches an entry's text, so an entry reads the same
whichever way it arrived.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from freshrag.webhook_settings import ContentTypeMapping
from freshrag.webhooks.model import EntryDoc, EntryEvent, PayloadError
from freshrag.webhooks.richtext import to_markdown

# Bookkeeping fields every platform adds; never part of an entry's text.
METADATA_FIELDS = frozenset(
    {
        "id", "uuid", "key", "documentId", "slug", "locale", "status", "url", "uri", "permalink", "type",
        "createdAt", "updatedAt", "publishedAt", "created_at", "updated_at", "published_at", "sort",
        "user_created", "user_updated", "date_created", "date_updated", "localizations", "createdBy",
        "updatedBy", "canonical_url", "comment_id", "visibility", "email_segment",
    }
)  # fmt: skip
_FORMATTER = string.Formatter()


def entry_text(fields: Mapping[str, Any], mapping: ContentTypeMapping) -> tuple[str, str]:
    """The entry's title and its text as Markdown (every text field but the title unless `mapping.body`
    names the fields)."""
    title_field = next((name for name in mapping.title if _plain(fields.get(name))), None)
    title = _plain(fields.get(title_field)) if title_field else ""
    if mapping.body is not None:
        names = list(mapping.body)
    else:
        names = [
            name
            for name in fields
            if name != title_field and name not in METADATA_FIELDS and not name.startswith("_")
        ]
    parts = [text for name in names if (text := to_markdown(fields.get(name)))]
    return title, "\n\n".join(parts)


def with_default_body(mapping: ContentTypeMapping, body: tuple[str, ...]) -> ContentTypeMapping:
    """`mapping`, reading `body` unless the user named the fields (for platforms with a known text field)."""
    return mapping if mapping.body is not None else mapping.model_copy(update={"body": body})


def _plain(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def fill(template: str | None, values: Mapping[str, Any], *, quoted: bool = False) -> str:
    """`template` with `{name}` replaced by the entry's values (each URL-quoted whole if `quoted`, so that
    no value reaches beyond its place in the path); "" when a named value is missing."""
    if not template:
        return ""
    usable = {k: str(v) for k, v in values.items() if isinstance(v, str | int)}
    try:
        return template.format_map({k: quote(v, safe="") for k, v in usable.items()} if quoted else usable)
    except (KeyError, ValueError, IndexError, AttributeError):
        return ""


def id_part(value: str) -> str:
    """One part of a `source:type:id[:locale]` key, with `:` (and `%`) escaped so that no two entries share
    a key: `a:b` + `c` and `a` + `b:c` stay apart. Ordinary ids are unchanged."""
    return value.replace("%", "%25").replace(":", "%3A")


def template_names(template: str) -> list[str]:
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name]


def timestamp_ms(value: Any) -> int | None:
    """Milliseconds since the epoch of an ISO 8601 time ('2024-01-01T00:00:00.000Z', or WordPress'
    '2018-11-06 14:19:18' in UTC); None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", text):
        text += "+00:00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def or_receipt(version: int | None, received_at: float) -> tuple[int, bool]:
    """(`version`, True), or the receipt time in milliseconds and False when the platform gave none."""
    return (version, True) if version is not None else (int(received_at * 1000), False)


def require(data: Any, *path: str) -> Any:
    """`data[path[0]][path[1]]...`, or a `PayloadError` naming the missing field."""
    value = data
    for depth, name in enumerate(path):
        if not isinstance(value, Mapping) or value.get(name) in (None, ""):
            raise PayloadError(f"missing required field '{'.'.join(path[: depth + 1])}'")
        value = value[name]
    return value


def dotted(data: Any, path: str) -> Any:
    for name in filter(None, path.split(".")):
        data = data.get(name) if isinstance(data, Mapping) else None
    return data


def entry_event(
    source: str,
    content_type: str,
    entry_id: str,
    version: int,
    documents: Sequence[tuple[str | None, Mapping[str, Any]]] | None,
    mapping: ContentTypeMapping,
    uri: str = "",
    locale: str | None = None,
    *,
    versioned: bool = True,
    partial: bool = False,
    says_published: bool = True,
    keep_fields: bool = False,
    withhold: bool = False,
) -> EntryEvent:
    """The event for one entry: `documents` holds (locale, fields) per document (an entry with all its
    locales in one payload, as Contentful sends), None when it is gone. Platforms that send one locale per
    event pass it as `locale`: each locale is then an entry of its own. `keep_fields` stores the fields
    with each document, for the partial updates of platforms that send only what changed; `withhold` keeps
    the documents of an entry that is not published out of search (as `EntryEvent.withheld`)."""
    entry_key = f"{source}:{id_part(content_type)}:{id_part(entry_id)}" + (
        f":{id_part(locale)}" if locale else ""
    )
    docs = []
    for doc_locale, fields in documents or ():
        doc_locale = doc_locale or locale
        doc_id = f"{entry_key}:{id_part(doc_locale)}" if doc_locale and not locale else entry_key
        where = _Where(doc_id, entry_id, content_type, doc_locale or "", uri)
        docs.append(_entry_doc(where, fields, mapping, keep_fields))
    shown, withheld = ((), tuple(docs)) if withhold else (tuple(docs), ())
    return EntryEvent(
        entry_key,
        source,
        content_type,
        version,
        shown,
        versioned,
        partial,
        says_published,
        entry_id,
        withheld,
        merged=keep_fields,
    )


def merged_doc(
    event: EntryEvent, doc: EntryDoc, stored_fields: Mapping[str, Any], mapping: ContentTypeMapping
) -> EntryDoc:
    """`doc` of a partial update rendered from the stored fields with the event's on top: a field the
    update does not carry keeps its stored value."""
    where = _Where(doc.doc_id, event.entry_id, event.content_type, "", doc.uri)
    return _entry_doc(where, {**stored_fields, **(doc.fields or {})}, mapping, keep_fields=True)


@dataclass(frozen=True)
class _Where:
    """Where a document comes from: what a `uri` or `fetch_url` template may name besides the fields."""

    doc_id: str
    entry_id: str
    content_type: str
    locale: str
    uri: str


def _entry_doc(
    where: _Where, fields: Mapping[str, Any], mapping: ContentTypeMapping, keep_fields: bool
) -> EntryDoc:
    values = {**fields, "id": where.entry_id, "content_type": where.content_type, "locale": where.locale}
    link = fill(mapping.uri, values) or where.uri or where.doc_id
    if mapping.fetch_url:
        fetch_url = fill(mapping.fetch_url, values, quoted=True)
        if not fetch_url:
            names = ", ".join(template_names(mapping.fetch_url))
            raise PayloadError(f"fetch_url for {where.content_type!r} needs field(s) {names} in the payload")
        return EntryDoc(where.doc_id, "", "", link, fetch_url)
    title, body = entry_text(fields, mapping)
    return EntryDoc(where.doc_id, title, body, link, fields=dict(fields) if keep_fields else None)
