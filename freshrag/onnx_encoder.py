"""Sentence vectors straight from ONNX Runtime and the Rust tokenizer, without sentence-transformers.

Importing sentence-transformers pulls in PyTorch and transformers: about 6 s of CPU at every start of a
process that embeds (`freshrag up`, a worker, `freshrag search`), and about a millisecond of Python per call
on top of the model. This encoder needs only `onnxruntime`, `tokenizers` and numpy. It serves a model whose
sentence-transformers pipeline is Transformer, mean Pooling and an optional Normalize, exported to ONNX.

Whether a model qualifies is decided once, where the model is exported: `describe` takes the loaded
SentenceTransformer, reads the tokenizer settings it uses, and checks this encoder's vectors against
`encode()`'s on probe texts, batched and one by one. The verdict is kept beside the ONNX files
(`SPEC_FILE`), so later processes never import sentence-transformers; a model that fails the check (another
pooling, an extra module) keeps `encode()`. Vectors are unit length, as the embedder promises.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SPEC_FILE = "freshrag-onnx.json"
_OUTPUT = "last_hidden_state"
# Texts up to this long are tokenized holding the GIL (a query: about 40 us). Letting go of it for so little
# cost a search a wait behind another one's GIL-bound part (up to a millisecond) while its core idled; a
# longer text (4,000 characters: 1.4 ms) lets the other searches go on meanwhile.
_HOLD_GIL_CHARS = 1000
_AGREEMENT = 0.9999  # least cosine between this encoder's vector and encode()'s, per probe text
_PROBES = [
    "How quickly does a changed document become searchable?",
    "KX7-2291",
    "Mitochondria are the powerhouse of the cell. " * 3,
    "A long text, cut at the model's limit: " + "the quick brown fox jumps over the lazy dog " * 80,
    "   Leading and trailing blanks, Ünïcödé and emoji 🙂   ",
]


@dataclass(frozen=True)
class EncoderSpec:
    """What the direct encoder needs to know of a model beyond its ONNX file and `tokenizer.json`."""

    max_seq_length: int  # tokens per text, special tokens included; longer texts are cut
    pad_id: int
    dimension: int


class OnnxEncoder:
    """Embeds texts with one ONNX Runtime session. `encode` may run in several threads only if each has its
    own encoder (the tokenizer's settings are per object); `OnnxEncoder.open` makes one."""

    def __init__(self, session: Any, tokenizer: Any, spec: EncoderSpec) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self.spec = spec
        self._type_ids = "token_type_ids" in {item.name for item in session.get_inputs()}

    @classmethod
    def open(cls, folder: Path, onnx_file: str, spec: EncoderSpec, threads: int) -> OnnxEncoder:
        """The encoder of `folder/onnx_file`, computing on `threads` cores."""
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            str(folder / onnx_file), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=spec.max_seq_length)
        return cls(session, tokenizer, spec)

    def counting_tokenizer(self) -> Any:
        """A copy of the tokenizer without padding or truncation, for counting tokens."""
        from tokenizers import Tokenizer

        copy = Tokenizer.from_str(self._tokenizer.to_str())
        copy.no_padding()
        copy.no_truncation()
        return copy

    def encode_one(self, text: str) -> np.ndarray:
        """The unit-length float32 vector of `text`, as `encode([text], normalize_embeddings=True)[0]`."""
        encoding = (
            self._tokenizer.encode(text)
            if len(text) <= _HOLD_GIL_CHARS
            else self._tokenizer.encode_batch([text])[0]  # computes without the GIL, unlike encode
        )
        ids = np.asarray([encoding.ids], dtype=np.int64)
        hidden: np.ndarray = self._run(ids, np.ones_like(ids))[0]
        # The mean's direction is the sum's: summing skips numpy's Python-level mean wrapper.
        vector: np.ndarray = np.add.reduce(hidden, axis=0, dtype=np.float32)
        return vector / max(float(np.sqrt(np.dot(vector, vector))), 1e-12)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, computed `batch_size` texts at a time. Batches
        are formed as sentence-transformers forms them (longest texts first, each padded to its longest):
        int8 activations are scaled per batch, so the same batches give the same vectors."""
        vectors = np.zeros((len(texts), self.spec.dimension), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self._tokenizer.encode_batch(texts)
        order = np.argsort([-len(text) for text in texts])
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            lengths = [len(encodings[row].ids) for row in rows]
            ids = np.full((len(rows), max(lengths)), self.spec.pad_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for slot, (row, length) in enumerate(zip(rows, lengths, strict=True)):
                ids[slot, :length] = encodings[row].ids
                mask[slot, :length] = 1
            hidden = self._run(ids, mask)
            summed = np.einsum("bsh,bs->bh", hidden, mask.astype(np.float32))
            norms = np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)
            vectors[rows] = summed / norms
        return vectors

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._type_ids:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: np.ndarray = self._session.run([_OUTPUT], feeds)[0]
        return hidden


def describe(model: Any, folder: Path, onnx_file: str) -> EncoderSpec | None:
    """The spec under which `OnnxEncoder` gives the vectors of `model` (a SentenceTransformer loaded from
    `folder/onnx_file`), or None where it would not: another pipeline, or probe vectors that differ."""
    try:
        spec = _spec_of(model)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
    if spec is None:
        return None
    encoder = OnnxEncoder.open(folder, onnx_file, spec, threads=1)
    expected = model.encode(_PROBES, batch_size=2, normalize_embeddings=True, show_progress_bar=False)
    batched = encoder.encode(_PROBES, batch_size=2)
    single = np.vstack([encoder.encode_one(text) for text in _PROBES])
    one_by_one = np.vstack(
        [model.encode([text], normalize_embeddings=True, show_progress_bar=False) for text in _PROBES]
    )
    agreement = min(np.min(np.sum(batched * expected, axis=1)), np.min(np.sum(single * one_by_one, axis=1)))
    if agreement < _AGREEMENT:
        log.info(
            "%s: direct ONNX vectors differ from encode() (cosine %.6f); kept encode()", folder, agreement
        )
        return None
    return spec


def _spec_of(model: Any) -> EncoderSpec | None:
    names = [type(module).__name__ for module in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    if model[1].get_config_dict().get("pooling_mode") != "mean":
        return None
    session = getattr(model[0].auto_model, "session", None)
    if session is None or _OUTPUT not in {item.name for item in session.get_outputs()}:
        return None  # the torch backend, or an export without token outputs
    pad_id = model.tokenizer.pad_token_id
    if pad_id is None:
        return None
    return EncoderSpec(
        max_seq_length=int(model.max_seq_length),
        pad_id=int(pad_id),
        dimension=int(model.get_embedding_dimension()),
    )


def read_specs(folder: Path) -> dict[str, EncoderSpec | None]:
    """The verdicts kept in `folder`, by ONNX file name (None: that file keeps `encode()`)."""
    try:
        raw = json.loads((folder / SPEC_FILE).read_text())
        return {name: EncoderSpec(**value) if value else None for name, value in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}  # never described, or a damaged file: describe again


def write_spec(folder: Path, onnx_file: str, spec: EncoderSpec | None) -> None:
    """Keep the verdict on `onnx_file`, replacing the file atomically (call under the folder's lock)."""
    specs = read_specs(folder) | {onnx_file: spec}
    temporary = folder / f".{SPEC_FILE}.tmp"
    temporary.write_text(
        json.dumps({name: asdict(value) if value else None for name, value in specs.items()}, indent=2)
    )
    temporary.replace(folder / SPEC_FILE)
