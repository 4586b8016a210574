"""Embedding precision (float32, float16, int8 with per-row or one global scale) and dimension
truncation."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

from m2v_format._errors import InvalidArgumentError
from m2v_format._model import StaticModelData

Precision = Literal["float32", "float16", "int8"]
Int8Scale = Literal["row", "global"]
INT8_SCALES: tuple[Int8Scale, ...] = ("row", "global")

INT8_LIMIT = 127
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def int8_quantize(
    embeddings: np.ndarray[Any, np.dtype[np.float32]],
) -> tuple[np.ndarray[Any, np.dtype[np.int8]], float]:
    """Symmetric int8 with one global scale (T7).

    ``scale = max|E| / 127``; ``q = clip(round_half_even(E / scale), -127, 127)``, so that
    ``q * scale`` approximates ``E``.  An all-zero matrix gets scale 1.
    """
    peak = float(np.max(np.abs(embeddings))) if embeddings.size else 0.0
    scale = np.float32(peak / INT8_LIMIT) if peak > 0 else np.float32(1.0)
    scaled = embeddings / scale
    quantized = np.clip(np.rint(scaled), -INT8_LIMIT, INT8_LIMIT).astype(np.int8)
    return quantized, float(scale)


def int8_quantize_rows(
    embeddings: np.ndarray[Any, np.dtype[np.float32]],
) -> tuple[np.ndarray[Any, np.dtype[np.int8]], np.ndarray[Any, np.dtype[np.float32]]]:
    """Symmetric int8 with one scale per row.

    ``scale[r] = max|E[r]| / 127``; ``q[r] = clip(round_half_even(E[r] / scale[r]), -127,
    127)``, so that ``q[r] * scale[r]`` approximates ``E[r]``.  An all-zero row gets scale 1.
    """
    peaks = np.max(np.abs(embeddings), axis=1) if embeddings.size else np.zeros(len(embeddings))
    scales = np.where(peaks > 0, peaks / INT8_LIMIT, 1.0).astype(np.float32)
    scaled = embeddings / scales[:, None]
    quantized = np.clip(np.rint(scaled), -INT8_LIMIT, INT8_LIMIT).astype(np.int8)
    return quantized, scales


def quantize(
    model: StaticModelData,
    to: Precision,
    *,
    dims: int | None = None,
    int8_scale: Int8Scale = "row",
) -> StaticModelData:
    """A copy of ``model`` with embeddings stored as ``to``, optionally keeping only the
    first ``dims`` dimensions.

    The input's dequantized embeddings (E', I5) are the starting point, so an int8 model
    can be re-quantized.  ``float16`` refuses values beyond its range.  ``int8`` with
    ``int8_scale="row"`` (the default) gives every row its own scale and folds it into the
    per-token ``weights`` (T5; one float32 per token, created if absent), which the format
    already multiplies in (I5): a format 1.0 folder that model2vec 0.10.0 reads exactly.
    ``int8_scale="global"`` stores one ``embeddings_scale`` instead (format 1.1, T7): no
    weights tensor, but rows with small values lose most of their precision.  Mapping and
    tokenizer are shared.

    Raises:
        InvalidArgumentError: unknown ``to`` or ``int8_scale``, ``dims`` outside ``1..dim``,
            or values too large for float16.
    """
    if to not in ("float32", "float16", "int8"):
        raise InvalidArgumentError(f"cannot quantize to {to!r}; choose float32, float16 or int8")
    if int8_scale not in INT8_SCALES:
        raise InvalidArgumentError(f"unknown int8 scale {int8_scale!r}; choose row or global")
    if dims is not None and not (1 <= dims <= model.dim):
        raise InvalidArgumentError(f"dims must be between 1 and {model.dim}, got {dims}")
    embeddings = model.dequantized_embeddings()
    if dims is not None and dims < model.dim:
        embeddings = embeddings[:, :dims]
    scale: float | None = None
    weights = model.weights
    result: np.ndarray[Any, Any]
    if to == "float32":
        result = np.ascontiguousarray(embeddings, dtype=np.float32)
    elif to == "float16":
        if embeddings.size and float(np.max(np.abs(embeddings))) > _FLOAT16_MAX:
            raise InvalidArgumentError(
                "embedding values exceed the float16 range; use float32 or int8"
            )
        result = embeddings.astype(np.float16)
    elif int8_scale == "global":
        result, scale = int8_quantize(embeddings)
    else:
        result, row_scales = int8_quantize_rows(embeddings)
        token_scales = row_scales if model.mapping is None else row_scales[model.mapping]
        weights = (
            token_scales
            if model.weights is None
            else (np.asarray(model.weights, dtype=np.float32) * token_scales).astype(np.float32)
        )
    changes: dict[str, Any] = {"embedding_dtype": result.dtype.name}
    if dims is not None and model.config.hidden_dim is not None:
        changes["hidden_dim"] = int(result.shape[1])
    config = dataclasses.replace(model.config, **changes)
    return StaticModelData(
        embeddings=result,
        tokenizer=model.tokenizer,
        config=config,
        weights=weights,
        mapping=model.mapping,
        embeddings_scale=scale,
        path=None,
        layout=None,
    )
