"""The decision framework of the articles, as pure functions over `Figures`.

Article 003's decision tree: knowledge that changes often, or answers that must cite their sources, point to
RAG; at high volume (over 100,000 queries a month) with a consistent answer format and enough training data
(500+ examples), to RAG plus fine-tuning; fine-tuning alone only for static knowledge without citations.
Article 000's checklist adds: knowledge changing weekly or more points to RAG, fewer than 500 good examples
to RAG, style plus fresh knowledge to both, and "start with RAG". Article 002: never fine-tune to memorise
facts, so questions the index cannot answer (knowledge gaps) call for content, not training. Pattern 2 of
003 (fine-tuned retrieval) is what freshrag's local fine-tuning does: it is worth keeping when it gained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["rag", "fine-tuning", "both"]
WEEK, MONTH = 7.0, 30.0
HIGH_VOLUME_PER_MONTH = 100_000
EXAMPLES_FOR_FINE_TUNING = 500
GAP_RATE_HIGH = 0.2
NDCG_LOW = 0.5
MIN_QUERIES = 100  # fewer queries say nothing about volume or gaps
MIN_HISTORY_DAYS = WEEK  # fewer days say nothing about how often knowledge changes


@dataclass(frozen=True)
class Figures:
    """What freshrag observed; None where it has nothing to measure it by."""

    now: float
    history_days: float  # since the index was created (the base model's registry entry)
    documents: int  # records of every status
    changed_7d: int  # documents added, edited or deleted in the last 7 days
    changed_30d: int
    live_changes_per_day: float | None  # changes seen live (watcher, webhooks), not backfills
    queries_per_day: float | None
    queries_seen: int
    gap_rate: float | None  # share of those queries that were knowledge gaps
    answers_seen: int
    answer_outcomes: dict[str, int]
    ndcg_at_10: float | None  # golden set, live model
    ndcg_baseline: float | None
    finetune_runs: int  # local (retrieval) runs that finished: promoted or rejected
    finetune_promoted: int
    finetune_best_gain: float | None  # best nDCG@10 gain of a finished local run over the model it challenged
    answer_model_fine_tuned: bool  # an OpenAI fine-tuned answer-style model is live
    curated_examples: int | None  # lines of FRESHRAG_OPENAI_EXAMPLES, None when unset
    prompt_tokens_per_answer: float | None
    completion_tokens_per_answer: float | None
    cost_per_answer: float | None  # USD, from FRESHRAG_PRICE_*; None when no price is set or no answer yet
    embedding_cost_per_change: float | None  # USD, at most (every chunk of an average document re-embedded)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    question: str
    figure: str  # the observation, in words with its numbers
    points_to: Verdict | None  # None: no direction (or too little data)
    thin: bool = False  # too little data to say


@dataclass(frozen=True)
class Advice:
    recommendation: Verdict
    confident: bool
    summary: str
    findings: list[Finding]
    figures: Figures
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["figures"] = self.figures.to_json()
        return data


def advise(figures: Figures) -> Advice:
    """Apply the framework to `figures`: RAG, fine-tuning or both, each finding with its figures."""
    findings = [
        _change_rate(figures),
        _citations(figures),
        _volume(figures),
        _gaps(figures),
        _retrieval(figures),
        _answer_style(figures),
    ]
    thin = [finding.question for finding in findings if finding.thin]
    verdict = _verdict(figures, findings)
    confident = not any(f.thin for f in findings[:1] + findings[2:3])  # change rate and volume decide
    summary = _summary(verdict, confident, thin)
    return Advice(verdict, confident, summary, findings, figures, _notes(figures))


def _change_rate(f: Figures) -> Finding:
    question = "How often does the knowledge change?"
    share30 = f.changed_30d / f.documents if f.documents else 0.0
    share7 = f.changed_7d / f.documents if f.documents else 0.0
    rate = "" if f.live_changes_per_day is None else f", {f.live_changes_per_day:.1f} live changes a day"
    figure = (
        f"{share7:.0%} of {f.documents} documents changed in the last 7 days, {share30:.0%} in the last 30"
        f"{rate}; {f.history_days:.1f} days of history"
    )
    if f.documents == 0 or f.history_days < MIN_HISTORY_DAYS:
        return Finding(question, figure + ": too little history to tell", None, thin=True)
    weekly = (f.live_changes_per_day or 0.0) * WEEK >= 1 or f.changed_7d > 0
    if weekly or share30 >= 0.1:
        return Finding(question, figure + ": weekly or more, which fine-tuned weights cannot follow", "rag")
    if f.history_days >= MONTH and f.changed_30d == 0:
        return Finding(question, figure + ": static for a month", "fine-tuning")
    return Finding(question, figure + ": rarely", None)


def _citations(f: Figures) -> Finding:
    question = "Must answers cite their sources?"
    if f.answers_seen == 0:
        return Finding(
            question, "no answer asked yet (POST /ask); search results always name their source", "rag"
        )
    return Finding(question, f"{f.answers_seen} answers served, each citing the passages it used", "rag")


def _volume(f: Figures) -> Finding:
    question = "How many queries?"
    if f.queries_per_day is None or f.queries_seen < MIN_QUERIES:
        return Finding(
            question, f"{f.queries_seen} queries seen: too few to judge the volume", None, thin=True
        )
    monthly = f.queries_per_day * MONTH
    figure = f"{f.queries_per_day:.0f} a day, about {monthly:,.0f} a month"
    if monthly > HIGH_VOLUME_PER_MONTH:
        return Finding(
            question, figure + ": high volume, where a fine-tuned model's shorter prompts pay", "both"
        )
    return Finding(
        question, figure + ": below 100,000 a month, where fine-tuning's fixed costs do not pay", "rag"
    )


def _gaps(f: Figures) -> Finding:
    question = "Does the index hold the answers?"
    if f.gap_rate is None or f.queries_seen < MIN_QUERIES:
        return Finding(question, f"{f.queries_seen} queries seen: too few to measure gaps", None, thin=True)
    figure = f"{f.gap_rate:.0%} of recent queries were knowledge gaps"
    if f.gap_rate > GAP_RATE_HIGH:
        return Finding(
            question, figure + ": add the missing documents; fine-tuning does not teach facts reliably", "rag"
        )
    return Finding(question, figure, None)


def _retrieval(f: Figures) -> Finding:
    question = "Is retrieval good enough, and did fine-tuning it help?"
    if f.ndcg_at_10 is None:
        runs = f" ({f.finetune_runs} fine-tune runs finished)" if f.finetune_runs else ""
        return Finding(question, f"no golden set measured (FRESHRAG_GOLDEN_SET){runs}", None, thin=True)
    figure = f"golden-set nDCG@10 {f.ndcg_at_10:.3f}"
    if f.finetune_runs:
        gain = "" if f.finetune_best_gain is None else f", best gain {f.finetune_best_gain:+.3f}"
        figure += f"; {f.finetune_runs} retrieval fine-tunes finished, {f.finetune_promoted} promoted{gain}"
    if f.finetune_promoted and (f.finetune_best_gain or 0) > 0:
        return Finding(
            question, figure + ": fine-tuned retrieval pays here (RAG with a fine-tuned retriever)", "both"
        )
    if f.ndcg_at_10 < NDCG_LOW:
        return Finding(
            question, figure + ": weak retrieval caps answer quality; improve it before anything else", "rag"
        )
    return Finding(question, figure, None)


def _answer_style(f: Figures) -> Finding:
    question = "Is a fine-tuned answer style in use, with enough examples?"
    examples = (
        "no curated examples" if f.curated_examples is None else f"{f.curated_examples} curated examples"
    )
    if f.answer_model_fine_tuned:
        hybrid = f.answer_outcomes.get("answered", 0)
        return Finding(question, f"a fine-tuned answer model is live ({examples}; {hybrid} answered)", "both")
    if (f.curated_examples or 0) >= EXAMPLES_FOR_FINE_TUNING:
        return Finding(
            question, f"{examples}: enough to fine-tune an answer style if consistency matters", "both"
        )
    return Finding(question, f"{examples}: under 500, too few to fine-tune well", "rag")


def _verdict(f: Figures, findings: list[Finding]) -> Verdict:
    change, _, volume, _, retrieval, style = findings
    static = change.points_to == "fine-tuning"
    if static and volume.points_to == "both" and f.answers_seen == 0:
        return (
            "fine-tuning"  # static knowledge, high volume, no cited answers: the one case for weights alone
        )
    if any(finding.points_to == "both" for finding in (volume, retrieval, style)):
        return "both"
    return "rag"


def _summary(verdict: Verdict, confident: bool, thin: list[str]) -> str:
    said = {
        "rag": "RAG: keep answering from the fresh index, with citations.",
        "both": "Both: RAG for the knowledge, fine-tuning for retrieval or answer style (see the findings).",
        "fine-tuning": "Fine-tuning: static knowledge at high volume; RAG costs more than it pays.",
    }[verdict]
    if confident:
        return said
    return (
        f"Too little data to be sure ({'; '.join(thin)}). {said} Start with RAG and add fine-tuning only "
        "when RAG alone cannot give the behaviour you need."
    )


def _notes(f: Figures) -> list[str]:
    notes = []
    if f.cost_per_answer is not None:
        notes.append(f"An answer costs about ${f.cost_per_answer:.5f} (tokens times FRESHRAG_PRICE_*).")
    elif f.answers_seen:
        notes.append("Set FRESHRAG_PRICE_PROMPT_PER_MILLION and _COMPLETION_ to see what an answer costs.")
    if f.embedding_cost_per_change:
        notes.append(f"A change costs at most ${f.embedding_cost_per_change:.6f} to embed.")
    return notes
