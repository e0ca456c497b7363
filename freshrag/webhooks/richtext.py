"""CMS rich-text formats (Contentful, Sanity, Strapi, HTML) turned into Markdown for the Markdown parser.

Headings become '#' lines (so they become sections), lists '- '/'1. ' items and quotes '> ' lines; embedded
entries, images and other non-text nodes are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from selectolax.lexbor import LexborNode

from freshrag.html_text import MAX_DEPTH, drop_invisible, parse_bounded, tidy

_HTML_HINT = re.compile(
    r"</?(?:p|h[1-6]|div|br|hr|li|ul|ol|span|a|strong|em|b|i|img|table|tr|td|blockquote|pre|code|figure|"
    r"section|article)(?:\s[^<>]*)?/?>|<!--\s*(?:/?wp:|kg-card)",
    re.IGNORECASE,
)
_BLOCKS = (
    "p, div, ul, ol, table, section, article, aside, header, footer, main, dd, dt, dl, figure, "
    "figcaption, form, fieldset, address"
)
# Private-use markers survive text extraction: list indentation and preformatted text slots.
_INDENT, _SLOT = "\ue002", "\ue003"
# Rich text is an editor's (or anyone's) payload: nesting deeper than MAX_DEPTH is read as plain text, and
# Portable Text and HTML list items deeper than _MAX_LIST_LEVEL are indented as that level, so that no input
# costs recursion, or work or output more than linear in its size.
_MAX_LIST_LEVEL = 8


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


def _whole(value: Any, default: int) -> int:
    """`value` as a whole number ("2" and 2.0 too), or `default` for anything else (an object, NaN, inf)."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _string(value: Any) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int | float) else ""


def _texts(root: dict[str, Any], children: str, text: Callable[[dict[str, Any]], str | None]) -> list[str]:
    """The texts of `root` and all that is under it (`text` of a node, or else its `children`'s), in order;
    iterative, so that any depth of nesting reads."""
    parts: list[str] = []
    pending: list[Iterator[dict[str, Any]]] = [iter([root])]
    while pending:
        node = next(pending[-1], None)
        if node is None:
            pending.pop()
        elif (value := text(node)) is not None:
            parts.append(value)
        else:
            pending.append(iter(_dicts(node.get(children))))
    return parts


def _flat(parts: list[str]) -> str:
    """Texts of structure past the depth limit, read as one line (spaced: their blocks' breaks are gone)."""
    return " ".join(" ".join(parts).split())


def _cf_texts(node: dict[str, Any]) -> list[str]:
    return _texts(node, "content", lambda n: _string(n.get("value")) if n.get("nodeType") == "text" else None)


def _cf_inline(node: dict[str, Any]) -> str:
    return "".join(_cf_texts(node))


def _cf_blocks(nodes: list[dict[str, Any]], depth: int = 0) -> list[str]:
    if depth >= MAX_DEPTH:  # deeper structure is read as plain text
        return [text for node in nodes if (text := _flat(_cf_texts(node)))]
    out: list[str] = []
    for node in nodes:
        kind, children = str(node.get("nodeType") or ""), _dicts(node.get("content"))
        if kind.startswith("heading-") and kind[-1] in "0123456789":
            out.append(_heading(int(kind[-1]), _cf_inline(node)))
        elif kind in ("unordered-list", "ordered-list"):
            items = [_join(_cf_blocks(_dicts(item.get("content")), depth + 1), "\n") for item in children]
            out.append(_list(items, ordered=kind == "ordered-list"))
        elif kind == "blockquote":
            out.append(_quote(_join(_cf_blocks(children, depth + 1))))
        elif kind == "hr":
            out.append("---")
        elif kind == "table":
            rows = [
                [
                    _join(_cf_blocks(_dicts(cell.get("content")), depth + 1), " ")
                    for cell in _dicts(row.get("content"))
                ]
                for row in children
            ]
            out.append("\n".join("| " + " | ".join(" ".join(c.split()) for c in row) + " |" for row in rows))
        elif kind in ("paragraph", "text") or kind.endswith("hyperlink"):
            out.append(_cf_inline(node))
        else:  # document, list-item, table cells, embedded blocks (text only if they carry any), new types
            out.extend(_cf_blocks(children, depth + 1))
    return [block for block in out if block.strip()]


def contentful_rich_text(document: dict[str, Any]) -> str:
    """Render a Contentful Rich Text document (or any of its nodes) as Markdown."""
    return _join(_cf_blocks([document]))


def portable_text(blocks: list[Any]) -> str:
    """Render Sanity Portable Text blocks as Markdown, skipping non-text blocks such as code and images."""
    out: list[str] = []
    lines: list[str] = []  # of the list being read, joined into one block when it ends
    levels: list[tuple[str, int, int]] = []  # open list levels: (bullet|number, items so far, indent)
    for block in _dicts(blocks):
        if block.get("_type") != "block":
            continue
        text = " ".join("".join(_string(span.get("text")) for span in _dicts(block.get("children"))).split())
        if not text:
            continue
        kind, style = block.get("listItem"), str(block.get("style") or "normal")
        if not kind:
            if lines:
                out.append("\n".join(lines))
                lines = []
            levels.clear()
            level = int(style[1]) if re.fullmatch(r"h[1-6]", style) else 0
            out.append(_heading(level, text) if level else _quote(text) if style == "blockquote" else text)
            continue
        # `level` is the payload's: clamped, or a level of 10**8 would open 10**8 lists.
        depth = min(max(_whole(block.get("level"), 1), 1), _MAX_LIST_LEVEL)
        del levels[depth:]
        while len(levels) < depth:
            parent = levels[-1] if levels else None
            indent = parent[2] + (len(f"{parent[1]}. ") if parent[0] == "number" else 2) if parent else 0
            levels.append((str(kind), 0, indent))
        previous = levels[-1]
        count = previous[1] + 1 if previous[0] == kind else 1
        levels[-1] = (str(kind), count, previous[2])
        lines.append(" " * previous[2] + (f"{count}. " if kind == "number" else "- ") + text)
    if lines:
        out.append("\n".join(lines))
    return _join(out)


def _strapi_texts(node: dict[str, Any]) -> list[str]:
    return _texts(node, "children", lambda n: _string(n.get("text")) if n.get("type") == "text" else None)


def _strapi_inline(node: dict[str, Any]) -> str:
    return "".join(_strapi_texts(node))


def strapi_blocks(blocks: list[Any]) -> str:
    """Render Strapi v5 "blocks" rich text as Markdown, skipping images."""
    return _strapi_blocks(_dicts(blocks), 0)


def _strapi_blocks(blocks: list[dict[str, Any]], depth: int) -> str:
    if depth >= MAX_DEPTH:  # deeper structure is read as plain text
        return _join([_flat(_strapi_texts(node)) for node in blocks])
    out: list[str] = []
    for node in blocks:
        kind = node.get("type")
        if kind == "heading":
            out.append(_heading(_whole(node.get("level"), 1), _strapi_inline(node)))
        elif kind == "list":
            items: list[list[str]] = []  # each item's text, then the lists indented under it
            for child in _dicts(node.get("children")):
                nested = child.get("type") == "list"  # an indented list follows the item it belongs to
                text = _strapi_blocks([child], depth + 1) if nested else _strapi_inline(child)
                if nested and items:
                    items[-1].append(text)
                else:
                    items.append([text])
            out.append(_list(["\n".join(item) for item in items], ordered=node.get("format") == "ordered"))
        elif kind == "quote":
            out.append(_quote(_strapi_inline(node)))
        elif kind == "code":
            code = _strapi_inline(node).strip("\n")
            out.append(f"```{_string(node.get('language'))}\n{code}\n```" if code.strip() else "")
        elif kind != "image":
            out.append(_strapi_inline(node))
    return _join(out)


def html_to_markdown(html: str) -> str:
    """Render the visible text of an HTML fragment as Markdown (headings, paragraphs, lists, quotes, code)."""
    tree = parse_bounded(html)
    drop_invisible(tree)
    preformatted: dict[str, str] = {}
    for node in tree.css("pre"):  # outermost first: a <pre> inside another is part of its text
        slot = str(len(preformatted))
        preformatted[slot] = node.text(separator="").strip("\n")
        node.replace_with(f"\n\n{_SLOT}{slot}{_SLOT}\n\n")
    for node in tree.css("h1, h2, h3, h4, h5, h6"):
        node.replace_with(f"\n\n{_heading(int((node.tag or 'h1')[1]), node.text(separator=' '))}\n\n")
    for node in tree.css("br"):
        node.replace_with("\n")
    for node in tree.css("hr"):
        node.replace_with("\n\n---\n\n")
    for node in reversed(tree.css("tr")):
        cells = [" ".join(cell.text(separator=" ").split()) for cell in node.css("td, th")]
        node.replace_with(f"| {' | '.join(cells)} |\n")
    root = tree.root
    markers, nested_lists = _list_markers(root) if root is not None and tree.css_first("li") else ([], set())
    for node, marker in markers:
        node.insert_before(marker)
    for node in tree.css(_BLOCKS):
        if node.mem_id in nested_lists:
            continue  # a nested list stays tight under its item
        node.insert_before("\n\n")
        node.insert_after("\n\n")
    for node in reversed(tree.css("blockquote")):
        node.replace_with(f"\n\n{_quote(tidy(node.text(separator='')))}\n\n")
    body = tree.body if tree.body is not None else tree.root
    text = tidy(body.text(separator="") if body is not None else "").replace(_INDENT, "   ")
    # A slot number that is not ours (the page's own private-use characters) reads as nothing.
    return re.sub(
        f"{_SLOT}(\\d+){_SLOT}",
        lambda match: f"```\n{preformatted[match[1]]}\n```" if match[1] in preformatted else "",
        text,
    )


@dataclass
class _Children:
    """Elements still to visit under one open element, and the lists around them."""

    nodes: Iterator[LexborNode]
    level: int = 0  # how many lists are around them
    ordered: bool = False  # the innermost of those lists is an <ol>
    in_item: bool = False  # a list item is around them
    items: int = 0  # <li> among them so far


def _list_markers(root: LexborNode) -> tuple[list[tuple[LexborNode, str]], set[int]]:
    """Each <li>'s marker ('1. ' numbered among its siblings in an <ol>, '- ' otherwise, indented by its
    list level) and the `mem_id`s of the lists nested in an item: one walk over the tree, no recursion."""
    markers: list[tuple[LexborNode, str]] = []
    nested: set[int] = set()
    pending = [_Children(root.iter())]
    while pending:
        siblings = pending[-1]
        node = next(siblings.nodes, None)
        if node is None:
            pending.pop()
            continue
        children = _Children(node.iter(), siblings.level, siblings.ordered, siblings.in_item)
        if node.tag == "li":
            siblings.items += 1
            indent = _INDENT * min(max(siblings.level - 1, 0), _MAX_LIST_LEVEL - 1)
            markers.append((node, f"\n{indent}{f'{siblings.items}. ' if siblings.ordered else '- '}"))
            children.in_item = True
        elif node.tag in ("ul", "ol"):
            if siblings.in_item:
                nested.add(node.mem_id)
            children.level += 1
            children.ordered = node.tag == "ol"
        pending.append(children)
    return markers, nested


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
