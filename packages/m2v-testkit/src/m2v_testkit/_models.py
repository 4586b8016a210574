"""Tiny static models built in code: valid ones through ``m2v_format``, and model folders
written by hand (any tensors, any config text) for bad-input tests."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import ModelConfig, StaticModelData, save_model
from numpy.typing import DTypeLike
from tokenizers import Tokenizer

from m2v_testkit._safetensors import raw_safetensors, tensor_entry
from m2v_testkit._tokenizers import vocab_size
from m2v_testkit._vocabularies import TINY_WORDS, tiny_tokenizer

_MODEL2VEC = ModelConfig(model_type="model2vec", architectures=("StaticModel",))


def tiny_model(
    tokenizer: Tokenizer | None = None,
    *,
    dim: int = 8,
    seed: int = 0,
    dtype: DTypeLike = np.float32,
    normalize: bool = True,
    weights: bool = False,
    clusters: int | None = None,
    embeddings: np.ndarray[Any, Any] | None = None,
    scale: float | None = None,
    config: ModelConfig | None = None,
) -> StaticModelData:
    """A small model: random normal rows (``seed``) for every token of ``tokenizer``.

    Args:
        tokenizer: default :func:`tiny_tokenizer` (WordLevel, 12 tokens).
        dim: columns of the embedding table.
        dtype: the stored dtype; ``int8`` stores random integers in [-127, 127].
        normalize: the config's ``normalize``.
        weights: add per-token weights drawn from [0.5, 2.0).
        clusters: vocabulary quantization: ``clusters`` rows and the mapping id % clusters.
        embeddings: use this table (rows x dim) instead of random rows (not with int8).
        scale: ``embeddings_scale`` (int8 models).
        config: the other config keys (default: model_type model2vec, StaticModel).
    """
    tokenizer = tokenizer if tokenizer is not None else tiny_tokenizer()
    rng = np.random.default_rng(seed)
    size = vocab_size(tokenizer)
    rows = size if clusters is None else clusters
    table = rng.normal(size=(rows, dim)) if embeddings is None else np.asarray(embeddings)
    if np.dtype(dtype) == np.int8:
        stored = rng.integers(-127, 128, size=table.shape).astype(np.int8)
    else:
        stored = table.astype(dtype)
    return StaticModelData(
        embeddings=stored,
        tokenizer=tokenizer,
        config=dataclasses.replace(config or _MODEL2VEC, normalize=normalize),
        weights=rng.uniform(0.5, 2.0, size=size).astype(np.float32) if weights else None,
        mapping=None if clusters is None else (np.arange(size) % clusters).astype(np.int32),
        embeddings_scale=scale,
    )


def save_tiny_model(folder: Path, tokenizer: Tokenizer | None = None, **options: Any) -> Path:
    """Write :func:`tiny_model` (same options) to ``folder`` with ``m2v_format.save_model``."""
    return save_model(folder, tiny_model(tokenizer, **options))


def valid_embeddings(rows: int = len(TINY_WORDS), dim: int = 4) -> np.ndarray[Any, Any]:
    """A deterministic, finite float32 matrix (0.1, 0.2, ... row by row)."""
    return np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) / 10 + 0.1


def write_raw_model(
    folder: Path,
    tensors: Mapping[str, np.ndarray[Any, Any]] | bytes,
    *,
    config: Mapping[str, Any] | str | None = None,
    tokenizer: Tokenizer | str | None = None,
) -> Path:
    """A native model folder written by hand, not by ``m2v_format``: for bad-input tests.

    Args:
        tensors: arrays for :func:`raw_safetensors`, or the whole model.safetensors bytes.
        config: config.json as an object or raw text (default ``{"normalize": true}``).
        tokenizer: tokenizer.json as a tokenizer or raw text (default :func:`tiny_tokenizer`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(tensors, bytes):
        data = tensors
    else:
        data = raw_safetensors([tensor_entry(name, array) for name, array in tensors.items()])
    (folder / "model.safetensors").write_bytes(data)
    config = {"normalize": True} if config is None else config
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text, encoding="utf-8")
    tokenizer = tiny_tokenizer() if tokenizer is None else tokenizer
    document = tokenizer if isinstance(tokenizer, str) else tokenizer.to_str()
    (folder / "tokenizer.json").write_text(document, encoding="utf-8")
    return folder
