"""One query's embedding straight from ONNX Runtime, without sentence-transformers' batching machinery.

A search embeds one short text. Through `SentenceTransformer.encode` that costs about a millisecond of Python
(feature dicts, torch tensors, the pooling module) on top of the model itself, all of it holding the GIL
that every other search of the process needs; here the Rust tokenizer, one `InferenceSession.run` (which
releases the GIL) and a numpy mean are all there is. It is used only where it gives the very vector `encode`
gives: a pipeline of Transformer, mean Pooling and an optional Normalize on the ONNX backend, checked on a
probe text when loaded; any other model keeps `encode`. Vectors are unit length, as search asks of encode.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_PROBE = "How quickly does a changed document become searchable?"
_OUTPUT = "last_hidden_state"
_AGREEMENT = 0.99999  # cosine between this encoder's probe vector and encode()'s


class OnnxQueryEncoder:
    """Embeds one text at a time; not thread-safe (one per query model copy)."""

    def __init__(self, session: Any, tokenizer: Any) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = {item.name for item in session.get_inputs()}

    @classmethod
    def of(cls, model: Any) -> OnnxQueryEncoder | None:
        """The encoder for a loaded `SentenceTransformer`, or None where it would not give `encode`'s
        vectors (another backend, pooling or module list, or a probe that disagrees)."""
        try:
            encoder = cls._built(model)
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        if encoder is None:
            return None
        expected = model.encode(
            [_PROBE], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )[0]
        cosine = float(np.dot(expected, encoder.encode(_PROBE)))
        if cosine < _AGREEMENT:
            log.info("query encoder disagrees with encode() (cosine %.6f); queries use encode()", cosine)
            return None
        return encoder

    @classmethod
    def _built(cls, model: Any) -> OnnxQueryEncoder | None:
        names = [type(module).__name__ for module in model]
        if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        if model[1].get_config_dict().get("pooling_mode") != "mean":
            return None
        session = getattr(model[0].auto_model, "session", None)
        if session is None or not hasattr(session, "run"):
            return None  # the torch backend
        if _OUTPUT not in {item.name for item in session.get_outputs()}:
            return None
        tokenizer = copy.deepcopy(model.tokenizer.backend_tokenizer)
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(model.max_seq_length))
        return cls(session, tokenizer)

    def encode(self, text: str) -> np.ndarray:
        """The unit-length float32 vector of `text`, as `encode([text], normalize_embeddings=True)[0]`."""
        # encode_batch computes without the GIL (encode holds it), so other searches go on meanwhile.
        encoding = self._tokenizer.encode_batch([text])[0]
        ids = np.asarray([encoding.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden: np.ndarray = self._session.run([_OUTPUT], feeds)[0][0]
        # The mean's direction is the sum's: summing skips numpy's Python-level mean wrapper.
        vector: np.ndarray = np.add.reduce(hidden, axis=0, dtype=np.float32)
        return vector / max(float(np.sqrt(np.dot(vector, vector))), 1e-12)
