"""CMS rich text (Contentful, Sanity, Strapi, HTML) rendered as Markdown, on small inline payloads."""

from __future__ import annotations

from collections.abc import Callable
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


# Rich text comes from the payload, so its size and shape are anyone's: nothing in it may cost recursion, or
# work and output more than linear in its size. (The old code took minutes on some of these.)
DEEP = 500  # nesting levels: past the depth limit, and past Python's recursion limit for a recursive renderer


def _nest(depth: int, wrap: Callable[[Any], Any], inner: Any) -> Any:
    for _ in range(depth):
        inner = wrap(inner)
    return inner


@pytest.mark.parametrize(
    "level", [10**8, 10**9, -3, 0, "2", "x", None, [2], 1e300, float("inf"), float("nan")]
)
def test_portable_text_list_levels_are_clamped(level: object) -> None:
    text = portable_text(
        [_pt("Top", listItem="bullet", level=1), _pt("Deep", listItem="bullet", level=level)]
    )
    assert text.startswith("- Top\n")
    assert text.endswith("- Deep")
    assert len(text) < 40  # indented as level 8 at most: 7 levels of 2 spaces


def test_portable_text_keeps_every_item_of_a_deep_and_long_list() -> None:
    blocks = [_pt(f"item {level}", listItem="number", level=level) for level in range(1, DEEP + 1)]
    blocks += [_pt(f"sibling {n}", listItem="number", level=1) for n in range(20_000)]
    lines = portable_text(blocks).split("\n")
    assert [line.strip() for line in lines[:8]] == [f"1. item {level}" for level in range(1, 9)]
    assert lines[8] == lines[7].replace("1. item 8", "2. item 9")  # items past level 8 are read at level 8
    assert lines[DEEP - 1].strip() == f"{DEEP - 7}. item {DEEP}"
    assert lines[-1] == "20001. sibling 19999"  # after "1. item 1", at level 1


def test_html_ordered_list_of_20000_items_is_numbered_in_one_pass() -> None:
    # Numbering each item by counting its preceding siblings took the old code ~50 s for 10,000 items.
    items = 20_000
    html = "<ol>" + "".join(f"<li>item {n}</li>" for n in range(1, items + 1)) + "</ol>"
    assert html_to_markdown(html).split("\n") == [f"{n}. item {n}" for n in range(1, items + 1)]
    assert html_to_markdown("<ul>" + "<li>x</li>" * items + "</ul>") == "\n".join(["- x"] * items)


def _cf_item(node: dict[str, Any]) -> dict[str, Any]:
    return _cf("unordered-list", _cf("list-item", node))


def _cf_cell(node: dict[str, Any]) -> dict[str, Any]:
    return _cf("table", _cf("table-row", _cf("table-cell", node)))


@pytest.mark.parametrize(
    "document",
    [
        _nest(DEEP, lambda n: _cf("hyperlink", n), _cf_text("innermost")),
        _nest(DEEP, lambda n: _cf("paragraph", n), _cf_text("innermost")),
        _nest(DEEP, lambda n: _cf("blockquote", n), _cf_para("innermost")),
        _nest(DEEP, _cf_item, _cf_para("innermost")),
        _nest(DEEP, _cf_cell, _cf_para("innermost")),
        _nest(DEEP, lambda n: {"nodeType": "embedded-entry-block", "content": [n]}, _cf_para("innermost")),
    ],
    ids=["hyperlinks", "paragraphs", "quotes", "lists", "tables", "unknown-nodes"],
)
def test_deeply_nested_contentful_rich_text_keeps_its_innermost_text(document: dict[str, Any]) -> None:
    text = contentful_rich_text(_cf("document", document))
    assert "innermost" in text
    assert len(text) < 50 * DEEP  # quotes and indentation stop at the depth limit


def test_contentful_nesting_within_the_depth_limit_keeps_its_structure() -> None:
    quotes = contentful_rich_text(_nest(10, lambda n: _cf("blockquote", n), _cf_para("inner")))
    assert quotes == "> " * 10 + "inner"
    lists = _nest(10, lambda n: _cf("ordered-list", _cf("list-item", _cf_para("item"), n)), _cf_para("in"))
    assert contentful_rich_text(lists).split("\n")[-2:] == [" " * 27 + "1. item", " " * 30 + "in"]
    past_the_limit = _nest(DEEP, lambda n: _cf("blockquote", _cf_para("outer"), n), _cf_para("inner"))
    innermost = contentful_rich_text(past_the_limit).split("\n")[-1]  # quoted as deep as the limit, then flat
    assert innermost.endswith(" outer outer inner")
    assert innermost.count(">") < DEEP
    assert innermost.count(">") + innermost.split().count("outer") == DEEP


@pytest.mark.parametrize(
    "blocks",
    [
        [_nest(DEEP, lambda n: {"type": "link", "url": "/x", "children": [n]}, _st("innermost"))],
        [_nest(DEEP, lambda n: {"type": "list", "format": "ordered", "children": [n]}, _st("innermost"))],
        [_nest(DEEP, lambda n: {"type": "quote", "children": [n]}, _st("innermost"))],
    ],
    ids=["links", "lists", "quotes"],
)
def test_deeply_nested_strapi_blocks_keep_their_innermost_text(blocks: list[Any]) -> None:
    text = strapi_blocks(blocks)
    assert "innermost" in text
    assert len(text) < 50 * DEEP


@pytest.mark.parametrize("level", [10**9, float("inf"), "two", [3]])
def test_strapi_heading_level_from_the_payload_never_raises(level: object) -> None:
    assert strapi_blocks([{"type": "heading", "level": level, "children": [_st("Title")]}]).endswith(" Title")


@pytest.mark.parametrize(
    ("opening", "depth"),
    [
        ("<div>", DEEP),
        ("<ul><li>", DEEP),
        ("<blockquote>", DEEP),
        ("<table><tr><td>", DEEP),
        ("<h1><div>", DEEP),
        ("<pre>", DEEP),
        ("<b><div></b>", DEEP),
        ("<div>", 100_000),  # 500 kB: the parser itself took 45 s over it, being quadratic in the depth
        ("<ul><li>", 100_000),
    ],
)
def test_deeply_nested_html_keeps_its_innermost_text(opening: str, depth: int) -> None:
    text = html_to_markdown(opening * depth + "innermost")
    assert "innermost" in text
    assert len(text) < 20 * depth


def test_nested_html_within_the_depth_limit_keeps_its_structure() -> None:
    assert html_to_markdown("<ul><li>" * 3 + "inner") == "- \n   - \n      - inner".replace(" \n", "\n")
    assert html_to_markdown("<blockquote>" * 5 + "inner") == "> " * 5 + "inner"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>a<p>b", "a\n\nb"),
        ("<ul><li>a<li>b</ul>", "- a\n- b"),
        ("<ol><li>a<ol><li>b</ol><li>c</ol>", "1. a\n   1. b\n2. c"),
        ("<table><tr><td>a<td>b<tr><td>c</table>", "| a | b |\n| c |"),
        ("<h1>a<h2>b</h1>c", "# a\n\n## b\n\nc"),
        ("<div><span>x</div>y", "x\n\ny"),
        ('<p><a href="x>y" title=\'"\'>link</a></p>', "link"),
        ("<p>a</p>b</p>c", "a\n\nb\n\nc"),
        ('<script>if (a < b) { s = "</div>"; }</script><p>text', "text"),
        ("<svg><style><div>x</div></style></svg><p>y", "x\n\ny"),
        ("<textarea><b>x</b></textarea>", "<b>x</b>"),
        ("a < b and <p>x</p>", "a < b and\n\nx"),
        ("<pre>a<pre>b</pre>c</pre>", "```\nabc\n```"),
        ("<p>cut off <b", "cut off"),
    ],
)
def test_html_sloppy_markup_reads_as_browsers_read_it(html: str, expected: str) -> None:
    assert html_to_markdown(html) == expected


def test_html_private_use_characters_like_our_markers_read_as_nothing() -> None:
    assert html_to_markdown("<p>\ue0035\ue003 and &#xe003;99&#xe003;</p>").strip() == "and"
