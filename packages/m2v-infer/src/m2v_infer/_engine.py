"""The encoding engine: texts to token ids (the fast encoder) and ids to vectors (rules I5-I7).

One engine per model.  Tokenization is :class:`~m2v_infer._fastpath.FastEncoder`, which
replays the tokenizer word by word with a memo where that is exact and hands every other
text to the ``tokenizers`` library; pooling and normalization are m2v-format's rule
functions (``mean_pool``, ``normalize_rows``), the same the reference encoder calls.

An engine is safe to call from several threads at once: the memo (shared state) is
behind a lock, while pooling - numpy gathers and sums that release the GIL - runs outside
it, so one thread's pooling overlaps another's tokenization.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from m2v_format import StaticModelData, effective_rows, mean_pool, normalize_rows

from m2v_infer._fastpath import FastEncoder

FloatMatrix = npt.NDArray[np.float32]


class Engine:
    """Tokenize and pool batches of texts for one model (rules I1-I6)."""

    def __init__(self, data: StaticModelData, *, fast: bool = True) -> None:
        self.rows: FloatMatrix = effective_rows(data)
        self.encoder = FastEncoder(
            data.tokenizer,
            unknown_id=data.unknown_token_id,
            median_length=data.median_token_length,
            fast=fast,
        )
        # Only the memo of the fast path is shared mutable state.
        self._lock: Any = threading.Lock() if self.encoder.eligible else contextlib.nullcontext()

    @property
    def dim(self) -> int:
        """Columns of the pooled vectors."""
        return int(self.rows.shape[1])

    def token_ids(self, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
        """The ids each text pools: rules I2-I4 (text cut, id cut, unknown ids dropped)."""
        with self._lock:
            result: list[list[int]] = self.encoder.tokenize(list(texts), max_length)
        return result

    def pool(self, texts: Sequence[str], max_length: int | None) -> FloatMatrix:
        """Un-normalized mean vectors ``[len(texts), dim]`` in float32 (I2-I6)."""
        batch = list(texts)
        with self._lock:
            ids, counts, order = self.encoder.segments(batch, max_length)
        out = np.empty((len(batch), self.dim), dtype=np.float32)
        return mean_pool(self.rows, ids, counts, out=out, where=order)


def finish(vectors: FloatMatrix, *, dimensions: int | None, normalize: bool) -> FloatMatrix:
    """Keep the first ``dimensions`` columns (if given), then normalize (rule I7, if asked)."""
    if dimensions is not None and dimensions < vectors.shape[1]:
        vectors = np.ascontiguousarray(vectors[:, :dimensions])
    if normalize:
        vectors = normalize_rows(vectors)
    return vectors
