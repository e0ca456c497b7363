"""Blue/green model switches on the real pipeline: a second model (the packaged weights under another
version, so no training is needed here) is switched in while users search and files change."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from freshrag.bluegreen import Switch
from freshrag.documents import DocStatus
from freshrag.embedding import PACKAGED_MODEL, resolve_model_dir
from freshrag.runtime import Runtime
from freshrag.search import SearchResponse
from freshrag.state.registry import Backend, ModelRun, RunStatus
from freshrag.store import SearchMode, chunk_collection
from freshrag.training.switching import switch_target, switch_to
from tests.conftest import eventually
from tests.integration.conftest import System

OTHER = "minilm-copy"


@pytest.fixture(scope="session")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models-other") / OTHER
    shutil.copytree(resolve_model_dir(PACKAGED_MODEL), folder)
    return folder


def candidate(runtime: Runtime, path: Path) -> ModelRun:
    run = ModelRun(
        version=OTHER,
        backend=Backend.LOCAL,
        status=RunStatus.CANDIDATE,
        created_at=time.time(),
        base_model=PACKAGED_MODEL,
        path=str(path),
    )
    runtime.registry.put(run)
    return run


def topic(i: int) -> str:
    words = ["glacier", "volcano", "harbour", "orchard", "lighthouse", "desert", "canyon", "meadow"]
    return words[i % len(words)]


def write_docs(system: System, count: int) -> None:
    for i in range(count):
        body = f"Field notes {i} on the {topic(i)}.\n\n" + f"The {topic(i)} number {i} was surveyed. " * 30
        (system.inbox / f"doc-{i:03}.md").write_text(f"# Survey {i}: {topic(i)}\n\n{body}\n")


def wait_indexed(system: System, names: list[str]) -> None:
    eventually(
        lambda: system.settled() and all(system.status_of(n) is DocStatus.INDEXED for n in names),
        timeout=240,
    )


def scores(answer: SearchResponse) -> dict[str, float]:
    """Each document's score, the edited doc-003 left out."""
    return {hit.doc_id: hit.score for hit in answer.results if not hit.uri.endswith("doc-003.md")}


def expected_ids(runtime: Runtime) -> set[str]:
    return {p for r in runtime.store.records(status=DocStatus.INDEXED) for p in r.chunk_ids}


def test_alias_swap_under_concurrent_searches_never_fails_nor_comes_back_empty(
    start_system: Callable[..., System], other_model: Path
) -> None:
    system = start_system()
    runtime = system.runtime
    write_docs(system, 20)
    wait_indexed(system, [f"doc-{i:03}.md" for i in range(20)])
    run = candidate(runtime, other_model)
    runtime.models.embedder(run)  # the ONNX export, once, before the clock matters
    failures: list[str] = []
    versions: Counter[str] = Counter()
    stop = threading.Event()

    def search_until_stopped() -> None:
        while not stop.is_set():
            try:
                answer = runtime.search.search("volcano survey", 5)
            except Exception as exc:
                failures.append(repr(exc))
                continue
            if not answer.results:
                failures.append(f"empty answer from {answer.model_version}")
            versions[answer.model_version] += 1

    searchers = [threading.Thread(target=search_until_stopped) for _ in range(3)]
    for thread in searchers:
        thread.start()
    switch = Switch(runtime.store, runtime.models, runtime.locks, runtime.chunker)
    switch.prepare(run)
    switch.swap(run)
    time.sleep(1.5)
    stop.set()
    for thread in searchers:
        thread.join()

    assert failures == []
    assert versions[PACKAGED_MODEL] > 0, versions  # searches ran before the swap...
    assert versions[OTHER] > 0, versions  # ...and after it
    assert runtime.search.search("volcano survey", 5).model_version == OTHER
    assert runtime.store.live_collection() == chunk_collection(OTHER)
    assert runtime.registry.get(OTHER).status is RunStatus.LIVE  # type: ignore[union-attr]
    assert runtime.registry.get(PACKAGED_MODEL).status is RunStatus.RETIRED  # type: ignore[union-attr]


def test_edits_during_a_reembed_are_present_after_the_swap(
    start_system: Callable[..., System], other_model: Path
) -> None:
    system = start_system()
    runtime = system.runtime
    names = [f"doc-{i:03}.md" for i in range(70)]
    write_docs(system, 70)  # more chunks than one copy batch: the edits land between two batches
    wait_indexed(system, names)
    run = candidate(runtime, other_model)
    edited: list[tuple[int, int]] = []

    def edit_while_copying(stage: str, done: int, total: int) -> None:
        if edited:
            return
        # The switch has copied its first batch and is writing to both collections: change files now,
        # and let the worker apply the changes before the copy goes on.
        (system.inbox / "doc-001.md").write_text(
            "# Survey 1 rewritten\n\nThe zeppelin hangar was surveyed.\n"
        )
        (system.inbox / "doc-new.md").write_text("# New survey\n\nA submarine pen was surveyed today.\n")
        (system.inbox / "doc-002.md").unlink()
        edited.append((done, total))
        eventually(
            lambda: (
                system.settled()
                and system.status_of("doc-new.md") is DocStatus.INDEXED
                and system.status_of("doc-002.md") is DocStatus.DELETED
                and "zeppelin"
                in " ".join(h.text for h in runtime.search.search("zeppelin hangar", 3).results)
            ),
            timeout=120,
        )

    switch = Switch(runtime.store, runtime.models, runtime.locks, runtime.chunker, edit_while_copying)
    report = switch.prepare(run)
    switch.swap(run)

    assert edited
    assert edited[0][0] < edited[0][1], "the edits were made while chunks were still being copied"
    assert report.copied > 0
    new = chunk_collection(OTHER)
    assert set(runtime.store.chunk_ids(new)) == expected_ids(runtime)  # no missing, stale or orphan chunk
    answer = runtime.search.search("zeppelin hangar", 3)
    assert answer.model_version == OTHER
    assert answer.results[0].uri.endswith("doc-001.md")
    assert "zeppelin" in answer.results[0].text
    assert runtime.search.search("submarine pen", 1).results[0].uri.endswith("doc-new.md")
    everything = runtime.search.search("survey", 100).results
    assert not any(hit.uri.endswith("doc-002.md") for hit in everything)
    assert not any("Field notes 1 " in hit.text for hit in everything)  # the old text of doc-001 is gone


def test_rollback_restores_the_previous_model_and_its_results_with_later_edits(
    start_system: Callable[..., System], other_model: Path
) -> None:
    system = start_system()
    runtime = system.runtime
    write_docs(system, 20)
    wait_indexed(system, [f"doc-{i:03}.md" for i in range(20)])
    # Dense scores: the model's vectors alone (hybrid scores also move with the keyword statistics, which the
    # edit below changes).
    before = runtime.search.search("lighthouse survey", 100, mode=SearchMode.DENSE)
    switch_to(runtime, candidate(runtime, other_model), lambda *_: None)
    assert runtime.search.search("lighthouse survey", 5).model_version == OTHER

    (system.inbox / "doc-003.md").write_text("# Survey 3 rewritten\n\nThe observatory dome was surveyed.\n")
    eventually(
        lambda: system.settled() and "observatory" in runtime.search.search("observatory", 1).results[0].text
    )
    target = switch_target(runtime, None)
    assert target.version == PACKAGED_MODEL
    switch_to(runtime, target, lambda *_: None)

    after = runtime.search.search("lighthouse survey", 100, mode=SearchMode.DENSE)
    assert after.model_version == PACKAGED_MODEL
    assert runtime.store.live_collection() == chunk_collection(PACKAGED_MODEL)
    assert scores(after) == scores(before)  # every other document ranks exactly as before the switch
    assert "observatory" in runtime.search.search("observatory dome", 1).results[0].text  # edited meanwhile
    assert set(runtime.store.chunk_ids(chunk_collection(PACKAGED_MODEL))) == expected_ids(runtime)
    assert runtime.registry.get(OTHER).status is RunStatus.RETIRED  # type: ignore[union-attr]
