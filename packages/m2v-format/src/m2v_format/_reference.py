"""The reference encoder: the inference rules I1-I8 composed the plainest way.

Texts are tokenized one at a time by the ``tokenizers`` library itself, then go through
the rule functions of ``_inference`` that every other implementation in this project also
calls.  It has no memo and no batching: it is the yardstick fast implementations are
tested against, not something to serve traffic with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from m2v_format._errors import (
    InvalidArgumentError,
    InvalidInputError,
    InvalidTokenizerError,
    VocabularySizeMismatchError,
)
from m2v_format._inference import (
    cut_texts,
    effective_rows,
    id_lists,
    id_segments,
    kept_ids,
    mean_pool,
    normalize_rows,
)
from m2v_format._model import StaticModelData


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a sequence of strings, not a single string")


def _check_max_length(max_length: int | None) -> None:
    if max_length is not None and max_length < 1:
        raise InvalidArgumentError(f"max_length must be >= 1 or None, got {max_length}")


def _library_ids(model: StaticModelData, text: str) -> list[int]:
    # I3 (first half): tokenize without special tokens.
    try:
        return list(model.tokenizer.encode(text, add_special_tokens=False).ids)
    except Exception as error:  # e.g. an unk_token missing from the vocabulary
        raise InvalidTokenizerError(
            f"the tokenizer fails on this text: {error}", path=model.path
        ) from None


def _segments(
    model: StaticModelData, texts: Sequence[str], max_length: int | None
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    cut = cut_texts(texts, max_length, model.median_token_length)  # I1, I2
    ids, counts = id_segments([_library_ids(model, text) for text in cut])  # I3
    return kept_ids(ids, counts, max_length=max_length, unknown_id=model.unknown_token_id)  # I3, I4


def reference_tokenize(
    model: StaticModelData, texts: Sequence[str], *, max_length: int | None = 512
) -> list[list[int]]:
    """Token ids per text after rules I1-I4 (truncation, unknown ids dropped).

    ``max_length=None`` disables truncation.
    """
    _check_texts(texts)
    _check_max_length(max_length)
    return id_lists(*_segments(model, texts, max_length))


def _check_ids(model: StaticModelData, rows: int, ids: np.ndarray[Any, Any]) -> None:
    # Only a tokenizer whose ids have holes gets here with an id beyond the table (T5).
    if ids.size and int(ids.max()) >= rows:
        raise VocabularySizeMismatchError(
            f"the tokenizer produced id {int(ids.max())} but the model has {rows} token entries",
            path=model.path,
        )


def reference_encode(
    model: StaticModelData,
    texts: Sequence[str],
    *,
    max_length: int | None = 512,
    normalize: bool | None = None,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Embeddings per rules I1-I8: float32, shape ``(len(texts), dim)``.

    ``normalize=None`` uses the model's setting (C3, L3).
    """
    _check_texts(texts)
    _check_max_length(max_length)
    if normalize is None:
        normalize = model.normalize
    rows = effective_rows(model)  # I5
    ids, counts = _segments(model, texts, max_length)
    _check_ids(model, len(rows), ids)
    vectors = mean_pool(rows, ids, counts)  # I5, I6; an empty batch gives (0, dim) (I8)
    return normalize_rows(vectors) if normalize else vectors  # I7
