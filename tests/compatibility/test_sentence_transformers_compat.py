"""Folders written by m2v-format load unchanged with ``SentenceTransformer(folder)``, and
folders sentence-transformers writes load in m2v-format.

How sentence-transformers (6.2) reads our folder: ``modules.json`` lists
``sentence_transformers.models.StaticEmbedding`` at path ``"."`` (and ``Normalize`` at
``1_Normalize`` when normalize is true; that folder need not exist).  StaticEmbedding.load
reads ``tokenizer.json`` and ``model.safetensors`` from the model folder and takes the
tensor ``embedding.weight`` or, failing that, model2vec's ``embeddings`` with ``mapping``
and ``weights`` folded in; ``embeddings_scale`` is ignored.  It does NOT drop the unknown
token and does not truncate, so outputs match ours only for texts without unknown
pieces, compared with ``max_length=None``.  int8 embeddings do not load (torch refuses
integer embedding weights), which is why our model card omits the tag for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    Layout,
    ModelConfig,
    StaticModelData,
    load_model,
    quantize,
    reference_encode,
    reference_tokenize,
    save_model,
)
from m2v_testkit import tiny_model

pytest.importorskip("torch")
sentence_transformers = pytest.importorskip("sentence_transformers")
pytestmark = pytest.mark.peer

TEXTS = ["the cat sat on the mat", "a dog ran", "hello the", "cat " * 40]


def _st(folder: Path) -> Any:
    return sentence_transformers.SentenceTransformer(str(folder), device="cpu")


def _without_unknown(model: StaticModelData, texts: list[str]) -> list[str]:
    """Texts in which no piece is unknown (sentence-transformers keeps unknown ids)."""
    unknown = model.unknown_token_id
    kept = []
    for text in texts:
        ids = model.tokenizer.encode(text, add_special_tokens=False).ids
        if unknown not in ids:
            kept.append(text)
    return kept


def _tiny(
    *, normalize: bool, weights: bool = False, clusters: int | None = None
) -> StaticModelData:
    return tiny_model(
        dim=5, seed=3, normalize=normalize, weights=weights, clusters=clusters, config=ModelConfig()
    )


def test_potion_written_by_us(
    tmp_path: Path, potion_path: Path, compat_sentences: list[str]
) -> None:
    ours = load_model(save_model(tmp_path / "potion", load_model(potion_path)))
    texts = _without_unknown(ours, compat_sentences)
    assert len(texts) > 100
    st_model = _st(ours.path)
    assert [type(m).__name__ for m in st_model] == ["StaticEmbedding", "Normalize"]
    expected = st_model.encode(texts, convert_to_numpy=True)
    actual = reference_encode(ours, texts, max_length=None)
    np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize(("weights", "clusters"), [(False, None), (True, None)])
def test_tiny_models(tmp_path: Path, normalize: bool, weights: bool, clusters: int | None) -> None:
    folder = save_model(
        tmp_path / "m", _tiny(normalize=normalize, weights=weights, clusters=clusters)
    )
    st_model = _st(folder)
    names = [type(m).__name__ for m in st_model]
    assert names == (["StaticEmbedding", "Normalize"] if normalize else ["StaticEmbedding"])
    expected = st_model.encode(TEXTS, convert_to_numpy=True)
    actual = reference_encode(load_model(folder), TEXTS, max_length=None)
    np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=0)


def test_vocabulary_quantized_models_load_in_this_version(tmp_path: Path) -> None:
    """sentence-transformers 6.2 folds mapping and weights; older versions index out of range."""
    embedding_class = sentence_transformers.models.StaticEmbedding
    if not hasattr(embedding_class, "_fold_model2vec_weights"):
        pytest.skip("this sentence-transformers version does not read vocabulary-quantized folders")
    folder = save_model(tmp_path / "vq", _tiny(normalize=True, weights=True, clusters=4))
    expected = _st(folder).encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(
        reference_encode(load_model(folder), TEXTS, max_length=None), expected, atol=1e-6
    )


def test_float16(tmp_path: Path, potion_path: Path, compat_sentences: list[str]) -> None:
    ours = load_model(save_model(tmp_path / "f16", quantize(load_model(potion_path), "float16")))
    texts = _without_unknown(ours, compat_sentences)[:50]
    expected = _st(ours.path).encode(texts, convert_to_numpy=True).astype(np.float32)
    np.testing.assert_allclose(reference_encode(ours, texts, max_length=None), expected, atol=2e-3)


def test_folder_written_by_sentence_transformers(
    tmp_path: Path, potion_path: Path, compat_sentences: list[str]
) -> None:
    """sentence-transformers 6.2 writes ``embedding.weight``, module path ``""`` and the new
    module type names (``sentence_transformers.base.modules.normalize.Normalize``)."""
    st_model = _st(potion_path)
    st_model.save(str(tmp_path / "st"))
    modules = json.loads((tmp_path / "st" / "modules.json").read_text())
    ours = load_model(tmp_path / "st")
    assert ours.layout is Layout.SENTENCE_TRANSFORMERS
    assert ours.normalize is True, modules
    texts = _without_unknown(ours, compat_sentences)[:80]
    expected = st_model.encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(reference_encode(ours, texts, max_length=None), expected, atol=1e-6)


def test_unknown_pieces_are_where_the_two_differ(tmp_path: Path, potion_path: Path) -> None:
    """A documented difference, not a bug of ours: sentence-transformers averages [UNK] in."""
    ours = load_model(potion_path)
    text = "qqqxzzq ☃"
    assert ours.unknown_token_id in ours.tokenizer.encode(text, add_special_tokens=False).ids
    assert ours.unknown_token_id not in reference_tokenize(ours, [text])[0]
    expected = _st(potion_path).encode([text], convert_to_numpy=True)
    assert not np.allclose(reference_encode(ours, [text]), expected, atol=1e-4)
