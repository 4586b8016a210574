"""Embedding precision (float32, float16, int8 with one global scale) and dimension truncation."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

from m2v_format._errors import InvalidArgumentError
from m2v_format._model import StaticModelData

Precision = Literal["float32", "float16", "int8"]

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


def quantize(model: StaticModelData, to: Precision, *, dims: int | None = None) -> StaticModelData:
    """A copy of ``model`` with embeddings stored as ``to``, optionally keeping only the
    first ``dims`` dimensions.

    The input's dequantized embeddings (E', I5) are the starting point, so an int8 model
    can be re-quantized.  ``float16`` refuses values beyond its range; ``int8`` stores one
    global ``embeddings_scale`` (format 1.1).  Weights, mapping and tokenizer are shared.

    Raises:
        InvalidArgumentError: unknown ``to``, ``dims`` outside ``1..dim``, or values too large for float16.
    """
    if to not in ("float32", "float16", "int8"):
        raise InvalidArgumentError(f"cannot quantize to {to!r}; choose float32, float16 or int8")
    if dims is not None and not (1 <= dims <= model.dim):
        raise InvalidArgumentError(f"dims must be between 1 and {model.dim}, got {dims}")
    embeddings = model.dequantized_embeddings()
    if dims is not None and dims < model.dim:
        embeddings = embeddings[:, :dims]
    scale: float | None = None
    result: np.ndarray[Any, Any]
    if to == "float32":
        result = np.ascontiguousarray(embeddings, dtype=np.float32)
    elif to == "float16":
        if embeddings.size and float(np.max(np.abs(embeddings))) > _FLOAT16_MAX:
            raise InvalidArgumentError(
                "embedding values exceed the float16 range; use float32 or int8"
            )
        result = embeddings.astype(np.float16)
    else:
        result, scale = int8_quantize(embeddings)
    changes: dict[str, Any] = {"embedding_dtype": result.dtype.name}
    if dims is not None and model.config.hidden_dim is not None:
        changes["hidden_dim"] = int(result.shape[1])
    config = dataclasses.replace(model.config, **changes)
    return StaticModelData(
        embeddings=result,
        tokenizer=model.tokenizer,
        config=config,
        weights=model.weights,
        mapping=model.mapping,
        embeddings_scale=scale,
        path=None,
        layout=None,
    )
