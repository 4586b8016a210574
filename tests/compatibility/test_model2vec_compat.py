"""Folders written by m2v-format load unchanged in model2vec 0.10.0, and the reverse.

model2vec is the format's origin; its ``StaticModel.from_pretrained(folder)`` must read
our writer's output and produce our reference outputs (float32: within 1e-6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    ModelCard,
    ModelConfig,
    StaticModelData,
    load_model,
    quantize,
    reference_encode,
    save_model,
)
from m2v_testkit import tiny_model

model2vec = pytest.importorskip("model2vec")
pytestmark = pytest.mark.peer

TEXTS = ["the cat sat on the mat", "a dog ran", "hello zebra the", "", "zebra", "cat " * 40]


def _tiny(
    *, normalize: bool, weights: bool, clusters: int | None, max_length: Any
) -> StaticModelData:
    config = ModelConfig(model_type="model2vec", extra={"custom": [1]})
    if max_length != "absent":
        config = ModelConfig(max_length=max_length, has_max_length=True, extra={"custom": [1]})
    return tiny_model(
        dim=6, seed=7, normalize=normalize, weights=weights, clusters=clusters, config=config
    )


def _theirs(folder: Path) -> Any:
    return model2vec.StaticModel.from_pretrained(str(folder))


def test_potion_written_by_us(
    tmp_path: Path, potion_path: Path, compat_sentences: list[str]
) -> None:
    ours = load_model(potion_path)
    folder = save_model(
        tmp_path / "potion", ours, card=ModelCard(base_model="BAAI/bge-base-en-v1.5", language="en")
    )
    theirs = _theirs(folder)
    assert theirs.normalize is True
    assert theirs.max_length == 512
    assert theirs.base_model_name == "BAAI/bge-base-en-v1.5"  # read from our README.md
    assert theirs.language == ["en"]
    expected = theirs.encode(compat_sentences)
    actual = reference_encode(load_model(folder), compat_sentences)
    np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize(
    ("weights", "clusters"), [(False, None), (True, None), (True, 4), (False, 3)]
)
@pytest.mark.parametrize("max_length", ["absent", None, 3])
def test_tiny_float32_models(
    tmp_path: Path, normalize: bool, weights: bool, clusters: int | None, max_length: Any
) -> None:
    model = _tiny(normalize=normalize, weights=weights, clusters=clusters, max_length=max_length)
    folder = save_model(tmp_path / "m", model)
    theirs = _theirs(folder)
    ours = load_model(folder)
    assert theirs.normalize is normalize
    assert theirs.max_length == ours.config.default_max_length
    expected = theirs.encode(TEXTS)
    actual = reference_encode(ours, TEXTS, max_length=ours.config.default_max_length)
    np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=0)
    assert theirs.config["custom"] == [1]


def test_float16(tmp_path: Path, potion_path: Path, compat_sentences: list[str]) -> None:
    folder = save_model(tmp_path / "f16", quantize(load_model(potion_path), "float16"))
    theirs = _theirs(folder)
    assert theirs.embedding.dtype == np.float16
    expected = theirs.encode(compat_sentences).astype(np.float32)  # model2vec sums in float16
    actual = reference_encode(load_model(folder), compat_sentences)
    np.testing.assert_allclose(actual, expected, atol=2e-3, rtol=0)


def test_int8_with_row_scales(
    tmp_path: Path, potion_path: Path, compat_sentences: list[str]
) -> None:
    """Per-row scales live in the weights, which model2vec multiplies in: outputs agree,
    normalized and not."""
    ours = load_model(save_model(tmp_path / "i8", quantize(load_model(potion_path), "int8")))
    assert ours.embeddings_scale is None
    assert ours.weights is not None
    theirs = _theirs(ours.path)
    assert theirs.embedding.dtype == np.int8
    np.testing.assert_allclose(
        reference_encode(ours, compat_sentences), theirs.encode(compat_sentences), atol=1e-6
    )
    np.testing.assert_allclose(
        reference_encode(ours, compat_sentences[:50], normalize=False),
        theirs.encode(compat_sentences[:50], normalize=False),
        rtol=1e-5,
        atol=1e-5,
    )


def test_int8_with_scale(tmp_path: Path, potion_path: Path, compat_sentences: list[str]) -> None:
    table = quantize(load_model(potion_path), "int8", int8_scale="global")
    ours = load_model(save_model(tmp_path / "i8", table))
    assert ours.embeddings_scale is not None
    theirs = _theirs(ours.path)  # model2vec ignores embeddings_scale ...
    assert theirs.embedding.dtype == np.int8
    # ... which changes no direction: normalized outputs agree
    np.testing.assert_allclose(
        reference_encode(ours, compat_sentences), theirs.encode(compat_sentences), atol=1e-6
    )
    # unnormalized outputs differ by exactly the global scale
    raw = theirs.encode(compat_sentences[:20], normalize=False)
    scaled = reference_encode(ours, compat_sentences[:20], normalize=False)
    np.testing.assert_allclose(raw * ours.embeddings_scale, scaled, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("quantize_to", [None, "float16", "int8"])
def test_folders_written_by_model2vec(
    tmp_path: Path, potion_path: Path, compat_sentences: list[str], quantize_to: str | None
) -> None:
    theirs = model2vec.StaticModel.from_pretrained(str(potion_path), quantize_to=quantize_to)
    theirs.save_pretrained(str(tmp_path / "m2v"))
    ours = load_model(tmp_path / "m2v")
    assert ours.config.has_max_length  # model2vec 0.10.0 writes max_length
    expected = theirs.encode(compat_sentences[:50]).astype(np.float32)
    actual = reference_encode(
        ours, compat_sentences[:50], max_length=ours.config.default_max_length
    )
    tolerance = 2e-3 if quantize_to == "float16" else 1e-6
    np.testing.assert_allclose(actual, expected, atol=tolerance, rtol=0)


def test_vocabulary_quantized_folder_written_by_model2vec(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    model = _tiny(normalize=True, weights=False, clusters=None, max_length="absent")
    theirs = model2vec.StaticModel(
        vectors=np.asarray(model.embeddings), tokenizer=model.tokenizer, normalize=True
    )
    quantized = model2vec.model.quantize_model(theirs, vocabulary_quantization=4)
    quantized.save_pretrained(str(tmp_path / "vq"))
    ours = load_model(tmp_path / "vq")
    assert ours.mapping is not None
    assert ours.rows == 4
    np.testing.assert_allclose(
        reference_encode(ours, TEXTS), quantized.encode(TEXTS), atol=1e-6, rtol=0
    )


def test_vocabulary_quantization_matches_model2vec_quality(tmp_path: Path) -> None:
    """Our numpy k-means against model2vec's (scikit-learn) on the real potion-base-8M:
    sentence vectors of the clustered model stay at least as close to the original's,
    and model2vec reads our clustered folder to the same vectors."""
    pytest.importorskip("sklearn")
    from m2v_format import quantize_vocabulary
    from m2v_testkit import benchmark_corpus, dataset_path

    potion_path = dataset_path("potion-base-8M")
    potion = load_model(potion_path)
    texts = benchmark_corpus()[:1000]
    original = reference_encode(potion, texts)
    ours = quantize_vocabulary(potion, 512)
    theirs = model2vec.model.quantize_model(
        model2vec.StaticModel.from_pretrained(str(potion_path)), vocabulary_quantization=512
    )

    def median_cosine(vectors: np.ndarray[Any, Any]) -> float:
        return float(np.median(np.einsum("ij,ij->i", vectors, original)))

    ours_cosine = median_cosine(reference_encode(ours, texts))
    theirs_cosine = median_cosine(theirs.encode(texts))
    assert ours_cosine >= theirs_cosine - 0.01, (ours_cosine, theirs_cosine)
    folder = save_model(tmp_path / "vq", ours)
    np.testing.assert_allclose(
        model2vec.StaticModel.from_pretrained(str(folder)).encode(texts[:200]),
        reference_encode(load_model(folder), texts[:200]),
        atol=1e-6,
        rtol=0,
    )
