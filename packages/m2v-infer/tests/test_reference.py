"""Outputs equal m2v_format.reference_encode (rules I1-I8) on small models of every kind:
float16 (including sums that overflow float16), int8 with and without a scale,
vocabulary-quantized (weights + mapping), weights only, and non-WordPiece tokenizers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import ModelConfig, load_model, reference_encode, reference_tokenize
from m2v_infer import StaticModel
from m2v_testkit import (
    SMALL_TEXTS,
    save_tiny_model,
    small_unigram,
    small_wordlevel,
    small_wordpiece,
    vocab_size,
)

TOLERANCE = 1e-6


def _relative_diff(ours: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]) -> float:
    scale = max(1.0, float(np.abs(expected).max()))
    return float(np.abs(ours.astype(np.float64) - expected).max()) / scale


def _check(folder: Path, texts: Sequence[str] = SMALL_TEXTS) -> None:
    data = load_model(folder)
    model = StaticModel.from_pretrained(folder)
    for max_length in (512, None, 1, 3):
        for normalize in (True, False):
            expected = reference_encode(data, texts, max_length=max_length, normalize=normalize)
            ours = model.encode(texts, max_length=max_length, normalize=normalize)
            assert ours.dtype == np.float32
            assert _relative_diff(ours, expected) <= TOLERANCE, (max_length, normalize)
        assert model.tokenize(texts, max_length=max_length) == reference_tokenize(
            data, texts, max_length=max_length
        )


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("weights", [False, True])
def test_float_models(tmp_path: Path, dtype: str, weights: bool) -> None:
    _check(save_tiny_model(tmp_path / "m", small_wordpiece(), dtype=dtype, weights=weights))


def test_int8_with_scale(tmp_path: Path) -> None:
    _check(save_tiny_model(tmp_path / "m", small_wordpiece(), dtype="int8", scale=0.0123))


def test_int8_without_scale(tmp_path: Path) -> None:
    _check(save_tiny_model(tmp_path / "m", small_wordpiece(), dtype="int8", scale=None))


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_vocabulary_quantized(tmp_path: Path, dtype: str) -> None:
    scale = 0.5 if dtype == "int8" else None  # embeddings_scale only goes with int8 (T7)
    folder = save_tiny_model(
        tmp_path / "m", small_wordpiece(), dtype=dtype, weights=True, clusters=17, scale=scale
    )
    model = StaticModel.from_pretrained(folder)
    assert model.token_mapping is not None
    assert model.weights is not None
    assert model.vocabulary_quantization == 17
    _check(folder)


def test_float16_sums_that_overflow_float16(tmp_path: Path) -> None:
    tokenizer = small_wordpiece()
    values = np.full((vocab_size(tokenizer), 8), 60_000.0, dtype=np.float32)
    values[:, 1] = -60_000.0
    folder = save_tiny_model(
        tmp_path / "m", tokenizer, dtype="float16", embeddings=values, normalize=False
    )
    model = StaticModel.from_pretrained(folder)
    vectors = model.encode(["the movie was good", "the " * 100])
    assert np.isfinite(vectors).all()
    assert np.allclose(vectors[:, 0], 60_000.0, rtol=1e-3)
    _check(folder)


@pytest.mark.parametrize("make_tokenizer", [small_wordlevel, small_unigram])
def test_other_tokenizer_models(tmp_path: Path, make_tokenizer: Any) -> None:
    _check(save_tiny_model(tmp_path / "m", make_tokenizer(), weights=True))


@pytest.mark.parametrize("max_length", ["absent", None, 4])
def test_config_max_length_is_the_default(tmp_path: Path, max_length: Any) -> None:
    absent = max_length == "absent"
    config = ModelConfig() if absent else ModelConfig(max_length=max_length, has_max_length=True)
    folder = save_tiny_model(tmp_path / "m", small_wordpiece(), config=config)
    model = StaticModel.from_pretrained(folder)
    expected_limit = 512 if max_length == "absent" else max_length
    assert model.max_length == expected_limit
    data = load_model(folder)
    expected = reference_encode(data, SMALL_TEXTS, max_length=expected_limit)
    assert _relative_diff(model.encode(SMALL_TEXTS), expected) <= TOLERANCE


def test_potion_matches_reference(
    potion_path: Path, potion: StaticModel, parity_corpus: list[str]
) -> None:
    texts = parity_corpus[::6]
    data = load_model(potion_path)
    for max_length in (512, None, 2):
        expected = reference_encode(data, texts, max_length=max_length)
        assert _relative_diff(potion.encode(texts, max_length=max_length), expected) <= TOLERANCE
