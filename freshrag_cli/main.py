"""The `freshrag` command: the one composition root allowed to start every role."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from freshrag.answers.model import QuestionError
from freshrag.answers.routes import UnknownRouteError
from freshrag.evaluation import DatasetError
from freshrag.queue import BrokerUnavailableError
from freshrag.retrieval import RetrievalError
from freshrag.settings import Settings, SettingsError, load_settings
from freshrag.store import StoreCorruptError, StoreLockedError
from freshrag_cli.client import ApiClient, InstanceUnreachableError
from freshrag_cli.models import finetune, models_app, use_settings
from freshrag_cli.render import print_advice, print_answer, print_search, print_status

app = typer.Typer(help="Keep a RAG index as fresh as the documents behind it.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

WatchOption = Annotated[
    list[Path] | None, typer.Option("--watch", "-w", help="Folder to watch (repeatable).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Where the store and models live.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]


def _settings(**overrides: Any) -> Settings:
    if overrides.get("watch") is not None:
        overrides["watch"] = tuple(overrides["watch"])
    settings = load_settings(**overrides)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return settings


def _distributed(settings: Settings, role: str) -> None:
    if settings.embedded:
        raise SettingsError(
            f"FRESHRAG_BROKER_URL: `freshrag {role}` runs one role of a distributed deployment and needs a "
            "broker shared by every role (redis://...); `freshrag up` runs everything in one process"
        )


@app.command()
def up(
    watch: WatchOption = None,
    port: Annotated[int | None, typer.Option(help="API port.")] = None,
    host: Annotated[str | None, typer.Option(help="API address.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run everything in one process: API, watcher, worker and scheduler (embedded by default).

    With FRESHRAG_BROKER_URL=redis://... it hosts the API, a worker and the watcher on the shared broker;
    the scheduler then runs as `freshrag beat`."""
    from freshrag_cli.serve import serve

    serve(_settings(watch=watch, port=port, host=host, data_dir=data_dir), worker=True, watch=True)


@app.command()
def api(
    port: Annotated[int | None, typer.Option(help="API port.")] = None,
    host: Annotated[str | None, typer.Option(help="API address.")] = None,
) -> None:
    """Run the HTTP API alone (distributed mode)."""
    from freshrag_cli.serve import serve

    settings = _settings(port=port, host=host)
    _distributed(settings, "api")
    serve(settings, worker=False, watch=False)


@app.command()
def watcher(watch: WatchOption = None) -> None:
    """Run the folder watcher alone (distributed mode)."""
    from freshrag_cli.serve import watch_only

    settings = _settings(watch=watch)
    _distributed(settings, "watcher")
    watch_only(settings)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    queues: Annotated[
        str,
        typer.Option(help="Queues to consume: freshrag.indexing, freshrag.training (fine-tuning), or both."),
    ] = "freshrag.indexing,freshrag.training",
) -> None:
    """Run a Celery worker (distributed mode), serving its metrics on FRESHRAG_METRICS_PORT."""
    from freshrag_cli.worker_metrics import export_worker_metrics

    settings = _settings(worker_concurrency=concurrency)
    _distributed(settings, "worker")
    export_worker_metrics(settings)  # before the task code creates its metrics

    from freshrag.queue import QUEUES
    from workers.app import app as celery_app

    unknown = set(queues.split(",")) - set(QUEUES)
    if unknown:
        raise SettingsError(f"--queues: unknown {sorted(unknown)}; queues: {', '.join(QUEUES)}")

    celery_app.worker_main(
        [
            "worker",
            f"--loglevel={settings.log_level}",
            f"--queues={queues}",
            f"--concurrency={settings.worker_concurrency}",
        ]
    )


@app.command()
def beat() -> None:
    """Run the scheduler (distributed mode); same as `celery -A workers.app beat`."""
    from workers.app import app as celery_app

    settings = _settings()
    _distributed(settings, "beat")
    schedule = settings.data_dir / "beat-schedule"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--loglevel={settings.log_level}", f"--schedule={schedule}"])


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index.")],
    data_dir: DataDirOption = None,
) -> None:
    """Bulk-load files into the index without a running instance."""
    from freshrag.runtime import build_runtime
    from freshrag_cli.ingest import build_index_if_large, run_ingest

    settings = _settings(data_dir=data_dir)
    if "embedding_threads" not in settings.model_fields_set:
        # Nothing waits on a bulk load: every core embeds (51 against 72 s for 1,000 abstracts on 2 cores),
        # where a serving process keeps one per model so that searches keep a core.
        settings = settings.model_copy(update={"embedding_threads": os.cpu_count() or 1})
    runtime = build_runtime(settings)
    try:
        outcomes = run_ingest(runtime, paths, out)
        build_index_if_large(runtime, out)
    finally:
        runtime.close()
    if any(outcome.outcome == "failed" for outcome in outcomes):
        raise typer.Exit(1)


def _local_or_remote(settings: Settings, remote: Any, local: Any) -> Any:
    """Ask the running instance; with none running, open the store directly (embedded or server)."""
    try:
        return remote(ApiClient(settings.url, settings.api_token))
    except InstanceUnreachableError:
        pass
    from freshrag.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        return local(runtime)
    finally:
        runtime.close()


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many results.", min=1, max=100)] = 10,
    mode: Annotated[
        str | None, typer.Option("--mode", help="dense, keyword or hybrid (default: the live mode).")
    ] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Search the index (through the running instance, or the local store when none runs)."""
    from dataclasses import asdict

    from freshrag.retrieval import parse_mode

    chosen = parse_mode(mode) if mode is not None else None
    settings = _settings(data_dir=data_dir)
    params: dict[str, Any] = {"q": query, "k": k} | ({"mode": chosen.value} if chosen else {})
    answer = _local_or_remote(
        settings,
        lambda client: client.get("/search", **params),
        lambda runtime: asdict(runtime.search.search(query, k, mode=chosen, record=True)),
    )
    if as_json:
        print(json.dumps(answer, indent=2))
    else:
        print_search(out, answer)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, up to 4096 characters.")],
    k: Annotated[int, typer.Option("-k", help="Passages retrieved.", min=1, max=50)] = 5,
    mode: Annotated[
        str | None, typer.Option("--mode", help="dense, keyword or hybrid (default: the live mode).")
    ] = None,
    route: Annotated[
        str | None,
        typer.Option("--route", help="auto, rag, hybrid or cascade (default: FRESHRAG_ANSWER_ROUTE)."),
    ] = None,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Answer a question from the index, citing its sources (through the running instance, or the local
    store when none runs); the answer model is FRESHRAG_ANSWER_MODEL at FRESHRAG_OPENAI_BASE_URL."""
    from freshrag.answers.model import AskRequest
    from freshrag.answers.routes import parse_route
    from freshrag.answers.service import build_answer_service
    from freshrag.retrieval import parse_mode

    chosen = parse_mode(mode).value if mode is not None else None
    parse_route(route)  # an unknown route stops here, naming the option
    settings = _settings(data_dir=data_dir)
    body: dict[str, Any] = {"question": question, "k": k, "mode": chosen, "route": route}
    answer = _local_or_remote(
        settings,
        lambda client: client.post("/ask", {key: value for key, value in body.items() if value is not None}),
        lambda runtime: (
            build_answer_service(runtime).ask(AskRequest(question, k, chosen, None, route)).to_json()
        ),
    )
    if as_json:
        print(json.dumps(answer, indent=2))
    else:
        print_answer(out, answer)


@app.command(name="mcp")
def mcp_stdio(data_dir: DataDirOption = None) -> None:
    """Serve the MCP tools (search, ask, get_document, status) over stdio for desktop clients, through the
    running instance at FRESHRAG_URL, or the local store when none runs."""
    from freshrag_cli.mcp import serve_stdio

    serve_stdio(_settings(data_dir=data_dir))


@app.command()
def advise(as_json: JsonOption = False, data_dir: DataDirOption = None) -> None:
    """RAG, fine-tuning or both? The articles' decision framework applied to what this index observes: how
    often knowledge changes, query volume, knowledge gaps, retrieval quality, fine-tuning gains, costs."""
    from freshrag.advice.figures import gather_figures
    from freshrag.advice.framework import advise as apply_framework

    settings = _settings(data_dir=data_dir)
    answer = _local_or_remote(
        settings,
        lambda client: client.get("/advice"),
        lambda runtime: apply_framework(gather_figures(runtime)).to_json(),
    )
    if as_json:
        print(json.dumps(answer, indent=2))
    else:
        print_advice(out, answer)


@app.command()
def status(as_json: JsonOption = False, data_dir: DataDirOption = None) -> None:
    """Documents by status, failures with their reasons, queue depth and freshness."""
    from freshrag.status import collect_status

    settings = _settings(data_dir=data_dir)
    answer = _local_or_remote(settings, lambda client: client.get("/status"), collect_status)
    if as_json:
        print(json.dumps(answer, indent=2))
    else:
        print_status(out, answer)


@app.command()
def reconcile() -> None:
    """Ask the running instance to compare its watched folders with the index and fix any difference."""
    settings = _settings()
    answer = ApiClient(settings.url, settings.api_token).post("/admin/reconcile")
    out.print(f"reconciling {', '.join(answer['reconciling']) or 'no watched folder'}")


@app.command(name="replay-dead-letters")
def replay_dead_letters() -> None:
    """Enqueue again every change that failed all its retries (see `freshrag status`)."""
    settings = _settings()
    try:
        answer = ApiClient(settings.url, settings.api_token).post("/admin/dead-letters/replay")
    except InstanceUnreachableError:
        if settings.embedded:
            raise  # the embedded queue lives in the `freshrag up` process
        from freshrag.coordination import open_coordination
        from freshrag.coordination import replay_dead_letters as replay

        shared = open_coordination(settings)  # distributed: straight onto the broker
        answer = {"replayed": replay(shared.dead_letters, shared.queue)}
    out.print(f"replayed {answer['replayed']} dead letters")


@app.command(name="eval")
def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="A BEIR-layout folder.")],
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="dense, keyword or hybrid (default: FRESHRAG_SEARCH_MODE, else hybrid)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate the current model on a BEIR dataset (indexed into a temporary store) under one search mode."""
    from rich.progress import Progress

    from freshrag.chunking import Chunker
    from freshrag.embedding import load_embedder
    from freshrag.eval_run import evaluate_dataset
    from freshrag.health.retrieval_choice import pinned
    from freshrag.retrieval import Retrieval, parse_mode
    from freshrag.store import SearchMode

    settings = _settings()
    retrieval = Retrieval(parse_mode(mode), settings.search_weights) if mode else pinned(settings)
    retrieval = retrieval or Retrieval(SearchMode.HYBRID, settings.search_weights)
    embedder = load_embedder(settings)
    chunker = Chunker(
        embedder.count_tokens,
        settings.chunk_max_tokens,
        settings.chunk_target_tokens,
        tokenizer=embedder.counting_tokenizer,
    )
    with Progress(console=console, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done)

        result = evaluate_dataset(dataset, embedder, chunker, retrieval, report)
    used = {"mode": retrieval.mode.value, "weights": list(retrieval.weights)}
    if as_json:
        print(json.dumps(result | used | {"model_version": embedder.model_version, "dataset": str(dataset)}))
        return
    out.print(f"[bold]{retrieval.label}[/] on {dataset}")
    for name in ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10"):
        out.print(f"{name:>14}  {result[name]:.4f}")
    out.print(
        f"[dim]{result['documents']} documents, {result['chunks']} chunks, {result['queries']} queries; "
        f"indexed in {result['index_seconds']} s, searched in {result['search_seconds']} s[/]"
    )


app.command()(finetune)
app.add_typer(models_app, name="models")
use_settings(_settings)


def main() -> None:
    try:
        app()
    except (
        SettingsError,
        StoreLockedError,
        StoreCorruptError,
        RetrievalError,
        InstanceUnreachableError,
        FileNotFoundError,
        DatasetError,
        BrokerUnavailableError,
        UnknownRouteError,
        QuestionError,
    ) as exc:
        console.print(f"[red]freshrag:[/] {exc}")
        sys.exit(2)
    except RuntimeError as exc:
        console.print(f"[red]freshrag:[/] {exc}")
        sys.exit(1)
