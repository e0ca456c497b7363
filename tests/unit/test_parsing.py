import codecs

from freshrag.parsing import Failed, ParsedDocument, Skipped, parse_file


def test_markdown_sections_follow_headings_but_not_hashes_in_code() -> None:
    source = (
        b"---\ntitle: x\n---\n# Guide\nintro\n\n"
        b"## Install\n```sh\n# not a heading\npip install\n```\n## Use\nrun it\n"
    )
    doc = parse_file("guide.md", source)
    assert isinstance(doc, ParsedDocument)
    assert doc.title == "Guide"
    assert [s.heading for s in doc.sections] == [("Guide",), ("Guide", "Install"), ("Guide", "Use")]
    assert "# not a heading" in doc.sections[1].text
    assert "title: x" not in " ".join(s.text for s in doc.sections)


def test_html_drops_scripts_and_styles_and_splits_at_headings() -> None:
    source = (
        b"<html><head><title>T</title><style>p{}</style></head><body><script>var x=1;</script>"
        b"<h1>Top</h1><p>one <b>bold</b> word</p><h2>Sub</h2><p>two</p></body></html>"
    )
    doc = parse_file("page.html", source)
    assert isinstance(doc, ParsedDocument)
    assert doc.title == "T"
    texts = {s.heading: s.text for s in doc.sections}
    assert texts[("Top",)] == "one bold word"
    assert texts[("Top", "Sub")] == "two"
    assert "var x" not in str(texts)


def test_text_in_legacy_encodings_is_decoded() -> None:
    phrase = "Grüße aus Köln, naïve café"
    for data in (
        phrase.encode("latin-1"),
        codecs.BOM_UTF16_LE + phrase.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + phrase.encode("utf-16-be"),
        phrase.encode("utf-16-le"),
        phrase.encode("utf-32"),
        phrase.encode("utf-8"),
    ):
        doc = parse_file("note.txt", data)
        assert isinstance(doc, ParsedDocument)
        assert doc.sections[0].text == phrase


def test_unsupported_empty_and_broken_files_are_reported_not_raised() -> None:
    unsupported = parse_file("archive.zip", b"PK\x03\x04")
    assert isinstance(unsupported, Skipped)
    assert "'.zip'" in unsupported.reason
    assert isinstance(parse_file("blank.txt", b"  \n\t\n"), Skipped)
    assert isinstance(parse_file("noext", b"hello"), Skipped)
    broken_docx = parse_file("fake.docx", b"this is not a zip file")
    assert isinstance(broken_docx, Failed)
    assert "not a .docx file" in broken_docx.reason
    broken_pdf = parse_file("fake.pdf", b"%PDF-1.4 garbage")
    assert isinstance(broken_pdf, Failed)
