"""Tensor rules T2-T7, shared by the loader, the validator and the writer.

Each check returns a list of errors instead of raising, so the validator can report every
problem; the loader and the writer raise the first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2v_format._errors import (
    FormatError,
    InvalidScaleError,
    MappingOutOfRangeError,
    NonFiniteValueError,
    TensorShapeError,
    UnsupportedDtypeError,
    VocabularySizeMismatchError,
)

EMBEDDINGS = "embeddings"
WEIGHTS = "weights"
MAPPING = "mapping"
SCALE = "embeddings_scale"

READ_DTYPES: dict[str, frozenset[str]] = {
    EMBEDDINGS: frozenset({"F32", "F16", "I8", "F64"}),
    WEIGHTS: frozenset({"F16", "F32", "F64"}),
    MAPPING: frozenset({"I32", "I64"}),
}
"""Rule T3: the dtypes a reader accepts, per tensor role."""

WRITE_DTYPES: dict[str, frozenset[str]] = {
    EMBEDDINGS: frozenset({"F32", "F16", "I8"}),
    WEIGHTS: frozenset({"F32"}),
    MAPPING: frozenset({"I32"}),
    SCALE: frozenset({"F32"}),
}
"""Rule T3: the dtypes a writer writes, per tensor role."""

_CHUNK = 1 << 18


@dataclass(frozen=True)
class TensorMeta:
    """What the header says about a tensor: its safetensors dtype name and shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]


def check_structure(
    embeddings: TensorMeta,
    weights: TensorMeta | None,
    mapping: TensorMeta | None,
    scale: TensorMeta | None,
    path: Path | None,
) -> list[FormatError]:
    """Dtypes (T3), ranks and sizes (T2), and the scale's dtype, shape and pairing (T7)."""
    errors: list[FormatError] = []
    for role, meta in ((EMBEDDINGS, embeddings), (WEIGHTS, weights), (MAPPING, mapping)):
        if meta is not None and meta.dtype not in READ_DTYPES[role]:
            allowed = ", ".join(sorted(READ_DTYPES[role]))
            errors.append(
                UnsupportedDtypeError(
                    f"tensor {meta.name!r} has dtype {meta.dtype}; allowed: {allowed}", path=path
                )
            )
    if len(embeddings.shape) != 2 or min(embeddings.shape, default=0) < 1:
        errors.append(
            TensorShapeError(
                f"tensor {embeddings.name!r} must have shape [rows >= 1, dim >= 1], "
                f"got {list(embeddings.shape)}",
                path=path,
            )
        )
    for meta in (weights, mapping):
        if meta is not None and len(meta.shape) != 1:
            errors.append(
                TensorShapeError(
                    f"tensor {meta.name!r} must have rank 1, got shape {list(meta.shape)}",
                    path=path,
                )
            )
    if scale is not None:
        if scale.dtype != "F32" or scale.shape != (1,):
            errors.append(
                InvalidScaleError(
                    f"tensor {SCALE!r} must be F32 with shape [1], got {scale.dtype} "
                    f"{list(scale.shape)}",
                    path=path,
                )
            )
        if embeddings.dtype != "I8":
            errors.append(
                InvalidScaleError(
                    f"tensor {SCALE!r} is only allowed with I8 embeddings, not {embeddings.dtype}",
                    path=path,
                )
            )
    return errors


def check_vocabulary(
    rows: int,
    weights_length: int | None,
    mapping_length: int | None,
    vocab_size: int,
    path: Path | None,
    *,
    largest_token_id: int | None = None,
) -> list[FormatError]:
    """Rule T5: tensor lengths agree with the tokenizer's vocabulary size V.

    With ``largest_token_id`` also require every token id < V, so that every id the
    tokenizer can emit indexes the tables (a vocabulary with holes breaks this).
    """
    errors: list[FormatError] = []
    if mapping_length is None and rows != vocab_size:
        errors.append(
            VocabularySizeMismatchError(
                f"embeddings has {rows} rows but the tokenizer has {vocab_size} tokens "
                f"(and there is no mapping tensor)",
                path=path,
            )
        )
    for name, length in ((WEIGHTS, weights_length), (MAPPING, mapping_length)):
        if length is not None and length != vocab_size:
            errors.append(
                VocabularySizeMismatchError(
                    f"tensor {name!r} has length {length} but the tokenizer has {vocab_size} tokens",
                    path=path,
                )
            )
    if largest_token_id is not None and largest_token_id >= vocab_size:
        errors.append(
            VocabularySizeMismatchError(
                f"the tokenizer has {vocab_size} tokens but uses token id {largest_token_id}; "
                f"token ids must be below the vocabulary size",
                path=path,
            )
        )
    return errors


def all_finite(array: np.ndarray[Any, Any]) -> bool:
    """Whether a floating array holds no NaN or infinity (integers always do).

    Chunked, and cheap: a chunk whose sum is finite has only finite values; only when a
    sum is not finite (NaN/inf, or mere overflow) are the values checked one by one.
    """
    if array.dtype.kind != "f":
        return True
    flat = array.reshape(-1)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(chunk.sum()):
                continue
        if not np.isfinite(chunk).all():
            return False
    return True


def check_finite(name: str, array: np.ndarray[Any, Any], path: Path | None) -> list[FormatError]:
    """Rule T4: a floating tensor holds only finite values."""
    if all_finite(array):
        return []
    flat = array.reshape(-1)
    bad = int(np.count_nonzero(~np.isfinite(flat)))
    return [NonFiniteValueError(f"tensor {name!r} holds {bad} NaN or infinite values", path=path)]


def check_mapping_range(
    mapping: np.ndarray[Any, Any], rows: int, path: Path | None
) -> list[FormatError]:
    """Rule T6: every mapping value is a row index of embeddings."""
    if mapping.size == 0:
        return []
    low, high = int(mapping.min()), int(mapping.max())
    if low < 0 or high >= rows:
        return [
            MappingOutOfRangeError(
                f"mapping values span [{low}, {high}] but embeddings has {rows} rows",
                path=path,
            )
        ]
    return []


def check_scale_value(scale: float, path: Path | None) -> list[FormatError]:
    """Rule T7: the int8 scale is finite and positive."""
    if not (np.isfinite(scale) and scale > 0):
        return [InvalidScaleError(f"{SCALE!r} must be finite and > 0, got {scale!r}", path=path)]
    return []


def first(errors: Sequence[FormatError]) -> None:
    """Raise the first error, if any."""
    if errors:
        raise errors[0]


def check_arrays(
    embeddings: np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any] | None,
    mapping: np.ndarray[Any, Any] | None,
    scale: float | None,
    *,
    vocab_size: int,
    largest_token_id: int,
    path: Path | None = None,
) -> None:
    """Rules T2-T7 on in-memory arrays (a model built in code, or about to be written).

    Raises the first error found (``UnsupportedDtypeError`` for a dtype the format has no
    name for).
    """
    from m2v_format._safetensors import dtype_name

    def meta(name: str, array: np.ndarray[Any, Any] | None) -> TensorMeta | None:
        if array is None:
            return None
        try:
            kind = dtype_name(array.dtype)
        except ValueError:
            raise UnsupportedDtypeError(
                f"tensor {name!r} has dtype {array.dtype}, which the format cannot store",
                path=path,
            ) from None
        return TensorMeta(name, kind, tuple(array.shape))

    scale_array = None if scale is None else np.array([scale], dtype="<f4")
    embeddings_meta = meta(EMBEDDINGS, embeddings)
    assert embeddings_meta is not None
    first(
        check_structure(
            embeddings_meta,
            meta(WEIGHTS, weights),
            meta(MAPPING, mapping),
            meta(SCALE, scale_array),
            path,
        )
    )
    first(
        check_vocabulary(
            int(embeddings.shape[0]),
            None if weights is None else len(weights),
            None if mapping is None else len(mapping),
            vocab_size,
            path,
            largest_token_id=largest_token_id,
        )
    )
    if mapping is not None:
        first(check_mapping_range(mapping, int(embeddings.shape[0]), path))
    if scale is not None:
        first(check_scale_value(scale, path))
    first(check_finite(EMBEDDINGS, embeddings, path))
    if weights is not None:
        first(check_finite(WEIGHTS, weights, path))
