"""What `POST /ask` adds on top of `/search` when the answer model answers instantly: retrieval is the same
search, so the difference is building the prompt, one round trip to a chat endpoint, citation checking and
the answer's bookkeeping (metrics, the answers log).

SciFact abstracts (5 to a Markdown file) go into a fresh watched folder of a `freshrag up`; a local
OpenAI-compatible endpoint (tests/fake_openai.py) answers every chat completion at once, citing passage [1].
`FRESHRAG_ANSWER_MIN_SCORE=-1` makes every question reach the model. For each SciFact query, one client sends
`POST /search {"query", "k": 5}` and `POST /ask {"question", "k": 5}`, in alternating order, one request at a
time; latency is measured at the client. Also timed in process: building the prompt of 5 passages and
checking the citations of an answer, alone.

    .venv/bin/python benchmarks/ask_overhead.py [--docs 200] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import PROJECT, SHARED_DATA, distribution, save, start_up, stop

from freshrag.answers.citations import check_citations
from freshrag.answers.prompt import build_prompt
from freshrag.search import SearchResult

sys.path.insert(0, str(PROJECT))
from tests.fake_openai import answer_from_passages, fake_openai

SCIFACT = SHARED_DATA / "ir" / "scifact"


def write_corpus(folder: Path, docs: int) -> int:
    texts = []
    with (SCIFACT / "corpus.jsonl").open() as corpus:
        for line, _ in zip(corpus, range(docs), strict=False):
            entry = json.loads(line)
            texts.append(f"## {entry['title']}\n\n{entry['text']}")
    files = 0
    for start in range(0, len(texts), 5):
        (folder / f"abstracts-{start:05d}.md").write_text("\n\n".join(texts[start : start + 5]))
        files += 1
    return files


def queries(limit: int) -> list[str]:
    with (SCIFACT / "queries.jsonl").open() as lines:
        return [json.loads(line)["text"] for line, _ in zip(lines, range(limit), strict=False)]


def in_process(rounds: int = 2000) -> dict[str, dict[str, float]]:
    """Prompt building and citation checking alone, in milliseconds, for 5 passages of about 160 tokens."""
    passages = [
        SearchResult(f"file:/d/{n}.md", f"/d/{n}.md", "A title", ["A title", "A section"], "word " * 130,
                     0.8, 0.8, 1, 0.0)
        for n in range(5)
    ]  # fmt: skip
    building, checking = [], []
    for _ in range(rounds):
        began = time.perf_counter()
        prompt = build_prompt("What does the abstract find?", passages, "Answer from the passages.", 3000)
        built = time.perf_counter()
        check_citations("It finds this [1] and that [2, 3], not [9].", prompt.passages)
        checking.append((time.perf_counter() - built) * 1000)
        building.append((built - began) * 1000)
    return {"build_prompt_ms": distribution(building), "check_citations_ms": distribution(checking)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, fake_openai() as model:
        model.chat_reply = answer_from_passages
        folder, data = Path(scratch) / "inbox", Path(scratch) / "data"
        folder.mkdir()
        files = write_corpus(folder, args.docs)
        process, client = start_up(
            folder,
            data,
            cwd=PROJECT,
            FRESHRAG_OPENAI_BASE_URL=model.base_url,
            FRESHRAG_OPENAI_API_KEY="sk-test",
            FRESHRAG_ANSWER_MIN_SCORE="-1",
            FRESHRAG_CANARY_INTERVAL_SECONDS="0",
            FRESHRAG_DRIFT_INTERVAL_SECONDS="0",
        )
        try:
            deadline = time.monotonic() + 600
            while client.get("/status").json()["documents"].get("indexed", 0) < files:
                if time.monotonic() > deadline:
                    raise RuntimeError("the corpus was not indexed in 10 minutes")
                time.sleep(0.5)
            for question in queries(5):  # warm both paths
                client.post("/search", json={"query": question, "k": 5})
                client.post("/ask", json={"question": question, "k": 5})
            search_ms, ask_ms, generation_ms, retrieval_ms = [], [], [], []
            for number, question in enumerate(queries(args.queries)):
                calls = [("search", {"query": question, "k": 5}), ("ask", {"question": question, "k": 5})]
                for route, body in calls if number % 2 == 0 else calls[::-1]:
                    began = time.perf_counter()
                    response = client.post(f"/{route}", json=body)
                    took = (time.perf_counter() - began) * 1000
                    response.raise_for_status()
                    if route == "search":
                        search_ms.append(took)
                    else:
                        answer = response.json()
                        assert answer["outcome"] == "answered", answer
                        ask_ms.append(took)
                        generation_ms.append(answer["generation_ms"])
                        retrieval_ms.append(answer["retrieval_ms"])
        finally:
            stop(process)
    search, ask = distribution(search_ms), distribution(ask_ms)
    result = {
        "docs": args.docs,
        "files": files,
        "queries": len(search_ms),
        "search_ms": search,
        "ask_ms": ask,
        "ask_over_search_ms": {
            "p50": round(ask["p50"] - search["p50"], 2),
            "p99": round(ask["p99"] - search["p99"], 2),
        },
        "ask_generation_ms": distribution(generation_ms),
        "ask_retrieval_ms": distribution(retrieval_ms),
        "in_process": in_process(),
    }
    save("ask_overhead", result)


if __name__ == "__main__":
    main()
