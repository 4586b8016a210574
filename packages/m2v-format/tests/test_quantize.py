"""quantize: float32/float16/int8 (one global scale, round half to even) and dims."""

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
from m2v_format._quantize import int8_quantize
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


def test_quantize_to_each_precision() -> None:
    model = tiny_model(weights=True, clusters=6)
    for precision, dtype in (("float32", np.float32), ("float16", np.float16), ("int8", np.int8)):
        result = quantize(model, precision)  # type: ignore[arg-type]
        assert result.dtype == dtype
        assert result.config.embedding_dtype == precision
        assert result.weights is model.weights
        assert result.mapping is model.mapping
        assert (result.embeddings_scale is not None) == (precision == "int8")
        error = np.abs(result.dequantized_embeddings() - model.embeddings).max()
        assert error <= np.abs(model.embeddings).max() / 127 / 2 + 1e-6


def test_float32_of_a_float32_model_shares_the_array() -> None:
    model = tiny_model()
    assert quantize(model, "float32").embeddings is model.embeddings


def test_requantizing_int8_keeps_values() -> None:
    once = quantize(tiny_model(), "int8")
    twice = quantize(once, "int8")
    np.testing.assert_array_equal(twice.embeddings, once.embeddings)
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
    int8 = load_model(save_model(tmp_path / "i8", quantize(potion, "int8")))
    assert int8.embeddings_scale is not None
    texts = sentences[:50]
    reference = reference_encode(potion, texts)
    approximate = reference_encode(int8, texts)
    cosine = (reference * approximate).sum(axis=1)
    assert cosine.min() > 0.999
    # One global scale: ignoring it changes no direction, so normalized outputs are identical.
    unscaled = StaticModelData(int8.embeddings, int8.tokenizer, int8.config)
    np.testing.assert_allclose(reference_encode(unscaled, texts), approximate, atol=1e-6)
