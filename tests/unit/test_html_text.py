"""The one bounded HTML reader behind watched HTML files and CMS rich text."""

from __future__ import annotations

import time

from freshrag.html_text import MAX_DEPTH, bounded_html, parse_bounded
from freshrag.parsing.html import parse_html
from freshrag.parsing.model import ParsedDocument, ParseOptions
from freshrag.webhooks.richtext import html_to_markdown


def test_a_file_of_100000_nested_divs_is_read_in_linear_time() -> None:
    """lexbor alone took 45 s over this (quadratic in the depth); bounded, it is well under a second."""
    data = b"<html><head><title>Deep</title></head><body>" + b"<div>" * 100_000 + b"innermost words"
    started = time.perf_counter()
    result = parse_html(data, "deep", ParseOptions())
    seconds = time.perf_counter() - started
    assert isinstance(result, ParsedDocument)
    assert result.title == "Deep"
    assert "innermost words" in "\n".join(section.text for section in result.sections)
    assert seconds < 5, f"{seconds:.1f} s: the deep file took the parser's slow path"


def test_the_stream_never_nests_deeper_than_the_bound() -> None:
    stream = bounded_html("<section>" * 1000 + "x" + "</section>" * 1000)
    assert stream.count("<section>") == MAX_DEPTH
    assert stream.count("</section>") == MAX_DEPTH


def test_files_and_rich_text_drop_the_same_invisible_elements() -> None:
    html = "<nav>menu</nav><script>var x</script><style>p{}</style><p>shown</p>"
    tree = parse_bounded(html)
    assert tree.css_first("nav") is not None  # dropped by the renderers, not by parsing
    document = parse_html(html.encode(), "page", ParseOptions())
    assert isinstance(document, ParsedDocument)
    assert [section.text for section in document.sections] == ["shown"]
    assert html_to_markdown(html) == "shown"
