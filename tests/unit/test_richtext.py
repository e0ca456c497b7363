"""CMS rich text (Contentful, Sanity, Strapi, HTML) rendered as Markdown, on small inline payloads."""

from __future__ import annotations

from typing import Any

import pytest

from freshrag.webhooks.richtext import (
    contentful_rich_text,
    html_to_markdown,
    looks_like_html,
    portable_text,
    strapi_blocks,
    to_markdown,
)


def _cf(node_type: str, *content: dict[str, Any]) -> dict[str, Any]:
    return {"nodeType": node_type, "data": {}, "content": list(content)}


def _cf_text(value: str) -> dict[str, Any]:
    return {"nodeType": "text", "value": value, "marks": [], "data": {}}


def _cf_para(value: str) -> dict[str, Any]:
    return _cf("paragraph", _cf_text(value))


def _pt(text: str, **extra: Any) -> dict[str, Any]:
    block = {"_type": "block", "_key": "k", "style": "normal", "markDefs": [], **extra}
    return {**block, "children": [{"_type": "span", "_key": "s", "text": text, "marks": []}]}


def _st(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


CONTENTFUL_DOC = _cf(
    "document",
    _cf("heading-2", _cf_text("Adventure Trips")),
    _cf_para("We are a boutique tour operator."),
    _cf(
        "unordered-list",
        _cf("list-item", _cf_para("Hiking"), _cf("ordered-list", _cf("list-item", _cf_para("Alps")))),
        _cf("list-item", _cf_para("Kayaking")),
    ),
    _cf("blockquote", _cf_para("Best trip ever")),
    _cf("paragraph", _cf_text("Read "), _cf("hyperlink", _cf_text("our reviews")), _cf_text(".")),
    {"nodeType": "embedded-asset-block", "data": {"target": {"sys": {"type": "Link"}}}, "content": []},
    _cf("hr"),
    _cf(
        "table",
        _cf("table-row", _cf("table-header-cell", _cf_para("Price")), _cf("table-cell", _cf_para("99"))),
    ),
)


def test_contentful_rich_text_renders_headings_lists_and_links() -> None:
    text = contentful_rich_text(CONTENTFUL_DOC)
    assert text.startswith("## Adventure Trips\n\nWe are a boutique tour operator.")
    assert "- Hiking\n  1. Alps\n- Kayaking" in text
    assert "> Best trip ever" in text
    assert "Read our reviews." in text
    assert "| Price | 99 |" in text
    assert "---" in text
    assert "Link" not in text


def test_portable_text_skips_code_images_and_empty_blocks() -> None:
    blocks = [
        _pt("Setup", style="h1"),
        _pt("This is a paragraph"),
        _pt(""),
        {"_key": "c", "_type": "code", "language": "javascript", "code": 'const code = "Should be ignored"'},
        {"_key": "i", "_type": "image", "asset": {"_ref": "image-abc"}},
        _pt("Install the extension", listItem="bullet", level=1),
        _pt("Open VS Code", listItem="number", level=2),
        _pt("Run the snippet", listItem="number", level=2),
        _pt("Done", listItem="bullet", level=1),
        _pt("Quoted", style="blockquote"),
    ]
    text = portable_text(blocks)
    assert text.startswith("# Setup\n\nThis is a paragraph\n\n")
    assert "- Install the extension\n  1. Open VS Code\n  2. Run the snippet\n- Done" in text
    assert "> Quoted" in text
    assert "ignored" not in text
    assert "image" not in text


def test_strapi_blocks_keep_code_and_skip_images() -> None:
    blocks = [
        {"type": "heading", "level": 3, "children": [_st("Opening hours")]},
        {
            "type": "paragraph",
            "children": [_st("Visit "), {"type": "link", "url": "/x", "children": [_st("us")]}],
        },
        {
            "type": "list",
            "format": "ordered",
            "children": [
                {"type": "list-item", "children": [_st("Monday")]},
                {
                    "type": "list",
                    "format": "unordered",
                    "children": [{"type": "list-item", "children": [_st("9-5")]}],
                },
                {"type": "list-item", "children": [_st("Tuesday")]},
            ],
        },
        {"type": "image", "image": {"url": "/cat.png", "alternativeText": "cat"}, "children": [_st("")]},
        {"type": "quote", "children": [_st("Always open")]},
        {"type": "code", "language": "python", "children": [_st("print('hours')")]},
    ]
    text = strapi_blocks(blocks)
    assert text.startswith("### Opening hours\n\nVisit us\n\n")
    assert "1. Monday\n   - 9-5\n2. Tuesday" in text
    assert "> Always open" in text
    assert "```python\nprint('hours')\n```" in text
    assert "cat" not in text


GUTENBERG = """<!-- wp:heading --><h2 class="wp-block-heading">Shipping policy</h2><!-- /wp:heading -->
<!-- wp:paragraph --><p>We ship <em>worldwide</em>.<br>Returns are free.</p><!-- /wp:paragraph -->
<!-- wp:list --><ul><li>Europe<ol><li>France</li><li>Spain</li></ol></li><li>Asia</li></ul><!-- /wp:list -->
<script>track('secret-tracker')</script><style>.hidden { color: red }</style>
<blockquote><p>Fast delivery</p></blockquote><img src="/truck.png" alt="truck">
<pre><code># not a heading
print()</code></pre>"""


def test_html_to_markdown_renders_blocks_and_drops_scripts() -> None:
    text = html_to_markdown(GUTENBERG)
    assert text.startswith("## Shipping policy\n\nWe ship worldwide.\nReturns are free.")
    assert "- Europe\n   1. France\n   2. Spain\n- Asia" in text
    assert "> Fast delivery" in text
    assert "```\n# not a heading\nprint()\n```" in text
    assert "wp:" not in text
    assert "secret-tracker" not in text
    assert "color" not in text


def test_html_to_markdown_ghost_headings_become_markdown_headings() -> None:
    html = "<!--kg-card-begin: markdown--><h1>HTML Ipsum</h1><p><b>Morbi</b> tristique</p><h3>Level 3</h3>"
    assert html_to_markdown(html) == "# HTML Ipsum\n\nMorbi tristique\n\n### Level 3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>Hello</p>", True),
        ("line<br/>break", True),
        ("<!-- wp:paragraph -->Hi<!-- /wp:paragraph -->", True),
        ('<h2 id="x">Title</h2>', True),
        ("a < b and c > d", False),
        ("use <placeholder> here", False),
        ("plain text", False),
    ],
)
def test_looks_like_html(text: str, expected: bool) -> None:
    assert looks_like_html(text) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  vscode tools \n", "vscode tools"),
        ("a < b", "a < b"),
        ("<p>Hello <b>world</b></p>", "Hello world"),
        (["vscode", " snippet", ""], "vscode, snippet"),
        (_cf("document", _cf_para("Test")), "Test"),
        ([_pt("This is a paragraph"), {"_type": "code", "code": "x"}], "This is a paragraph"),
        ([{"type": "paragraph", "children": [_st("Paris")]}], "Paris"),
        ("", None),
        ("   ", None),
        (42, None),
        (True, None),
        (None, None),
        ({"sys": {"type": "Link", "linkType": "Entry", "id": "7sT7h"}}, None),
        ([{"sys": {"type": "Link", "linkType": "Asset", "id": "1CK"}}], None),
        ([{"_key": "1", "_type": "link", "title": "repo", "url": "https://example.com"}], None),
        ([], None),
        ([1, 2], None),
    ],
)
def test_to_markdown_dispatch(value: object, expected: str | None) -> None:
    assert to_markdown(value) == expected
