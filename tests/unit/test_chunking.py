from freshrag.chunking import Chunker
from freshrag.parsing import ParsedDocument, Section


def words(text: str) -> int:
    return len(text.split())


def paragraph(n: int, topic: str) -> str:
    return " ".join(f"{topic}{n}w{i}" for i in range(25))


def test_an_edit_in_one_section_leaves_the_other_sections_chunks_identical() -> None:
    chunker = Chunker(words, max_tokens=120, target_tokens=80)
    sections = [
        Section(("Doc", f"Part {s}"), "\n\n".join(paragraph(p, f"s{s}") for p in range(12))) for s in range(4)
    ]
    before = chunker.chunk(ParsedDocument("Doc", sections))
    edited = list(sections)
    edited[2] = Section(
        edited[2].heading, edited[2].text.replace("s2p", "s2p").replace("s23w4", "CHANGED", 1)
    )
    after = chunker.chunk(ParsedDocument("Doc", edited))
    untouched = lambda chunks: [c for c in chunks if c.heading != ("Doc", "Part 2")]  # noqa: E731
    assert [c.key for c in untouched(before)] == [c.key for c in untouched(after)]
    assert {c.key for c in before} != {c.key for c in after}


def test_an_edited_paragraph_in_a_long_section_changes_few_chunks() -> None:
    chunker = Chunker(words, max_tokens=120, target_tokens=80)
    paragraphs = [paragraph(p, "x") for p in range(150)]
    before = chunker.chunk(ParsedDocument("Long", [Section((), "\n\n".join(paragraphs))]))
    for position in (3, 70, 140):
        edited = list(paragraphs)
        edited[position] = edited[position] + " and one more sentence about it"
        after = chunker.chunk(ParsedDocument("Long", [Section((), "\n\n".join(edited))]))
        changed = {c.key for c in after} - {c.key for c in before}
        assert len(before) >= 40
        assert len(changed) <= 2, f"editing paragraph {position} changed {len(changed)} chunks"


def test_chunks_never_exceed_the_token_budget_even_for_one_huge_paragraph() -> None:
    chunker = Chunker(words, max_tokens=64, target_tokens=48)
    text = ". ".join(f"sentence number {i} has a few words" for i in range(400))
    chunks = chunker.chunk(ParsedDocument("T", [Section(("H",), text)]))
    assert len(chunks) > 10
    assert all(words(c.embed_text) <= 64 for c in chunks)
    assert "sentence number 399" in chunks[-1].text


def test_repeated_passages_get_distinct_keys_and_carry_title_and_heading() -> None:
    chunker = Chunker(words, max_tokens=64, target_tokens=10)
    chunks = chunker.chunk(
        ParsedDocument("Title", [Section(("Title", "A"), "same text"), Section(("Title", "A"), "same text")])
    )
    assert len({c.key for c in chunks}) == 2
    assert chunks[0].embed_text.startswith("Title\nA\n\n")
    assert chunks[0].text == "same text"
