"""`freshrag finetune` and `freshrag models`: through the running instance when one answers at FRESHRAG_URL
(the work runs in its worker, followed here with a progress bar), in this process when none does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from freshrag.lifecycle import settled_answer
from freshrag.runtime import Runtime, build_runtime
from freshrag.settings import Settings
from freshrag_cli.client import ApiClient, InstanceUnreachableError

models_app = typer.Typer(help="The model registry: list, promote, roll back.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
SettingsFactory = Callable[[], Settings]
_POLL_SECONDS = 1.0
# A run whose record has not changed for this long is no longer followed: its worker may have stopped.
_STALLED_SECONDS = 600.0
# A run decided while followed (live, rejected, failed) whose stage has not cleared by then: its follow-ups
# were cut short.
_SETTLING_SECONDS = 60.0
_settings_factory: list[SettingsFactory] = []


def use_settings(factory: SettingsFactory) -> None:
    """How the commands here build their settings (the main CLI's, with its logging set up)."""
    _settings_factory.append(factory)


def _settings() -> Settings:
    return _settings_factory[-1]()


@contextmanager
def _local_runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()


class _Bar:
    """One progress bar whose stage (its label) changes as the run moves on."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID = progress.add_task("starting", total=None)

    def __call__(self, stage: str, done: int, total: int) -> None:
        self._progress.update(self._task, description=stage, completed=done, total=total or None)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


NowOption = Annotated[bool, typer.Option("--now", help="Train now, whatever the scheduled check says.")]
BackendOption = Annotated[str, typer.Option(help="local (the embedding model) or openai (answer style).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for programs.")]


def finetune(now: NowOption = False, backend: BackendOption = "local", as_json: JsonOption = False) -> None:
    """Fine-tune the embedding model: train, evaluate on the golden set, promote only if better."""
    if backend not in ("local", "openai"):
        raise typer.BadParameter("local or openai", param_hint="--backend")
    settings = _settings()
    client = ApiClient(settings.url, settings.api_token)
    try:
        answer = client.post("/admin/finetune", {"backend": backend, "force": now})
    except InstanceUnreachableError:
        run = _finetune_here(settings, now, backend)
    else:
        if not answer["started"]:
            out.print(answer["reason"])
            return
        run = client.get(f"/models/{answer['version']}")
        if backend == "local":
            run = _follow(client, answer["version"], settled_answer)
    if run is None:
        return
    _print_run(run, as_json)
    if run["status"] == "failed":
        raise typer.Exit(1)


def _finetune_here(settings: Settings, now: bool, backend: str) -> dict[str, Any] | None:
    from freshrag.training.openai_runs import start_job
    from freshrag.training.run import exclusive, fine_tune, should_train, why_not

    with _local_runtime(settings) as runtime:
        if backend == "openai":
            return start_job(runtime, "command line").to_json()
        reason = "command line" if now else should_train(runtime)
        if reason is None:
            out.print(why_not(runtime))
            return None
        with exclusive(runtime), _progress() as progress:
            return fine_tune(runtime, reason, _Bar(progress)).to_json()


def _follow(client: ApiClient, version: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Poll `GET /models/{version}` with a progress bar until `done` says so, or until the run stops
    changing (a worker that stopped mid-run leaves its stage behind)."""
    seen: Any = None
    changed = time.monotonic()
    started_as: str | None = None
    with _progress() as progress:
        bar = _Bar(progress)
        while True:
            run = client.get(f"/models/{version}")
            if done(run):
                return dict(run)
            state = (run["status"], run.get("stage"), run.get("progress"))
            started_as = started_as or run["status"]
            if state != seen:
                seen, changed = state, time.monotonic()
            quiet = time.monotonic() - changed
            decided = run["status"] != started_as  # went live, or was rejected or failed, while followed
            if quiet > _STALLED_SECONDS or (decided and quiet > _SETTLING_SECONDS):
                out.print(
                    f"[yellow]{version} has not changed for {quiet:.0f} s at stage {run.get('stage')!r}: its "
                    "worker may have stopped (see `freshrag models list` and the worker's log)[/]"
                )
                return dict(run)
            shown = run.get("progress") or {}
            bar(
                run.get("stage") or shown.get("stage") or run["status"],
                shown.get("done", 0),
                shown.get("total", 0),
            )
            time.sleep(_POLL_SECONDS)


def _print_run(run: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(run, indent=2))
        return
    colour = {"live": "green", "rejected": "yellow", "failed": "red"}.get(run["status"], "white")
    out.print(f"[{colour}]{run['version']}: {run['status']}[/]  {run.get('reason') or ''}")
    if run.get("metrics") and run.get("baseline_metrics"):
        for name, value in run["metrics"].items():
            out.print(f"  {name:<13} {run['baseline_metrics'][name]:.4f} -> {value:.4f}")
    if run.get("pairs"):
        out.print(f"  {run['pairs']} pairs {run.get('pair_sources', {})}, {run.get('duration_s', 0):.0f} s")


@models_app.command("list")
def list_models(as_json: JsonOption = False) -> None:
    """Every model version, oldest first, with its status and golden-set metrics."""
    settings = _settings()
    try:
        runs = ApiClient(settings.url, settings.api_token).get("/models")["models"]
    except InstanceUnreachableError:
        with _local_runtime(settings) as runtime:
            runs = [run.to_json() for run in runtime.registry.runs()]
    if as_json:
        print(json.dumps(runs, indent=2))
        return
    table = Table("version", "backend", "status", "nDCG@10", "baseline", "pairs", "duration", "reason")
    for run in runs:
        metrics, baseline = run.get("metrics") or {}, run.get("baseline_metrics") or {}
        table.add_row(
            run["version"],
            run["backend"],
            run["status"] + (f" ({run['stage']})" if run.get("stage") else ""),
            f"{metrics['ndcg_at_10']:.4f}" if metrics else "",
            f"{baseline['ndcg_at_10']:.4f}" if baseline else "",
            str(run.get("pairs") or ""),
            f"{run.get('duration_s', 0):.0f} s" if run.get("duration_s") else "",
            run.get("reason") or "",
        )
    out.print(table)


@models_app.command()
def promote(version: Annotated[str, typer.Argument(help="The version to make live.")]) -> None:
    """Make VERSION live (its collection is brought up to date first; searches never stop)."""
    _switch(version)


@models_app.command()
def rollback() -> None:
    """Make the previously live model live again."""
    _switch(None)


@models_app.command()
def cancel(version: Annotated[str, typer.Argument(help="The OpenAI job to cancel.")]) -> None:
    """Cancel a running OpenAI fine-tuning job."""
    from freshrag.training.openai_runs import cancel_job

    settings = _settings()
    try:
        run = ApiClient(settings.url, settings.api_token).post(f"/admin/models/{version}/cancel")
    except InstanceUnreachableError:
        with _local_runtime(settings) as runtime:
            run = cancel_job(runtime, version).to_json()
    _print_run(run, as_json=False)


def _switch(version: str | None) -> None:
    settings = _settings()
    client = ApiClient(settings.url, settings.api_token)
    path = "/admin/models/rollback" if version is None else f"/admin/models/{version}/promote"
    try:
        target = client.post(path)["switching_to"]
    except InstanceUnreachableError:
        run = _switch_here(settings, version)
    else:
        run = _follow(client, target, settled_answer)
    if run["status"] != "live":
        raise RuntimeError(run.get("reason") or f"{run['version']} did not go live")
    out.print(f"[green]{run['version']} is live[/]")


def _switch_here(settings: Settings, version: str | None) -> dict[str, Any]:
    from freshrag.training.run import exclusive
    from freshrag.training.switching import switch_target, switch_to

    with _local_runtime(settings) as runtime, exclusive(runtime), _progress() as progress:
        return switch_to(runtime, switch_target(runtime, version), _Bar(progress)).to_json()
