"""CMS rich-text formats (Contentful, Sanity, Strapi, HTML) turned into Markdown for the Markdown parser.

Headings become '#' lines (so they become sections), lists '- '/'1. ' items and quotes '> ' lines; embedded
entries, images and other non-text nodes are dropped.
"""

from __future__ import annotations

import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser

_HTML_HINT = re.compile(
    r"</?(?:p|h[1-6]|div|br|hr|li|ul|ol|span|a|strong|em|b|i|img|table|tr|td|blockquote|pre|code|figure|"
    r"section|article)(?:\s[^<>]*)?/?>|<!--\s*(?:/?wp:|kg-card)",
    re.IGNORECASE,
)
_INVISIBLE = "script, style, noscript, template, svg, iframe, object, head, nav"
_BLOCKS = (
    "p, div, ul, ol, table, section, article, aside, header, footer, main, dd, dt, dl, figure, "
    "figcaption, form, fieldset, address"
)
# Private-use markers survive text extraction: list indentation and preformatted text slots.
_INDENT, _SLOT = "\ue002", "\ue003"


def _join(blocks: list[str], separator: str = "\n\n") -> str:
    return separator.join(block for block in blocks if block.strip())


def _heading(level: int, text: str) -> str:
    text = " ".join(text.split())
    return f"{'#' * min(max(level, 1), 6)} {text}" if text else ""


def _list(items: list[str], ordered: bool) -> str:
    lines: list[str] = []
    for number, item in enumerate((item for item in items if item.strip()), 1):
        marker = f"{number}. " if ordered else "- "
        first, *rest = item.split("\n")
        lines.append(marker + first)
        lines.extend(" " * len(marker) + line if line else "" for line in rest)
    return "\n".join(lines)


def _quote(text: str) -> str:
    return (
        "\n".join(f"> {line}" if line else ">" for line in text.strip().split("\n")) if text.strip() else ""
    )


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _cf_inline(node: dict[str, Any]) -> str:
    if node.get("nodeType") == "text":
        return str(node.get("value") or "")
    return "".join(_cf_inline(child) for child in _dicts(node.get("content")))


def _cf_blocks(nodes: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for node in nodes:
        kind, children = str(node.get("nodeType") or ""), _dicts(node.get("content"))
        if kind.startswith("heading-") and kind[-1].isdigit():
            out.append(_heading(int(kind[-1]), _cf_inline(node)))
        elif kind in ("unordered-list", "ordered-list"):
            items = [_join(_cf_blocks(_dicts(item.get("content"))), "\n") for item in children]
            out.append(_list(items, ordered=kind == "ordered-list"))
        elif kind == "blockquote":
            out.append(_quote(_join(_cf_blocks(children))))
        elif kind == "hr":
            out.append("---")
        elif kind == "table":
            rows = [
                [_join(_cf_blocks(_dicts(cell.get("content"))), " ") for cell in _dicts(row.get("content"))]
                for row in children
            ]
            out.append("\n".join("| " + " | ".join(" ".join(c.split()) for c in row) + " |" for row in rows))
        elif kind in ("paragraph", "text") or kind.endswith("hyperlink"):
            out.append(_cf_inline(node))
        else:  # document, list-item, table cells, embedded blocks (text only if they carry any), new types
            out.extend(_cf_blocks(children))
    return [block for block in out if block.strip()]


def contentful_rich_text(document: dict[str, Any]) -> str:
    """Render a Contentful Rich Text document (or any of its nodes) as Markdown."""
    return _join(_cf_blocks([document]))


def portable_text(blocks: list[Any]) -> str:
    """Render Sanity Portable Text blocks as Markdown, skipping non-text blocks such as code and images."""
    out: list[str] = []
    levels: list[tuple[str, int, int]] = []  # open list levels: (bullet|number, items so far, indent)
    for block in _dicts(blocks):
        if block.get("_type") != "block":
            continue
        text = " ".join(
            "".join(str(span.get("text") or "") for span in _dicts(block.get("children"))).split()
        )
        if not text:
            continue
        kind, style = block.get("listItem"), str(block.get("style") or "normal")
        if not kind:
            levels.clear()
            level = int(style[1]) if re.fullmatch(r"h[1-6]", style) else 0
            out.append(_heading(level, text) if level else _quote(text) if style == "blockquote" else text)
            continue
        depth, continuing = max(int(block.get("level") or 1), 1), bool(levels)
        del levels[depth:]
        while len(levels) < depth:
            parent = levels[-1] if levels else None
            indent = parent[2] + (len(f"{parent[1]}. ") if parent[0] == "number" else 2) if parent else 0
            levels.append((str(kind), 0, indent))
        previous = levels[-1]
        count = previous[1] + 1 if previous[0] == kind else 1
        levels[-1] = (str(kind), count, previous[2])
        line = " " * previous[2] + (f"{count}. " if kind == "number" else "- ") + text
        if continuing:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return _join(out)


def _strapi_inline(node: dict[str, Any]) -> str:
    if node.get("type") == "text":
        return str(node.get("text") or "")
    return "".join(_strapi_inline(child) for child in _dicts(node.get("children")))


def strapi_blocks(blocks: list[Any]) -> str:
    """Render Strapi v5 "blocks" rich text as Markdown, skipping images."""
    out: list[str] = []
    for node in _dicts(blocks):
        kind = node.get("type")
        if kind == "heading":
            out.append(_heading(int(node.get("level") or 1), _strapi_inline(node)))
        elif kind == "list":
            items: list[str] = []
            for child in _dicts(node.get("children")):
                nested = child.get("type") == "list"  # an indented list follows the item it belongs to
                text = strapi_blocks([child]) if nested else _strapi_inline(child)
                if nested and items:
                    items[-1] += "\n" + text
                else:
                    items.append(text)
            out.append(_list(items, ordered=node.get("format") == "ordered"))
        elif kind == "quote":
            out.append(_quote(_strapi_inline(node)))
        elif kind == "code":
            code = _strapi_inline(node).strip("\n")
            out.append(f"```{node.get('language') or ''}\n{code}\n```" if code.strip() else "")
        elif kind != "image":
            out.append(_strapi_inline(node))
    return _join(out)


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_markdown(html: str) -> str:
    """Render the visible text of an HTML fragment as Markdown (headings, paragraphs, lists, quotes, code)."""
    tree = LexborHTMLParser(html)
    for node in tree.css(_INVISIBLE):
        node.decompose()
    preformatted: list[str] = []
    for node in reversed(tree.css("pre")):
        preformatted.append(node.text(separator="").strip("\n"))
        node.replace_with(f"\n\n{_SLOT}{len(preformatted) - 1}{_SLOT}\n\n")
    for node in tree.css("h1, h2, h3, h4, h5, h6"):
        node.replace_with(f"\n\n{_heading(int((node.tag or 'h1')[1]), node.text(separator=' '))}\n\n")
    for node in tree.css("br"):
        node.replace_with("\n")
    for node in tree.css("hr"):
        node.replace_with("\n\n---\n\n")
    for node in reversed(tree.css("tr")):
        cells = [" ".join(cell.text(separator=" ").split()) for cell in node.css("td, th")]
        node.replace_with(f"| {' | '.join(cells)} |\n")
    for node in tree.css("li"):
        lists = [parent for parent in _ancestors(node) if parent.tag in ("ul", "ol")]
        ordered = bool(lists) and lists[0].tag == "ol"
        number = sum(1 for sibling in _ancestors(node, "prev") if sibling.tag == "li") + 1
        node.insert_before(f"\n{_INDENT * max(len(lists) - 1, 0)}{f'{number}. ' if ordered else '- '}")
    for node in tree.css(_BLOCKS):
        if node.tag in ("ul", "ol") and any(parent.tag == "li" for parent in _ancestors(node)):
            continue  # a nested list stays tight under its item
        node.insert_before("\n\n")
        node.insert_after("\n\n")
    for node in reversed(tree.css("blockquote")):
        node.replace_with(f"\n\n{_quote(_tidy(node.text(separator='')))}\n\n")
    body = tree.body if tree.body is not None else tree.root
    text = _tidy(body.text(separator="") if body is not None else "").replace(_INDENT, "   ")
    return re.sub(
        f"{_SLOT}(\\d+){_SLOT}", lambda match: f"```\n{preformatted[int(match.group(1))]}\n```", text
    )


def _ancestors(node: Any, step: str = "parent") -> list[Any]:
    found: list[Any] = []
    current = getattr(node, step)
    while current is not None:
        found.append(current)
        current = getattr(current, step)
    return found


def looks_like_html(text: str) -> bool:
    """Tell whether a string carries HTML markup (a known tag or a Gutenberg/Ghost comment), not just '<'."""
    return _HTML_HINT.search(text) is not None


def to_markdown(value: object) -> str | None:
    """Render a CMS field value as Markdown, or None when it is not text (numbers, links, empty values)."""
    text = ""
    if isinstance(value, str):
        text = html_to_markdown(value) if looks_like_html(value) else value.strip()
    elif isinstance(value, dict) and value.get("nodeType") == "document":
        text = contentful_rich_text(value)
    elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        text = ", ".join(item.strip() for item in value if item.strip())  # tags and keywords
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        if all("_type" in item for item in value):
            text = portable_text(value)
        elif all("type" in item for item in value) and any("children" in item for item in value):
            text = strapi_blocks(value)
    return text or None
