"""StaticModelData: the in-memory form of a model (tensors, tokenizer, config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from m2v_format._config import ModelConfig
from m2v_format._layout import Layout
from m2v_format._tokenizer import (
    copy_tokenizer,
    median_token_length,
    unknown_token_id,
    vocab_size,
    vocabulary,
    without_padding_or_truncation,
)


@dataclass
class _VocabStats:
    tokenizer: Tokenizer
    size: int | None = None
    largest_id: int | None = None
    median_length: int | None = None
    unknown_id: int | None = None
    unknown_known: bool = False


@dataclass(eq=False)
class StaticModelData:
    """A static embedding model: tensors, tokenizer and config, as stored in a model folder.

    ``embeddings`` keeps its stored dtype (float32, float16, int8 or float64) and, when
    loaded, is a read-only view on a memory map of the file (or, loaded with
    ``memory_map=False``, on a copy in memory).  ``embeddings_scale`` is the global int8
    dequantization factor of format 1.1 (T7).  ``normalize`` is resolved from the config
    (absent means false, C3; sentence-transformers folders are resolved at load, L3).
    """

    embeddings: np.ndarray[Any, Any]
    tokenizer: Tokenizer
    config: ModelConfig = field(default_factory=ModelConfig)
    weights: np.ndarray[Any, Any] | None = None
    mapping: np.ndarray[Any, Any] | None = None
    embeddings_scale: float | None = None
    path: Path | None = None
    layout: Layout | None = None
    _stats: _VocabStats | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.tokenizer.padding is not None or self.tokenizer.truncation is not None:
            self.tokenizer = without_padding_or_truncation(copy_tokenizer(self.tokenizer))

    def _vocab_stats(self) -> _VocabStats:
        if self._stats is None or self._stats.tokenizer is not self.tokenizer:
            self._stats = _VocabStats(self.tokenizer)
        return self._stats

    @property
    def rows(self) -> int:
        """Number of rows of ``embeddings``."""
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        """Embedding dimension (columns of ``embeddings``)."""
        return int(self.embeddings.shape[1])

    @property
    def dtype(self) -> np.dtype[Any]:
        """The stored dtype of ``embeddings``."""
        dtype: np.dtype[Any] = self.embeddings.dtype
        return dtype

    @property
    def normalize(self) -> bool:
        """Whether encode normalizes outputs by default (C3: absent means false)."""
        return bool(self.config.normalize)

    @property
    def vocab_size(self) -> int:
        """V of rule T5: the tokenizer's vocabulary size, added tokens included."""
        stats = self._vocab_stats()
        if stats.size is None:
            stats.size = vocab_size(self.tokenizer)
        return stats.size

    @property
    def largest_token_id(self) -> int:
        """The largest id in the tokenizer's vocabulary (-1 when it is empty)."""
        self._fill_vocab_stats()
        assert self._stats is not None
        assert self._stats.largest_id is not None
        return self._stats.largest_id

    @property
    def unknown_token_id(self) -> int | None:
        """Rule K3: the id dropped before averaging, or ``None``."""
        stats = self._vocab_stats()
        if not stats.unknown_known:
            stats.unknown_id = unknown_token_id(self.tokenizer)
            stats.unknown_known = True
        return stats.unknown_id

    @property
    def median_token_length(self) -> int:
        """Rule I1: median length in code points of every vocabulary token."""
        self._fill_vocab_stats()
        assert self._stats is not None
        assert self._stats.median_length is not None
        return self._stats.median_length

    def _fill_vocab_stats(self) -> None:
        stats = self._vocab_stats()
        if stats.median_length is None:
            vocab = vocabulary(self.tokenizer)
            stats.median_length = median_token_length(vocab)
            stats.largest_id = max(vocab.values(), default=-1)

    def check(self) -> None:
        """Check rules T2-T7 on the arrays (a model built in code): shapes, dtypes, the
        vocabulary size against the tokenizer, mapping range, scale, finite values.

        Raises:
            FormatError: the first rule broken (``vocab-size-mismatch``, ...).
        """
        from m2v_format._checks import check_arrays

        check_arrays(
            np.asarray(self.embeddings),
            None if self.weights is None else np.asarray(self.weights),
            None if self.mapping is None else np.asarray(self.mapping),
            self.embeddings_scale,
            vocab_size=self.vocab_size,
            largest_token_id=self.largest_token_id,
            path=self.path,
        )

    def dequantized_embeddings(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        """E' of rule I5 as float32: int8 times ``embeddings_scale`` when set.

        A float32 matrix is returned as is (no copy; read-only when memory-mapped).
        """
        embeddings = self.embeddings
        if embeddings.dtype == np.float32:
            return embeddings
        result = embeddings.astype(np.float32)
        if self.embeddings_scale is not None and embeddings.dtype == np.int8:
            result *= np.float32(self.embeddings_scale)
        return result
