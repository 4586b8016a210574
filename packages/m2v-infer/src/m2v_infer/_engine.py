"""The encoding engine: tokenize one batch of texts and mean-pool it (rules I2-I6).

An engine is immutable once built and safe to call from several threads at once: the
``tokenizers`` library releases the GIL while it tokenizes, and numpy releases it for the
large gathers and sums, so batches handed to a thread pool run in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from m2v_format import StaticModelData

from m2v_infer._pooling import FloatMatrix, flatten_ids, mean_pool


class Engine(Protocol):
    """Tokenize and pool batches of texts; must be safe to call from several threads."""

    @property
    def dim(self) -> int:
        """Columns of the pooled vectors."""
        ...

    def token_ids(self, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
        """The ids each text pools: rules I2-I4 (text cut, id cut, unknown ids dropped)."""
        ...

    def pool(self, texts: Sequence[str], max_length: int | None) -> FloatMatrix:
        """Un-normalized mean vectors ``[len(texts), dim]`` in float32 (I2-I6)."""
        ...


def cut_texts(texts: Sequence[str], max_length: int | None, median_length: int) -> Sequence[str]:
    """Rule I2: keep the first ``max_length * median_length`` code points of each text."""
    if max_length is None:
        return texts
    limit = max_length * median_length
    if any(len(text) > limit for text in texts):
        return [text[:limit] for text in texts]
    return texts


class TokenizersEngine:
    """The general engine: the ``tokenizers`` library, then numpy pooling.

    ``rows`` is the float32 matrix of effective rows, one per token id: the dequantized
    embedding row (through ``mapping`` when present) times the token weight (rule I5).
    """

    def __init__(
        self,
        tokenizer: Any,
        rows: npt.NDArray[np.float32],
        *,
        unknown_id: int | None,
        median_length: int,
    ) -> None:
        self._tokenizer = tokenizer
        self._rows = rows
        self._unknown_id = unknown_id
        self._median_length = median_length

    @property
    def dim(self) -> int:
        """Columns of the pooled vectors."""
        return int(self._rows.shape[1])

    def _raw_ids(self, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
        texts = cut_texts(texts, max_length, self._median_length)
        encodings = self._tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        if max_length is None:
            return [encoding.ids for encoding in encodings]
        return [encoding.ids[:max_length] for encoding in encodings]

    def token_ids(self, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
        """The ids each text pools: rules I2-I4 (text cut, id cut, unknown ids dropped)."""
        ids = self._raw_ids(texts, max_length)
        unknown = self._unknown_id
        if unknown is None:
            return ids
        return [[i for i in row if i != unknown] if unknown in row else row for row in ids]

    def pool(self, texts: Sequence[str], max_length: int | None) -> FloatMatrix:
        """Un-normalized mean vectors ``[len(texts), dim]`` in float32 (I2-I6)."""
        flat, lengths = flatten_ids(self._raw_ids(texts, max_length), self._unknown_id)
        return mean_pool(self._rows, flat, lengths)


def effective_rows(data: StaticModelData) -> npt.NDArray[np.float32]:
    """Rule I5's per-token vectors as one float32 matrix indexed by token id.

    A float32 model without mapping or weights is used as stored (no copy: the loaded
    memory map).  Otherwise the table is dequantized (int8 times its scale), expanded
    through ``mapping`` and multiplied by ``weights``, once, in float32.
    """
    rows = data.dequantized_embeddings()
    if data.mapping is not None:
        rows = rows[np.asarray(data.mapping, dtype=np.intp)]
    if data.weights is not None:
        rows = rows * np.asarray(data.weights, dtype=np.float32)[:, None]
    if rows.dtype != np.float32:
        rows = rows.astype(np.float32)
    return rows


class FastPathEngine:
    """The memoized fast path (``_fastpath.FastEncoder``) behind a lock, pooling outside it.

    The encoder's word memo is shared state, so turning texts into ids is serialized; the
    pooling (numpy gathers and sums, which release the GIL) runs outside the lock, so one
    thread's pooling overlaps another's tokenization.
    """

    def __init__(self, encoder: Any, rows: npt.NDArray[np.float32]) -> None:
        from m2v_infer._fastpath._pool import pool_segments

        self._encoder = encoder
        self._rows = rows
        self._lock = threading.Lock()
        self._pool_segments = pool_segments

    @property
    def dim(self) -> int:
        """Columns of the pooled vectors."""
        return int(self._rows.shape[1])

    def token_ids(self, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
        """The ids each text pools: rules I2-I4 (text cut, id cut, unknown ids dropped)."""
        with self._lock:
            result: list[list[int]] = self._encoder.tokenize(list(texts), max_length)
        return result

    def pool(self, texts: Sequence[str], max_length: int | None) -> FloatMatrix:
        """Un-normalized mean vectors ``[len(texts), dim]`` in float32 (I2-I6)."""
        batch = list(texts)
        with self._lock:
            ids, counts, order = self._encoder.segments(batch, max_length)
        out = np.empty((len(batch), self.dim), dtype=np.float32)
        self._pool_segments(self._rows, ids, counts, out, order, mean=True, normalize=False)
        return out


def build_engine(data: StaticModelData, rows: npt.NDArray[np.float32]) -> Engine:
    """The fastest engine that is exact for this model's tokenizer.

    Tokenizers whose pipeline the fast path can replay word by word (BERT-style
    WordPiece and other local pipelines, see ``_fastpath._spec``) get the memoized fast
    path; every other tokenizer goes through the ``tokenizers`` library.
    """
    unknown_id = data.unknown_token_id
    median_length = data.median_token_length
    from m2v_infer._fastpath import FastEncoder

    encoder = FastEncoder(data.tokenizer, rows, unknown_id=unknown_id, median_length=median_length)
    if encoder.eligible:
        return FastPathEngine(encoder, rows)
    return TokenizersEngine(
        data.tokenizer, rows, unknown_id=unknown_id, median_length=median_length
    )
