"""The local backend: sentence-transformers training on the CPU, starting from the live model.

MultipleNegativesRankingLoss: each (query, passage) pair is a positive, and every other passage of the batch
a negative, so no labelled negatives are needed; the no-duplicates batch sampler keeps a passage from being
its own negative. Training stops after `max_seconds` whatever the epochs say (the model keeps what it learnt
so far); progress and loss go to the log and to `progress`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freshrag.training.pairs import Pair

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
MIN_PAIRS = 16


@dataclass(frozen=True)
class TrainingOptions:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    max_seconds: float = 1800.0
    seed: int = 0


@dataclass(frozen=True)
class TrainingResult:
    steps: int
    planned_steps: int
    loss: float | None  # the mean loss of the last logged steps
    seconds: float
    stopped_early: bool  # the time bound cut it short


def train_local(
    start_from: Path, pairs: list[Pair], destination: Path, options: TrainingOptions, progress: Progress
) -> TrainingResult:
    """Fine-tune the model at `start_from` on `pairs` and save it to `destination` (atomically: the folder
    appears complete or not at all)."""
    if len(pairs) < MIN_PAIRS:
        raise ValueError(f"only {len(pairs)} training pairs; at least {MIN_PAIRS} are needed")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    model = SentenceTransformer(str(start_from), device="cpu", backend="torch")
    dataset = Dataset.from_dict(
        {"anchor": [pair.anchor for pair in pairs], "positive": [pair.positive for pair in pairs]}
    )
    batch_size = min(options.batch_size, len(pairs))
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".training-") as scratch:
        arguments = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=options.epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=options.learning_rate,
            warmup_ratio=0.1,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            logging_steps=max(1, len(pairs) // batch_size // 10),
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            seed=options.seed,
            data_seed=options.seed,
        )
        watch = _Watch(options.max_seconds, progress)
        trainer = SentenceTransformerTrainer(
            model=model,
            args=arguments,
            train_dataset=dataset,
            loss=MultipleNegativesRankingLoss(model),
            callbacks=[watch.callback()],
        )
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints every log to stdout; ours logs it
        trainer.train()
        staged = Path(scratch) / "model"
        model.save_pretrained(str(staged))
        shutil.rmtree(destination, ignore_errors=True)
        staged.rename(destination)
    return TrainingResult(
        steps=watch.step,
        planned_steps=watch.planned,
        loss=watch.loss,
        seconds=round(time.monotonic() - watch.started, 3),
        stopped_early=watch.stopped_early,
    )


class _Watch:
    """Reports progress and loss, and stops training at the time bound."""

    def __init__(self, max_seconds: float, progress: Progress) -> None:
        self.max_seconds = max_seconds
        self.progress = progress
        self.started = time.monotonic()
        self.step = 0
        self.planned = 0
        self.loss: float | None = None
        self.stopped_early = False

    def callback(self) -> Any:
        from transformers import TrainerCallback

        watch = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
                watch.planned = int(state.max_steps)
                watch.progress("training", 0, watch.planned)

            def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
                watch.step = int(state.global_step)
                watch.progress("training", watch.step, watch.planned)
                if time.monotonic() - watch.started > watch.max_seconds and not control.should_training_stop:
                    watch.stopped_early = True
                    control.should_training_stop = True
                    log.warning(
                        "training stopped at its time bound (%.0f s) after step %d of %d",
                        watch.max_seconds,
                        watch.step,
                        watch.planned,
                    )

            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
                if logs and "loss" in logs:
                    watch.loss = float(logs["loss"])
                    log.info("training step %d/%d: loss %.4f", state.global_step, watch.planned, watch.loss)

        return Callback()
