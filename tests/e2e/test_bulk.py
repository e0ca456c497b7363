"""`freshrag ingest` and `freshrag eval` on the shared real data, run as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from freshrag.documents import DocStatus
from freshrag.settings import load_settings
from freshrag.store import open_store
from tests.e2e.conftest import run

SIZE_LIMIT = 2_000_000  # the four files over 2 MB show the size limit (and keep the test short)


@pytest.mark.timeout(900)  # 1.5 million characters to embed on 2 cores, beside the other test process
def test_every_shared_file_is_indexed_or_reported_with_a_reason(
    shared_data: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    files = shared_data / "files"
    listed = (files / "MANIFEST.tsv").read_text().splitlines()[1:]
    expected = {line.split("\t")[0] for line in listed if line.strip()} | {"MANIFEST.tsv", "SOURCE.txt"}
    result = run(["ingest", str(files)], env | {"FRESHRAG_MAX_FILE_BYTES": str(SIZE_LIMIT)}, tmp_path)
    assert result.returncode == 1, result.stderr  # some real files fail (encrypted PDF, fake .docx): exit 1
    assert "ingest summary" in result.stdout
    assert "encrypted PDF" in result.stdout

    status = json.loads(run(["status", "--json"], env, tmp_path).stdout)
    assert status["documents"]["indexed"] > 30
    assert all(problem["reason"] for problem in status["problems"])
    assert status["problems_by_reason"]["encrypted"] == 2  # the PDF and the workbook that need a password

    store = open_store(load_settings(data_dir=tmp_path / "data"))
    try:
        records = {Path(r.uri).relative_to(files).as_posix(): r for r in store.records()}
    finally:
        store.close()
    assert set(records) == expected
    for name, record in records.items():
        if record.status is DocStatus.INDEXED:
            assert record.chunk_count > 0, name
        else:
            assert record.status in (DocStatus.SKIPPED, DocStatus.FAILED), name
            assert record.reason, name
    reasons = {name: records[name].reason or "" for name in records}
    assert "password" in reasons["awkward/encrypted-password.pdf"]
    assert "password" in reasons["awkward/password_protected.xlsx"]
    assert "OCR found no text" in reasons["awkward/fax-image-only_imagemagick-CCITTFaxDecode.pdf"]
    scan = records["awkward/scanned-image-only_loremipsum-flat.pdf"]
    assert (scan.status, scan.ocr_pages, scan.parser) == (
        DocStatus.INDEXED,
        1,
        "pdf: pypdfium2 + Tesseract OCR",
    )
    for read in (
        "awkward/legacy.doc",
        "other/fake-doc.rtf",
        "other/simple.odt",
        "other/fake-power-point.pptx",
        "other/stanley-cups.xlsx",
        "other/stanley-cups.csv",
        "other/winter-sports.epub",
        "other/fake-email.eml",
        "awkward/email-no-utf8.eml",
    ):
        assert records[read].status is DocStatus.INDEXED, (read, records[read].reason)
    assert "over the limit" in reasons["awkward/huge_400p.pdf"]
    assert "no extractable text" in reasons["awkward/empty.txt"]
    for decoded in (
        "awkward/utf-16-be.txt",
        "awkward/utf-32.txt",
        "awkward/latin1_umlauts-non-utf8.md",
        "awkward/cp1252.html",
        "awkward/huge_handbook-872p.docx",
        "pdf/habibi-arabic.pdf",
    ):
        assert records[decoded].status is DocStatus.INDEXED, decoded

    found = run(
        ["search", "hamburgers are delicious and dogs are the best", "-k", "20", "--json"], env, tmp_path
    )
    uris = {hit["uri"] for hit in json.loads(found.stdout)["results"]}
    assert str(files / "awkward" / "utf-16-be.txt") in uris

    again = run(["ingest", str(files)], env | {"FRESHRAG_MAX_FILE_BYTES": str(SIZE_LIMIT)}, tmp_path)
    assert re.search(r"chunks embedded\s*│\s*0\s", again.stdout), (
        again.stdout
    )  # nothing changed: nothing embedded


def test_eval_scores_a_beir_dataset(shared_data: Path, tmp_path: Path, env: dict[str, str]) -> None:
    scifact = shared_data / "ir" / "scifact"
    dataset = tmp_path / "mini"
    (dataset / "qrels").mkdir(parents=True)
    judgments = [line.split("\t") for line in (scifact / "qrels" / "test.tsv").read_text().splitlines()[1:41]]
    wanted = {doc for _, doc, _ in judgments}
    corpus = [line for line in (scifact / "corpus.jsonl").read_text().splitlines() if line.strip()]
    kept = [line for line in corpus if json.loads(line)["_id"] in wanted] + corpus[:100]
    (dataset / "corpus.jsonl").write_text("\n".join(kept))
    asked = {query for query, _, _ in judgments}
    queries = (scifact / "queries.jsonl").read_text().splitlines()
    (dataset / "queries.jsonl").write_text(
        "\n".join(line for line in queries if line.strip() and json.loads(line)["_id"] in asked)
    )
    (dataset / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "\n".join("\t".join(j) for j in judgments)
    )

    result = run(["eval", "--dataset", str(dataset), "--json"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(scores) >= {"ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10"}
    assert scores["ndcg_at_10"] > 0.6  # a small corpus is easier than the full 5,183 documents
    assert scores["recall_at_100"] >= scores["recall_at_10"]
    assert (scores["mode"], scores["weights"]) == ("hybrid", [1.0, 1.0])  # the default without a golden set

    keyword = run(["eval", "--dataset", str(dataset), "--mode", "keyword", "--json"], env, tmp_path)
    assert keyword.returncode == 0, keyword.stderr
    assert json.loads(keyword.stdout.strip().splitlines()[-1])["mode"] == "keyword"
    unknown = run(["eval", "--dataset", str(dataset), "--mode", "semantic"], env, tmp_path)
    assert unknown.returncode == 2
    assert "mode: 'semantic' is not a search mode" in unknown.stderr

    missing = run(["eval", "--dataset", str(tmp_path / "nowhere")], env, tmp_path)
    assert missing.returncode == 2
    assert "nowhere" in missing.stderr
    assert "is missing" in missing.stderr
