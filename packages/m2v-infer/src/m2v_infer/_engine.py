"""The encoding engine: texts to token ids (the fast encoder) and ids to vectors (rules I5-I7).

One engine per model (and one per worker process).  Tokenization is
:class:`~m2v_infer._fastpath.FastEncoder`, which replays the tokenizer word by word with a
memo where that is exact and hands every other text to the ``tokenizers`` library; pooling
and normalization are m2v-format's rule functions (``mean_pool``, ``normalize_rows``), the
same the reference encoder calls.

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

from m2v_infer._errors import InvalidInputError
from m2v_infer._fastpath import FastEncoder

FloatMatrix = npt.NDArray[np.float32]


class Engine:
    """Tokenize and pool batches of texts for one model (rules I1-I6).

    ``tokenizer`` is a ``tokenizers.Tokenizer`` or its JSON text; ``rows`` the effective
    float32 table of rule I5 (``m2v_format.effective_rows``).
    """

    def __init__(
        self,
        tokenizer: object,
        rows: npt.NDArray[Any],
        *,
        unknown_id: int | None,
        median_length: int,
        fast: bool = True,
    ) -> None:
        self.rows: FloatMatrix = rows
        self.encoder = FastEncoder(
            tokenizer, unknown_id=unknown_id, median_length=median_length, fast=fast
        )
        # Only the memo of the fast path is shared mutable state.
        self._lock: Any = threading.Lock() if self.encoder.eligible else contextlib.nullcontext()

    @classmethod
    def for_model(cls, data: StaticModelData) -> Engine:
        """The engine of a loaded (or built) model."""
        return cls(
            data.tokenizer,
            effective_rows(data),
            unknown_id=data.unknown_token_id,
            median_length=data.median_token_length,
        )

    @property
    def dim(self) -> int:
        """Columns of the pooled vectors."""
        return int(self.rows.shape[1])

    def token_ids(
        self, texts: Sequence[str], max_length: int | None, *, offset: int = 0
    ) -> list[list[int]]:
        """The ids each text pools: rules I2-I4 (text cut, id cut, unknown ids dropped).

        ``offset`` is the index of ``texts[0]`` in the caller's input (for error messages).
        """
        batch = list(texts)
        try:
            with self._lock:
                result: list[list[int]] = self.encoder.tokenize(batch, max_length)
        except Exception as error:
            raise self._text_error(batch, error, offset) from None
        return result

    def pool(
        self,
        texts: Sequence[str],
        max_length: int | None,
        *,
        offset: int = 0,
        out: FloatMatrix | None = None,
        tally: list[int] | None = None,
    ) -> FloatMatrix:
        """Un-normalized mean vectors ``[len(texts), dim]`` in float32 (I2-I6).

        Written into ``out`` when given (``[len(texts), dim]`` float32, e.g. shared memory).
        ``tally``, when given, gets the number of token ids pooled over all texts appended.
        """
        batch = list(texts)
        try:
            with self._lock:
                ids, counts, order = self.encoder.segments(batch, max_length)
        except Exception as error:
            raise self._text_error(batch, error, offset) from None
        if tally is not None:
            tally.append(int(ids.size))
        if out is None:
            out = np.empty((len(batch), self.dim), dtype=np.float32)
        return mean_pool(self.rows, ids, counts, out=out, where=order)

    def warm_memo(self) -> None:
        """Fill the word memo with the vocabulary's whole words, through the exact path.

        The costly part of a first pass is learning the common words; a worker process
        does it once at start (about 0.06 s for potion-base-8M) instead of separately in
        every worker during its first batches.  Results never depend on the memo.
        """
        cache = self.encoder.cache
        if cache is None:
            return
        prefix = getattr(self.encoder.tokenizer.model, "continuing_subword_prefix", None) or ""
        words = []
        for token in self.encoder.tokenizer.get_vocab(with_added_tokens=False):
            word = token.lstrip("\u0120\u2581")  # byte-level BPE's and SentencePiece's marks
            if word.isalnum() and not (prefix and token.startswith(prefix)):
                words.append(word)
        with self._lock:
            self.encoder.segments(words[: cache.capacity // 2], None)

    def _text_error(self, batch: list[str], error: Exception, offset: int) -> Exception:
        """The typed error naming the first text the tokenizers library refuses."""
        tokenizer = self.encoder.tokenizer
        for index, text in enumerate(batch):
            try:
                tokenizer.encode(text, add_special_tokens=False)
            except Exception as refused:
                return InvalidInputError(
                    f"the tokenizer cannot encode this text: {_why(text, refused)}",
                    index=offset + index,
                )
        return error  # not a text's fault: let the original error through


def _why(text: str, error: Exception) -> str:
    for position, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            return (
                f"it holds the lone surrogate U+{ord(char):04X} at position {position} "
                "(bytes that were not valid UTF-8, decoded with errors='surrogateescape'?); "
                "decode the input with the right encoding or errors='replace'"
            )
    return f"{type(error).__name__}: {error}"


def finish(vectors: FloatMatrix, *, dimensions: int | None, normalize: bool) -> FloatMatrix:
    """Keep the first ``dimensions`` columns (if given), then normalize (rule I7, if asked)."""
    if dimensions is not None and dimensions < vectors.shape[1]:
        vectors = np.ascontiguousarray(vectors[:, :dimensions])
    if normalize:
        vectors = normalize_rows(vectors)
    return vectors
