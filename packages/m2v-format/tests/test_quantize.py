"""quantize: float32/float16/int8 (per-row or one global scale, round half to even) and dims."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from m2v_format import (
    ModelConfig,
    StaticModelData,
    load_model,
    quantize,
    reference_encode,
    save_model,
)
from m2v_format._quantize import int8_quantize, int8_quantize_rows
from m2v_testkit import tiny_model, tiny_tokenizer


def test_int8_scale_and_rounding() -> None:
    # max |E| = 127 -> scale exactly 1: the halves show round-half-to-even
    embeddings = np.array([[127.0, 2.5, 3.5, -2.5], [-0.5, 0.5, 1.5, -126.6]], np.float32)
    quantized, scale = int8_quantize(embeddings)
    assert scale == 1.0
    assert quantized.dtype == np.int8
    assert quantized.tolist() == [[127, 2, 4, -2], [0, 0, 2, -127]]


def test_int8_scale_is_max_abs_over_127() -> None:
    embeddings = np.array([[0.5, -2.0], [1.0, 0.25]], np.float32)
    quantized, scale = int8_quantize(embeddings)
    assert scale == pytest.approx(2.0 / 127)
    assert np.float32(scale) == np.float32(np.float32(2.0) / np.float32(127))
    assert quantized.tolist() == [[32, -127], [64, 16]]  # 31.75 -> 32, 63.5 -> 64, 15.875 -> 16
    assert np.abs(quantized).max() <= 127


def test_int8_all_zero() -> None:
    quantized, scale = int8_quantize(np.zeros((3, 2), np.float32))
    assert scale == 1.0
    assert not quantized.any()


def _effective_rows(model: StaticModelData) -> np.ndarray:
    """row(t) of I5 for every token: E'[mapping[t]] x weights[t]."""
    rows = model.dequantized_embeddings()
    if model.mapping is not None:
        rows = rows[model.mapping]
    if model.weights is not None:
        rows = rows * np.asarray(model.weights, np.float32)[:, None]
    return rows


def test_quantize_to_each_precision() -> None:
    model = tiny_model(weights=True, clusters=6)
    for precision, dtype in (("float32", np.float32), ("float16", np.float16)):
        result = quantize(model, precision)  # type: ignore[arg-type]
        assert result.dtype == dtype
        assert result.config.embedding_dtype == precision
        assert result.weights is model.weights
        assert result.mapping is model.mapping
        assert result.embeddings_scale is None
    globally = quantize(model, "int8", int8_scale="global")
    assert globally.dtype == np.int8
    assert globally.weights is model.weights
    assert globally.embeddings_scale is not None
    error = np.abs(globally.dequantized_embeddings() - model.embeddings).max()
    assert error <= np.abs(model.embeddings).max() / 127 / 2 + 1e-6


def test_int8_row_scales_fold_into_the_weights() -> None:
    """Per-row int8: no embeddings_scale; row r's scale multiplies the weights of its tokens."""
    for model in (tiny_model(), tiny_model(weights=True), tiny_model(weights=True, clusters=6)):
        result = quantize(model, "int8")
        assert result.dtype == np.int8
        assert result.config.embedding_dtype == "int8"
        assert result.embeddings_scale is None
        assert result.mapping is model.mapping
        assert result.weights is not None
        assert result.weights.dtype == np.float32
        assert np.abs(result.embeddings).max(axis=1).max() == 127  # every row uses the range
        rows = _effective_rows(model)
        peak_per_token = np.abs(rows).max(axis=1, keepdims=True)
        # each row is within half a step of its own scale
        assert (np.abs(_effective_rows(result) - rows) <= peak_per_token / 127 / 2 + 1e-6).all()


def test_int8_row_scales_of_zero_rows() -> None:
    embeddings = np.zeros((12, 3), np.float32)
    embeddings[1] = [0.5, -1.0, 0.25]
    quantized, scales = int8_quantize_rows(embeddings)
    assert scales[0] == 1.0
    assert scales[1] == np.float32(1.0 / 127)
    np.testing.assert_array_equal(quantized[1], [64, -127, 32])  # 63.5 rounds half to even
    assert not quantized[0].any()


def test_unknown_int8_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="int8 scale"):
        quantize(tiny_model(), "int8", int8_scale="tensor")  # type: ignore[arg-type]


def test_float32_of_a_float32_model_shares_the_array() -> None:
    model = tiny_model()
    assert quantize(model, "float32").embeddings is model.embeddings


@pytest.mark.parametrize("int8_scale", ["row", "global"])
def test_requantizing_int8_keeps_values(int8_scale: str) -> None:
    once = quantize(tiny_model(), "int8", int8_scale=int8_scale)  # type: ignore[arg-type]
    twice = quantize(once, "int8", int8_scale=int8_scale)  # type: ignore[arg-type]
    np.testing.assert_array_equal(twice.embeddings, once.embeddings)
    np.testing.assert_allclose(_effective_rows(twice), _effective_rows(once), rtol=1e-6)
    if int8_scale == "global":
        assert twice.embeddings_scale == pytest.approx(once.embeddings_scale, rel=1e-6)
    back = quantize(once, "float32")
    np.testing.assert_array_equal(back.embeddings, once.dequantized_embeddings())


def test_dims() -> None:
    model = tiny_model(config=ModelConfig(hidden_dim=8))
    smaller = quantize(model, "float32", dims=3)
    np.testing.assert_array_equal(smaller.embeddings, model.embeddings[:, :3])
    assert smaller.embeddings.flags.c_contiguous
    assert smaller.config.hidden_dim == 3
    assert quantize(model, "int8", dims=8).dim == 8
    assert quantize(tiny_model(), "float16", dims=2).config.hidden_dim is None


@pytest.mark.parametrize("dims", [0, -1, 9])
def test_bad_dims(dims: int) -> None:
    with pytest.raises(ValueError, match="dims"):
        quantize(tiny_model(), "float32", dims=dims)


def test_bad_precision() -> None:
    with pytest.raises(ValueError, match="bfloat16"):
        quantize(tiny_model(), "bfloat16")  # type: ignore[arg-type]


def test_float16_overflow_is_refused() -> None:
    model = StaticModelData(np.full((12, 2), 1e6, np.float32), tiny_tokenizer())
    with pytest.raises(ValueError, match="float16"):
        quantize(model, "float16")


def test_int8_potion_keeps_normalized_outputs(
    tmp_path: Path, potion_path: Path, sentences: list[str]
) -> None:
    potion = load_model(potion_path)
    texts = sentences[:300]
    reference = reference_encode(potion, texts)

    rows = load_model(save_model(tmp_path / "row", quantize(potion, "int8")))
    assert rows.embeddings_scale is None
    assert rows.weights is not None
    per_row = reference_encode(rows, texts)
    assert (reference * per_row).sum(axis=1).min() > 0.9999
    assert np.abs(per_row - reference).max() < 0.01

    table = load_model(
        save_model(tmp_path / "global", quantize(potion, "int8", int8_scale="global"))
    )
    assert table.embeddings_scale is not None
    one_scale = reference_encode(table, texts)
    assert (reference * one_scale).sum(axis=1).min() > 0.75  # short texts of small rows suffer
    # per-row scales are more precise than one scale on every text but ties
    assert (
        np.abs(per_row - reference).max(axis=1) <= np.abs(one_scale - reference).max(axis=1) + 1e-6
    ).mean() > 0.95
    # One global scale: ignoring it changes no direction, so normalized outputs are identical.
    unscaled = StaticModelData(table.embeddings, table.tokenizer, table.config)
    np.testing.assert_allclose(reference_encode(unscaled, texts), one_scale, atol=1e-6)
