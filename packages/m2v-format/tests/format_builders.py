"""Small models and raw files for the m2v-format tests (no dependency beyond the package's)."""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from m2v_format import ModelConfig, StaticModelData
from tokenizers import Tokenizer, models, pre_tokenizers

WORDS = (
    "[UNK]",
    "[PAD]",
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "a",
    "dog",
    "ran",
    "hello",
    "world",
)
"""The vocabulary of ``word_tokenizer``: id i is WORDS[i]."""


def word_tokenizer(words: Sequence[str] = WORDS, unk: str | None = "[UNK]") -> Tokenizer:
    """A WordLevel tokenizer splitting on whitespace and punctuation."""
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def tiny_model(
    *,
    dim: int = 8,
    normalize: bool = True,
    weights: bool = False,
    clusters: int | None = None,
    dtype: Any = np.float32,
    seed: int = 0,
    config: ModelConfig | None = None,
) -> StaticModelData:
    """A float model over ``WORDS``; ``clusters`` makes it vocabulary-quantized."""
    rng = np.random.default_rng(seed)
    vocab = len(WORDS)
    rows = clusters if clusters is not None else vocab
    embeddings = rng.normal(size=(rows, dim)).astype(dtype)
    mapping = None
    if clusters is not None:
        mapping = (np.arange(vocab) % clusters).astype(np.int32)
    weight_values = rng.uniform(0.5, 2.0, size=vocab).astype(np.float32) if weights else None
    base = config or ModelConfig(model_type="model2vec", architectures=("StaticModel",))
    return StaticModelData(
        embeddings=embeddings,
        tokenizer=word_tokenizer(),
        config=dataclasses.replace(base, normalize=normalize),
        weights=weight_values,
        mapping=mapping,
    )


def raw_safetensors(entries: Sequence[tuple[str, str, Sequence[int], bytes]]) -> bytes:
    """A safetensors file from (name, dtype name, shape, data) entries, laid out in order.

    Any dtype name works (BF16, U8, ...): the caller provides the bytes.
    """
    header: dict[str, Any] = {}
    offset = 0
    for name, dtype, shape, data in entries:
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
    return header_bytes(header) + b"".join(entry[3] for entry in entries)


def header_bytes(header: dict[str, Any] | bytes) -> bytes:
    """The 8-byte size prefix and the (space-padded) JSON header."""
    encoded = header if isinstance(header, bytes) else json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded


def array_entry(name: str, array: np.ndarray[Any, Any]) -> tuple[str, str, list[int], bytes]:
    """An entry for ``raw_safetensors`` from a numpy array (little-endian)."""
    names = {
        "f4": "F32",
        "f2": "F16",
        "f8": "F64",
        "i1": "I8",
        "u1": "U8",
        "i4": "I32",
        "i8": "I64",
        "i2": "I16",
    }
    code = f"{array.dtype.kind}{array.dtype.itemsize}"
    little = array.astype(array.dtype.newbyteorder("<"))
    return name, names[code], list(array.shape), little.tobytes()


def write_folder(
    folder: Path,
    tensors: dict[str, np.ndarray[Any, Any]] | bytes,
    *,
    config: dict[str, Any] | str | None = None,
    tokenizer: Tokenizer | str | None = None,
) -> Path:
    """A native folder written by hand (not by our writer), for bad-input tests."""
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(tensors, bytes):
        data = tensors
    else:
        data = raw_safetensors([array_entry(n, a) for n, a in tensors.items()])
    (folder / "model.safetensors").write_bytes(data)
    if config is None:
        config = {"normalize": True}
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text, encoding="utf-8")
    tok = tokenizer if tokenizer is not None else word_tokenizer()
    (folder / "tokenizer.json").write_text(
        tok if isinstance(tok, str) else tok.to_str(), encoding="utf-8"
    )
    return folder


def good_embeddings(rows: int = len(WORDS), dim: int = 4) -> np.ndarray[Any, Any]:
    """A deterministic float32 matrix."""
    return np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) / 10 + 0.1
