"""Request and response bodies (they make the OpenAPI document at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4096)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank")
        return value

    k: int = Field(10, ge=1, le=100)
    filter: dict[str, str] | None = Field(
        None, description="Exact matches on doc_id, root, source_kind, uri, title."
    )
    mode: str | None = Field(None, description="dense, keyword or hybrid; unset: the live mode.")
    weights: list[float] | None = Field(
        None, description="Hybrid fusion weights [dense, keyword]; unset: the live ones."
    )


class DocumentOut(BaseModel):
    doc_id: str
    status: str
    source_kind: str
    uri: str
    root: str | None
    title: str
    version: int
    source_version: int | None
    content_hash: str | None
    chunk_count: int
    indexed_at: float | None
    updated_at: float
    reason: str | None
    size_bytes: int | None
    mtime_ns: int | None
    parser: str | None = None
    ocr_pages: int = 0
    notes: list[str] = []


class DocumentListOut(BaseModel):
    documents: list[DocumentOut]
    count: int


class KnowledgeGapOut(BaseModel):
    query: str
    top_score: float | None
    count: int
    last_seen: float


class KnowledgeGapsOut(BaseModel):
    gaps: list[KnowledgeGapOut]
    gap_score: float


class StatusOut(BaseModel):
    mode: str
    model_version: str
    documents: dict[str, int]
    chunks: int
    dead_letters: int
    queue_depth: int
    oldest_pending_change_age_seconds: float
    watched_folders: list[str]
    problems: list[DocumentOut]
    problems_by_reason: dict[str, int] = {}
    now: float
    workers_alive: int
    freshness: dict[str, Any]
    backfill: dict[str, Any] | None = None
    recent_changes: list[dict[str, Any]]
    canary: dict[str, Any]
    drift: dict[str, dict[str, Any] | None]
    quality: dict[str, Any] | None
    search: dict[str, Any]
    knowledge_gaps: list[KnowledgeGapOut]
    knowledge_gaps_hidden: int = 0
    answers: dict[str, Any] | None = None


class FeedbackIn(BaseModel):
    """A user's judgement of one search result: the training signal of the fine-tune job."""

    query: str = Field(
        min_length=1,
        max_length=4096,
        description="The query as searched; 1 to 4096 characters once stripped.",
    )
    doc_id: str = Field(min_length=1, max_length=2048, description="The `doc_id` of a search result.")
    relevant: bool = Field(True, description="Whether the document answered the query.")


class FeedbackOut(BaseModel):
    seq: int = Field(description="The feedback's position in the log, from 1.")
    query: str
    doc_id: str
    relevant: bool
    at: float


class FeedbackListOut(BaseModel):
    feedback: list[FeedbackOut] = Field(description="Newest first.")
    total: int = Field(description="How many feedbacks were ever given.")


class FinetuneRequest(BaseModel):
    backend: Literal["local", "openai"] = "local"
    force: bool = Field(
        True, description="false: run only if the scheduled check would (enough new pairs...)"
    )


class ModelOut(BaseModel):
    version: str
    backend: str
    status: str
    created_at: float
    base_model: str
    parent: str | None
    path: str | None
    collection: str | None
    metrics: dict[str, float] | None
    baseline_metrics: dict[str, float] | None
    pairs: int
    pair_sources: dict[str, int]
    duration_s: float
    timings: dict[str, float]
    loss: float | None
    trigger: str
    reason: str | None
    stage: str
    progress: dict[str, Any]
    promoted_at: float | None
    retired_at: float | None
    job: dict[str, Any] | None
    fine_tuned_model: str | None


class ModelsOut(BaseModel):
    models: list[ModelOut]
    live: str


class AskRequest(BaseModel):
    """A question for a grounded answer (POST /ask)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4096, description="1 to 4096 characters, not blank.")

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value

    k: int = Field(
        5,
        ge=1,
        le=50,
        description="Passages retrieved (the best that fit the context budget go into the prompt).",
    )
    mode: Literal["dense", "keyword", "hybrid"] | None = Field(None, description="Unset: the live mode.")
    filter: dict[str, str] | None = Field(
        None, description="Exact matches on doc_id, root, source_kind, uri, title."
    )
    route: Literal["auto", "rag", "hybrid", "cascade"] | None = Field(
        None, description="Unset or auto: the router's rules, then FRESHRAG_ANSWER_ROUTE."
    )
    stream: bool = Field(False, description="Server-sent events: `token`s, then the `answer` with citations.")


class CitationOut(BaseModel):
    n: int = Field(description="The passage number the answer cites as [n].")
    doc_id: str
    uri: str
    title: str
    heading: list[str]
    version: int = Field(description="The document version the passage was read from.")
    indexed_at: float | None


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class AskOut(BaseModel):
    answer: str
    citations: list[CitationOut] = Field(description="Only the passages the answer cites.")
    grounded: bool = Field(description="false only for the cascade's answer from the model alone.")
    model: str | None = Field(description="The chat model that answered; null when none was called.")
    route: Literal["rag", "hybrid", "cascade"]
    outcome: Literal["answered", "no_information", "fallback"]
    retrieval_ms: float
    generation_ms: float
    usage: UsageOut
    dropped_citations: int = Field(description="Citation numbers the model wrote that named no passage.")
    routed_by: int | None = Field(description="Index of the router rule (FRESHRAG_ANSWER_ROUTES) that chose.")
