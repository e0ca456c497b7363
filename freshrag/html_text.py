"""HTML to visible text, for watched files (`freshrag.parsing.html`) and CMS rich text
(`freshrag.webhooks.richtext`) alike: the markup is first rewritten with its nesting bounded, then parsed,
and what a reader never sees (scripts, styles, navigation...) is dropped.

The bound is what keeps any input linear: lexbor walks the open elements at many tags, so a document nested
100,000 deep costs it time quadratic in the depth. Both renderers go through `parse_bounded`.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

# Elements nested deeper than this are dropped, their text kept.
MAX_DEPTH = 64
INVISIBLE = "script, style, noscript, template, svg, iframe, object, head, nav"


def parse_bounded(html: str) -> LexborHTMLParser:
    """The parsed tree of `html`, its nesting bounded at `MAX_DEPTH` (see `bounded_html`)."""
    return LexborHTMLParser(bounded_html(html))


def drop_invisible(tree: LexborHTMLParser) -> None:
    """Remove what a reader never sees: scripts, styles, templates, embedded objects, the head, navigation."""
    for node in tree.css(INVISIBLE):
        node.decompose()


def tidy(text: str) -> str:
    """Runs of spaces as one space, at most one blank line in a row, no blank lines at either end."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# The HTML tokenizer's tokens: text, comments, doctypes and other <!...>/<?...>, tags (up to their '>', which
# a quoted attribute value may contain; a tag the end of the document cuts off has none) and a lone '<'.
# Possessive quantifiers: every token is read once, whatever the input.
_TOKEN = re.compile(
    r"(?P<text>[^<]++)"
    r"|<!--(?:-?>|.*?(?:--!?>|\Z))"
    r"|<(?:[!?]|/(?![a-zA-Z]))[^>]*+>?"
    r"|<(?P<end>/?)(?P<name>[a-zA-Z][^\t\n\f\r />]*+)"
    r"(?P<attributes>(?:[^>=]++|=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >]*+))*+)(?P<close>>)?"
    r"|<",
    re.DOTALL,
)
# Never left open: void elements, and html, head and body, which the parser opens itself, once.
_VOID = frozenset(
    {
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img", "input",
        "keygen", "link", "meta", "param", "source", "track", "wbr", "html", "head", "body",
    }
)  # fmt: skip
# Elements whose content is text up to their end tag (outside <svg> and <math>); a script's is dropped.
_RAW_TEXT = {
    name: re.compile(f"</{name}[\\t\\n\\f\\r />]", re.IGNORECASE)
    for name in ("script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title")
}
# Open elements a start tag closes when they are the current one, as the parser does: <p>, <li>, <td>...
# left unclosed do not nest.
_BLOCK_STARTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "listing", "main", "menu",
        "nav", "ol", "p", "pre", "section", "summary", "table", "ul",
    }
)  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_CLOSES: dict[str, frozenset[str]] = {
    **dict.fromkeys(_BLOCK_STARTS, frozenset({"p"})),
    **dict.fromkeys(_HEADINGS, _HEADINGS | {"p"}),
    "li": frozenset({"li", "p"}),
    **dict.fromkeys(("dd", "dt"), frozenset({"dd", "dt", "p"})),
    **dict.fromkeys(("td", "th"), frozenset({"td", "th"})),
    "tr": frozenset({"td", "th", "tr"}),
    **dict.fromkeys(("thead", "tbody", "tfoot"), frozenset({"td", "th", "tr", "thead", "tbody", "tfoot"})),
    "option": frozenset({"option"}),
    "optgroup": frozenset({"option", "optgroup"}),
}


def bounded_html(html: str) -> str:
    """`html` rewritten as a well-formed stream with at most `MAX_DEPTH` elements open at once: deeper tags
    are dropped (their text stays), an end tag closes the elements opened after its own element and is
    dropped when it matches none, and attributes, comments and scripts go.

    The parser walks the open elements at most tags, so a deep document costs it time quadratic in its depth
    (100,000 nested <div>, 500 kB, took it 45 s), and it reopens formatting elements that block tags closed,
    up to three alike, so without attributes to tell them apart those stay few. What the parser reads then
    never nests much deeper than this stream, whatever its own rules for misnested markup do with it."""
    out: list[str] = []
    emit = out.append
    stack: list[str] = []  # open elements, innermost last
    dropped = 0  # tags opened past MAX_DEPTH and not closed yet
    position = 0
    while (token := _TOKEN.match(html, position)) is not None:
        position = token.end()
        text, end, name, attributes, close = token.groups()
        if text is not None:
            emit(text)
        elif name is None:
            emit("&lt;" if token[0] == "<" else "")  # a comment or doctype reads as nothing
        elif close is None:
            break  # a tag cut off by the end of the document, which the parser drops too
        elif end:
            name = name.lower()
            if name in _HEADINGS:  # any heading's end tag closes the open heading, as the parser reads it
                name = next((element for element in reversed(stack) if element in _HEADINGS), name)
            if name == "br":
                emit("<br>")  # the parser reads </br> as <br>
            elif dropped:
                dropped -= 1
                emit(" ")
            elif name in stack:
                while stack[-1] != name:
                    emit(f"</{stack.pop()}>")
                emit(f"</{stack.pop()}>")
            elif name == "p":
                emit("<p></p>")  # the parser reads a stray </p> as an empty paragraph
        else:
            name = name.lower()
            raw_text = _RAW_TEXT.get(name)
            if name in _VOID:
                emit(f"<{name}>")
            elif raw_text is not None and "svg" not in stack and "math" not in stack:
                found = raw_text.search(html, position)
                text_end = found.start() if found is not None else len(html)
                if name != "script":
                    emit(f"<{name}>{html[position:text_end]}</{name}>")
                position = text_end  # its end tag closes nothing open here: dropped
            elif name == "plaintext" and "svg" not in stack and "math" not in stack:
                emit(f"<plaintext>{html[position:]}")
                break
            elif attributes.rstrip("\t\n\f\r ").endswith("/"):
                emit(f"<{name}></{name}>")
            elif dropped or len(stack) >= MAX_DEPTH:
                dropped += 1
                emit(" ")
            else:
                closes = _CLOSES.get(name)
                while closes and stack and stack[-1] in closes:
                    emit(f"</{stack.pop()}>")
                stack.append(name)
                emit(f"<{name}>")
    return "".join(out)
