"""Settings: environment variables `FRESHRAG_*`, then an optional `freshrag.toml`, then defaults.

Build one `Settings` at each entry point with `load_settings()` and pass it down; nothing here is read at
import time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from freshrag.webhook_settings import SECRETS, SOURCES, WebhookSource

ENV_PREFIX = "FRESHRAG_"
WEBHOOK_FIELD_PREFIX = "webhook_secret_"
MIN_API_TOKEN_CHARS = 16
# Settings whose value is never shown in an error: a message goes to terminals and logs.
_SECRET_WORDS = ("secret", "token", "api_key", "password")
EmbeddingBackend = Literal["onnx-int8", "onnx", "torch"]
AnswerRoute = Literal["auto", "rag", "hybrid", "cascade"]


class SettingsError(ValueError):
    """A setting has a value freshrag cannot use; the message names the setting."""


class RouteRule(BaseModel):
    """One router rule: a question matching `pattern` (a regular expression, searched) and asked with every
    field of `filter` goes to `route`. A rule needs a pattern, a filter, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: Literal["rag", "hybrid", "cascade"]
    pattern: str | None = None
    filter: dict[str, str] | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern {value!r} is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _matches_something(self) -> RouteRule:
        if self.pattern is None and not self.filter:
            raise ValueError("a router rule needs a pattern, a filter or both")
        return self


class Settings(BaseSettings):
    """Every knob of freshrag. Each field is documented in the README (a test keeps it so)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(Path(".freshrag"), description="Where the embedded store, models and state live.")
    watch: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="Folders to watch, separated by ':' (os.pathsep) in the environment."
    )
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")
    url: str = Field(
        "http://127.0.0.1:8000", description="Where command-line clients find a running instance."
    )
    api_token: str | None = Field(
        None, description="Bearer token for admin routes (16 characters or more); required off loopback."
    )
    broker_url: str = Field("memory://", description="Celery broker; memory:// runs everything in-process.")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset, the embedded engine.")
    qdrant_api_key: str | None = Field(None, description="API key for the Qdrant server.")
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="Model name (the packaged default) or a local model folder."
    )
    embedding_backend: EmbeddingBackend = Field("onnx-int8", description="onnx-int8, onnx or torch.")
    model_cache_dir: Path | None = Field(
        None, description="Where ONNX exports of models are kept; default <data_dir>/models (shareable)."
    )
    search_mode: Literal["dense", "keyword", "hybrid"] | None = Field(
        None,
        description="Pins how searches rank: dense, keyword or hybrid; unset: the golden set chooses "
        "(FRESHRAG_GOLDEN_SET), else hybrid.",
    )
    search_weights: tuple[float, float] = Field(
        (1.0, 1.0),
        description='Hybrid fusion weights [dense, keyword] (JSON, e.g. "[1, 0.5]") until the golden set '
        "chooses others.",
    )
    golden_mode_margin: float = Field(
        0.005,
        ge=0.0,
        le=1.0,
        description="The golden set moves search to another mode or weights only if nDCG@10 gains this much.",
    )
    index_build_min_chunks: int = Field(
        10_000,
        ge=0,
        description="`freshrag ingest` builds the embedded vector index (HNSW) from this many chunks.",
    )
    max_chunks_per_document: int = Field(
        20_000, ge=1, description="A document cut into more chunks than this fails with the reason."
    )
    max_document_seconds: float = Field(
        600.0,
        gt=0,
        description="A document whose embedding takes longer than this fails with the reason (checked "
        "between slices of 128 chunks, so smaller documents are never cut short).",
    )
    embedding_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="Cores each loaded ONNX model copy computes on (1 is fastest on 2 cores).",
    )
    search_pool_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="Threads of the embedded engine that read one search's segments in parallel (1: each "
        "search reads its segments in turn, searches run in parallel instead).",
    )
    search_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Searches computed at once, each with a query model copy of its own; the others wait "
        "their turn in arrival order (about the number of cores serves best).",
    )
    embedding_batch_size: int = Field(32, ge=1, le=4096, description="Texts per forward pass.")
    chunk_max_tokens: int = Field(256, ge=32, le=512, description="Upper bound of a chunk, in model tokens.")
    chunk_target_tokens: int = Field(160, ge=16, le=512, description="Chunks are cut near this size.")
    max_file_bytes: int = Field(50_000_000, ge=1, description="Larger files are skipped with that reason.")
    follow_outside_links: bool = Field(
        False,
        description="Read files that symbolic links in a watched folder lead to outside it (else skipped).",
    )
    parse_timeout_seconds: float = Field(
        60.0, gt=0, le=3600, description="A parser still busy with one file after this long is stopped."
    )
    parse_memory_mb: int = Field(
        1024, ge=256, le=1_048_576, description="Address space of a parser process, in MiB, per file."
    )
    parse_workers: int = Field(2, ge=1, le=64, description="Parser processes that may run at once.")
    ocr_languages: str = Field(
        "eng",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages OCR reads, joined by '+' (eng+deu); each needs its data package.",
    )
    ocr_max_pages: int = Field(
        20, ge=0, le=10_000, description="Pages OCR reads per file at most (the first ones); 0 turns OCR off."
    )
    watch_settle_seconds: float = Field(
        0.15, ge=0.0, le=60.0, description="A file is indexed once it has not changed for this long."
    )
    ignore_patterns: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Extra glob patterns (file names) the watcher ignores, comma-separated."
    )
    reconcile_interval_seconds: float = Field(
        600.0, ge=0.0, description="Periodic full reconcile of watched folders; 0 turns it off."
    )
    worker_concurrency: int = Field(2, ge=1, le=64, description="Indexing threads of the in-process worker.")
    task_expires_seconds: float = Field(86_400.0, gt=0, description="Queued tasks older than this expire.")
    reindex_interval_seconds: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="A document is re-indexed at most once per interval; changes meanwhile share one run.",
    )
    task_max_retries: int = Field(
        8, ge=0, le=100, description="Retries of a failing change before it becomes a dead letter."
    )
    retry_backoff_max_seconds: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between retries (exponential backoff, full jitter)."
    )
    broker_visibility_timeout_seconds: float = Field(
        120.0,
        ge=5,
        description="Redis: a task taken by a worker that died is delivered again after this long.",
    )
    webhooks: dict[str, WebhookSource] = Field(
        default_factory=dict,
        description="Per-source webhook options (content-type mappings, fetching, repositories); see README.",
    )
    # One secret per webhook platform, `webhook_secret_<name>` (FRESHRAG_WEBHOOK_SECRET_<NAME>), named in
    # the webhooks' settings group: adding a platform adds its setting. The class body's namespace is a dict.
    for _name, _secret in SECRETS.items():
        __annotations__[f"{WEBHOOK_FIELD_PREFIX}{_name}"] = "SecretStr | None"
        locals()[f"{WEBHOOK_FIELD_PREFIX}{_name}"] = Field(None, description=_secret.help)
    del _name, _secret
    max_request_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Larger request bodies are refused with 413 on every route but the webhooks.",
    )
    webhook_max_bytes: int = Field(
        10_000_000, ge=1024, description="Larger webhook bodies are refused with 413 while being read."
    )
    webhook_tolerance_seconds: float = Field(
        300.0, gt=0, description="Signed timestamps older or newer than this are refused (401)."
    )
    webhook_replay_window_seconds: float = Field(
        259_200.0, ge=0, description="A delivery id seen within this window is acknowledged, not applied."
    )
    webhook_fetch_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="Timeout of fetching an entry's text from its CMS."
    )
    canary_interval_seconds: float = Field(
        60.0, ge=0.0, description="How often the canary document goes through the pipeline; 0 turns it off."
    )
    canary_timeout_seconds: float = Field(
        120.0, gt=0, le=3600, description="A canary not found in search after this long counts as failed."
    )
    drift_interval_seconds: float = Field(
        900.0, ge=0.0, description="How often corpus and query drift are measured; 0 turns it off."
    )
    drift_sample_size: int = Field(
        2000, ge=50, le=100_000, description="Chunk vectors sampled at random to measure corpus drift."
    )
    drift_window: int = Field(
        500, ge=20, le=10_000, description="Queries in the reference window and in the recent window."
    )
    golden_set: Path | None = Field(
        None, description="Golden set in BEIR layout (queries.jsonl, qrels/test.tsv) scored on a schedule."
    )
    golden_interval_seconds: float = Field(
        3600.0, ge=0.0, description="How often the golden set is evaluated against the live index; 0 off."
    )
    gap_score: float = Field(
        0.3, ge=-1.0, le=1.0, description="A search whose best score is below this is a knowledge gap."
    )
    metrics_port: int = Field(
        9100, ge=0, le=65535, description="Where `freshrag worker` serves its /metrics; 0 turns it off."
    )
    finetune_schedule: str = Field(
        "0 3 * * 0",
        description="Cron (min hour day month weekday) of the fine-tune check; empty turns it off.",
    )
    finetune_min_new_pairs: int = Field(
        500,
        ge=1,
        description="The scheduled check trains once this many feedback pairs arrived since the last run.",
    )
    finetune_on_drift: bool = Field(
        True, description="The scheduled check also trains when drift is over its threshold."
    )
    finetune_on_quality_drop: bool = Field(
        True,
        description="The scheduled check also trains when golden-set quality dropped below its baseline.",
    )
    finetune_max_seconds: float = Field(
        1800.0, gt=0, description="Training stops after this long (the model keeps what it learnt so far)."
    )
    finetune_epochs: int = Field(1, ge=1, le=20, description="Passes over the training pairs.")
    finetune_batch_size: int = Field(
        32,
        ge=2,
        le=1024,
        description="Pairs per training step (each pair's negatives are the batch's others).",
    )
    finetune_learning_rate: float = Field(
        2e-5, gt=0, le=1e-2, description="Peak learning rate (linear warm-up, decay)."
    )
    finetune_max_pairs: int = Field(
        20_000, ge=10, description="At most this many pairs per run (newest feedback first)."
    )
    finetune_corpus_pairs: int = Field(
        2000,
        ge=0,
        description="Self-supervised pairs (heading to section, title to text) drawn from the index; 0 none.",
    )
    finetune_llm_queries: int = Field(
        0, ge=0, description="Passages for which an LLM writes a question (needs FRESHRAG_OPENAI_*); 0 none."
    )
    finetune_margin: float = Field(
        0.005, ge=0.0, le=1.0, description="A candidate goes live only if nDCG@10 improves by at least this."
    )
    finetune_tolerance: float = Field(
        0.01, ge=0.0, le=1.0, description="...and no golden-set metric drops by more than this."
    )
    models_keep: int = Field(
        2, ge=1, le=20, description="Collections of retired models kept for an instant rollback."
    )
    openai_api_key: SecretStr | None = Field(None, description="API key of the OpenAI (compatible) endpoint.")
    openai_base_url: str | None = Field(
        None, description="Endpoint of the OpenAI API; unset uses api.openai.com."
    )
    openai_model: str = Field(
        "gpt-4o-mini-2024-07-18", description="Base model of OpenAI fine-tuning jobs (answer style)."
    )
    openai_examples: Path | None = Field(
        None,
        description="Curated answers (JSONL: question, answer, optional context) for OpenAI fine-tuning.",
    )
    openai_system_prompt: str = Field(
        "Answer the question using only the context. Cite the source of each fact.",
        description="System message of every OpenAI training example.",
    )
    openai_max_example_tokens: int = Field(
        65_536, ge=256, description="Longest OpenAI training example, in (conservatively estimated) tokens."
    )
    openai_poll_seconds: float = Field(
        60.0, ge=0.0, description="How often beat polls running OpenAI fine-tuning jobs; 0 turns polling off."
    )
    openai_query_model: str = Field(
        "gpt-4o-mini", description="Chat model that writes questions for FRESHRAG_FINETUNE_LLM_QUERIES."
    )
    answer_model: str = Field(
        "gpt-4o-mini",
        description="Chat model of POST /ask while no fine-tuned answer model is live (any OpenAI-compatible "
        "endpoint: FRESHRAG_OPENAI_BASE_URL).",
    )
    answer_route: AnswerRoute = Field(
        "auto",
        description="Route of an /ask that names none: auto (the router's rules, then hybrid once a "
        "fine-tuned answer model is live, else rag), rag, hybrid or cascade.",
    )
    answer_routes: list[RouteRule] = Field(
        default_factory=list,
        description='Router rules, first match wins (JSON, e.g. [{"pattern": "(?i)^how do i", "route": '
        '"hybrid"}, {"filter": {"root": "/srv/policies"}, "route": "rag"}]).',
    )
    answer_fallback: bool = Field(
        False,
        description="The cascade route may answer from the model alone (grounded: false) when retrieval "
        "holds nothing.",
    )
    answer_min_score: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Below this best passage similarity, /ask says FRESHRAG_ANSWER_NO_INFORMATION without "
        "calling the model (and the question counts as a knowledge gap).",
    )
    answer_no_information: str = Field(
        "I don't have that information.",
        min_length=1,
        description="What /ask answers when the passages do not hold the answer.",
    )
    answer_context_tokens: int = Field(
        3000, ge=100, le=1_000_000, description="Most (estimated) tokens of passages put in an /ask prompt."
    )
    answer_max_tokens: int = Field(512, ge=1, le=100_000, description="Longest answer, in tokens.")
    answer_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="An answer model silent for this long fails the /ask with 504."
    )
    answer_system_prompt: str = Field(
        "Answer the question using only the numbered passages. Cite each fact with its passage number in "
        "brackets, like [1]. If the passages do not hold the answer, say exactly: {no_information}",
        min_length=1,
        description="System message of every /ask ({no_information} is replaced by "
        "FRESHRAG_ANSWER_NO_INFORMATION).",
    )
    price_prompt_per_million: float = Field(
        0.0, ge=0, description="USD per million prompt tokens of the answer model (for `freshrag advise`)."
    )
    price_completion_per_million: float = Field(
        0.0, ge=0, description="USD per million completion tokens of the answer model (`freshrag advise`)."
    )
    price_embedding_per_million: float = Field(
        0.0, ge=0, description="USD per million embedded tokens (0 for the local model; `freshrag advise`)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log verbosity.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("FRESHRAG_CONFIG", "freshrag.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))

    @field_validator("search_weights")
    @classmethod
    def _fusion_weights(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= weight <= 100.0 for weight in value) or sum(value) == 0:
            raise ValueError("two weights (dense, keyword) between 0 and 100, not both 0")
        return value

    @field_validator("watch", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(p) for p in value.split(os.pathsep) if p.strip())
        return value

    @field_validator("ignore_patterns", mode="before")
    @classmethod
    def _split_patterns(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must start with memory://, redis:// or rediss://")
        return value

    @field_validator(*(f"{WEBHOOK_FIELD_PREFIX}{name}" for name in SOURCES), "openai_api_key", mode="before")
    @classmethod
    def _no_empty_secret(cls, value: Any) -> Any:
        """An empty secret (an unset variable passed through) is no secret: never an empty HMAC key."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(*(f"{WEBHOOK_FIELD_PREFIX}{name}" for name in SOURCES))
    @classmethod
    def _usable_webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """A secret the platform could never verify with stops start-up (the platform says why)."""
        check = SECRETS[str(info.field_name).removeprefix(WEBHOOK_FIELD_PREFIX)].check
        if value is not None and check is not None:
            check(value.get_secret_value())
        return value

    @field_validator("api_token")
    @classmethod
    def _strong_token(cls, value: str | None) -> str | None:
        """A blank or short token is guessable, and one padded with spaces can never be sent (HTTP strips
        header values): refuse both rather than run an API nobody, or anybody, can administer."""
        if value is None:
            return None
        if not value.strip():
            raise ValueError("is blank; set a token, or unset it to listen on loopback only")
        if value != value.strip():
            raise ValueError("has spaces at its start or end, which an Authorization header cannot carry")
        if len(value) < MIN_API_TOKEN_CHARS:
            raise ValueError(
                f"is {len(value)} characters long; use at least {MIN_API_TOKEN_CHARS} "
                "(for example `openssl rand -hex 32`), or unset it to listen on loopback only"
            )
        return value

    @field_validator("golden_set", mode="before")
    @classmethod
    def _golden_set_layout(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        folder = Path(value)
        missing = [name for name in ("queries.jsonl", "qrels/test.tsv") if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{folder} is not a golden set in BEIR layout: {', '.join(missing)} missing")
        return folder

    @field_validator("finetune_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value.strip():
            cron_fields(value)
        return value.strip()

    @field_validator("openai_examples", mode="before")
    @classmethod
    def _examples_file(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not Path(value).is_file():
            raise ValueError(f"{value} is not a file")
        return Path(value)

    @field_validator("webhooks")
    @classmethod
    def _known_sources(cls, value: dict[str, WebhookSource]) -> dict[str, WebhookSource]:
        unknown = sorted(set(value) - set(SOURCES))
        if unknown:
            raise ValueError(f"unknown webhook source {unknown[0]!r} (known: {', '.join(SOURCES)})")
        return value

    @model_validator(mode="after")
    def _canary_has_a_slot(self) -> Settings:
        if self.embedded and self.canary_interval_seconds > 0 and self.worker_concurrency < 2:
            raise ValueError(
                "FRESHRAG_WORKER_CONCURRENCY must be at least 2 while the canary runs (it holds one worker "
                "slot while the change it waits for needs another); or set FRESHRAG_CANARY_INTERVAL_SECONDS=0"
            )
        return self

    @model_validator(mode="after")
    def _chunk_sizes(self) -> Settings:
        if self.chunk_target_tokens > self.chunk_max_tokens:
            raise ValueError("chunk_target_tokens must not exceed chunk_max_tokens")
        return self

    @property
    def embedded(self) -> bool:
        """True when the broker is in-process: one process owns the queue, the worker and the store."""
        return self.broker_url.startswith("memory://")

    def webhook_source(self, source: str) -> WebhookSource:
        return self.webhooks.get(source) or WebhookSource()

    def webhook_secret(self, source: str) -> str | None:
        secret: SecretStr | None = getattr(self, f"{WEBHOOK_FIELD_PREFIX}{source}", None)
        return secret.get_secret_value() if secret is not None else None

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def qdrant_path(self) -> Path:
        """Where earlier freshrag kept its embedded store (qdrant-client's local mode): moved at start-up."""
        return self.data_dir / "qdrant"

    @property
    def index_path(self) -> Path:
        """The embedded store: Qdrant Edge shards and document records."""
        return self.data_dir / "index"


def cron_fields(expression: str) -> tuple[str, str, str, str, str]:
    """The five fields of a cron expression; raises `ValueError` naming what is wrong."""
    from celery.schedules import crontab

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week): {expression!r}"
        )
    minute, hour, day_of_month, month, day_of_week = fields
    crontab(minute, hour, day_of_week, day_of_month, month)  # raises ValueError on a bad field
    return minute, hour, day_of_month, month, day_of_week


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from overrides, the environment and freshrag.toml; raise `SettingsError` naming
    the offending setting when a value is unusable."""
    clean = {key: value for key, value in overrides.items() if value is not None and value != ()}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        name = f"{ENV_PREFIX}{field.upper()}" if error["loc"] else "settings"
        shown = None if any(word in field for word in _SECRET_WORDS) else error.get("input")
        got = f" (got {shown!r})" if shown is not None and not isinstance(shown, dict) else ""
        lines.append(f"{name}: {error['msg']}{got}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
