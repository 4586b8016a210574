"""The reference implementation of the inference rules I1-I8.

Written to mirror the spec's pseudo-code line by line, one text at a time, with no
batching or other optimization: it is the yardstick fast implementations are tested
against, not something to serve traffic with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from m2v_format._errors import InvalidTokenizerError, VocabularySizeMismatchError
from m2v_format._model import StaticModelData

NORM_EPSILON = np.float32(1e-32)
"""Rule I7: added to the norm before dividing."""


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a single string")


def _tokenize_one(model: StaticModelData, text: str, max_length: int | None) -> list[int]:
    # I2: cut the text to max_length * median token length code points.
    if max_length is not None:
        text = text[: max_length * model.median_token_length]
    # I3: tokenize without special tokens; keep the first max_length ids.
    try:
        ids: list[int] = list(model.tokenizer.encode(text, add_special_tokens=False).ids)
    except Exception as error:  # e.g. an unk_token missing from the vocabulary (K1)
        raise InvalidTokenizerError(
            f"the tokenizer fails on this text: {error}", path=model.path
        ) from None
    if max_length is not None:
        ids = ids[:max_length]
    # I4: drop the unknown token's id (after the cut, as model2vec does).
    unknown = model.unknown_token_id
    if unknown is not None:
        ids = [token_id for token_id in ids if token_id != unknown]
    return ids


def reference_tokenize(
    model: StaticModelData, texts: Sequence[str], *, max_length: int | None = 512
) -> list[list[int]]:
    """Token ids per text after rules I1-I4 (truncation, unknown ids dropped).

    ``max_length=None`` disables truncation.
    """
    _check_texts(texts)
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
    return [_tokenize_one(model, text, max_length) for text in texts]


def _row(
    model: StaticModelData, table: np.ndarray[Any, Any], token_id: int
) -> np.ndarray[Any, Any]:
    # I5: the token's row of E' (through the mapping when there is one), times its weight.
    limit = len(model.mapping) if model.mapping is not None else len(table)
    if model.weights is not None:
        limit = min(limit, len(model.weights))
    if not 0 <= token_id < limit:  # only a tokenizer whose ids have holes gets here (T5)
        raise VocabularySizeMismatchError(
            f"the tokenizer produced id {token_id} but the model has {limit} token entries",
            path=model.path,
        )
    row_index = int(model.mapping[token_id]) if model.mapping is not None else token_id
    vector = np.asarray(table[row_index], dtype=np.float32)
    if model.weights is not None:
        vector = vector * np.float32(model.weights[token_id])
    return vector


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
    if normalize is None:
        normalize = model.normalize
    table = model.dequantized_embeddings()  # E' (I5)
    output = np.zeros((len(texts), model.dim), dtype=np.float32)  # I8 (an empty batch: (0, dim))
    for index, ids in enumerate(reference_tokenize(model, texts, max_length=max_length)):
        if not ids:  # I6: no ids left, the zero vector
            continue
        total = np.zeros(model.dim, dtype=np.float32)
        for token_id in ids:
            total = total + _row(model, table, token_id)
        vector = total / np.float32(len(ids))
        if normalize:  # I7
            vector = vector / (np.float32(np.linalg.norm(vector)) + NORM_EPSILON)
        output[index] = vector
    return output
