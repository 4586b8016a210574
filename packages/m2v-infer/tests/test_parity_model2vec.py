"""Outputs equal model2vec 0.10.0 on the real potion-base-8M (max abs diff <= 1e-6)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from m2v_infer import StaticModel

pytestmark = pytest.mark.peer
TOLERANCE = 1e-6


def _max_diff(ours: np.ndarray[Any, Any], theirs: np.ndarray[Any, Any]) -> float:
    assert ours.shape == theirs.shape
    assert ours.dtype == np.float32
    return float(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max())


@pytest.mark.parametrize("normalize", [True, False])
def test_default_encode_matches(
    potion: StaticModel, model2vec_potion: Any, parity_corpus: list[str], normalize: bool
) -> None:
    theirs = model2vec_potion.encode(parity_corpus, normalize=normalize, use_multiprocessing=False)
    ours = potion.encode(parity_corpus, normalize=normalize)
    assert _max_diff(ours, theirs) <= TOLERANCE


@pytest.mark.parametrize("max_length", [None, 1, 2, 3, 8, 64, 511])
def test_max_length_matches(
    potion: StaticModel, model2vec_potion: Any, parity_corpus: list[str], max_length: int | None
) -> None:
    theirs = model2vec_potion.encode(
        parity_corpus, max_length=max_length, use_multiprocessing=False
    )
    ours = potion.encode(parity_corpus, max_length=max_length)
    assert _max_diff(ours, theirs) <= TOLERANCE


def test_edge_cases_one_by_one(
    potion: StaticModel, model2vec_potion: Any, edge_cases: list[str]
) -> None:
    for text in edge_cases:
        theirs = model2vec_potion.encode(text)
        ours = potion.encode(text)
        assert ours.shape == (potion.dim,)
        assert _max_diff(ours, theirs) <= TOLERANCE, text[:40]


def test_only_unknown_characters_give_zero_vectors(potion: StaticModel) -> None:
    vectors = potion.encode(["😀😀😀", "[UNK]", "🤖", ""])
    assert not vectors.any()


def test_truncation_changes_long_inputs_only(potion: StaticModel) -> None:
    long_text = "The quick brown fox jumps over the lazy dog. " * 200
    full = potion.encode(long_text, max_length=None)
    cut = potion.encode(long_text)
    assert not np.allclose(full, cut)
    short = "a short sentence"
    assert np.array_equal(potion.encode(short, max_length=None), potion.encode(short))


def test_loaded_max_length_and_dimensionality_match(
    potion_path: Any, parity_corpus: list[str]
) -> None:
    model2vec = pytest.importorskip("model2vec")
    theirs_model = model2vec.StaticModel.from_pretrained(
        str(potion_path), max_length=16, dimensionality=64, normalize=False
    )
    ours_model = StaticModel.from_pretrained(
        potion_path, max_length=16, dimensionality=64, normalize=False
    )
    assert ours_model.dim == theirs_model.dim == 64
    assert ours_model.max_length == theirs_model.max_length == 16
    theirs = theirs_model.encode(parity_corpus, use_multiprocessing=False)
    assert _max_diff(ours_model.encode(parity_corpus), theirs) <= TOLERANCE


def test_dimensions_equals_dimensionality_when_normalizing(
    potion_path: Any, potion: StaticModel, real_corpus: list[str]
) -> None:
    model2vec = pytest.importorskip("model2vec")
    theirs = model2vec.StaticModel.from_pretrained(str(potion_path), dimensionality=32).encode(
        real_corpus, use_multiprocessing=False
    )
    ours = potion.encode(real_corpus, dimensions=32)
    assert _max_diff(ours, theirs) <= TOLERANCE


def test_encode_as_sequence_matches(
    potion: StaticModel, model2vec_potion: Any, parity_corpus: list[str]
) -> None:
    texts = parity_corpus[::10]
    for max_length in (None, 5):
        theirs = model2vec_potion.encode_as_sequence(
            texts, max_length=max_length, use_multiprocessing=False
        )
        ours = potion.encode_as_sequence(texts, max_length=max_length)
        assert len(ours) == len(theirs)
        for mine, other in zip(ours, theirs, strict=True):
            assert mine.shape == other.shape
            if mine.size:
                assert _max_diff(mine, other) <= TOLERANCE
    single = potion.encode_as_sequence("hello world")
    assert single.shape == model2vec_potion.encode_as_sequence("hello world").shape


def test_properties_match(potion: StaticModel, model2vec_potion: Any) -> None:
    assert potion.dim == model2vec_potion.dim
    assert potion.normalize == model2vec_potion.normalize
    assert potion.max_length == model2vec_potion.max_length
    assert potion.unk_token_id == model2vec_potion.unk_token_id
    assert potion.median_token_length == model2vec_potion.median_token_length
    assert potion.tokens == tuple(model2vec_potion.tokens)
    assert potion.embedding_dtype == model2vec_potion.embedding_dtype
    assert potion.vocabulary_quantization == model2vec_potion.vocabulary_quantization
    assert np.array_equal(potion.embedding, model2vec_potion.embedding)


def test_tokenize_matches_on_ordinary_text(
    potion: StaticModel, model2vec_potion: Any, real_corpus: list[str]
) -> None:
    # model2vec's tokenize does not cut the text (rule I2) but cuts ids at max_length; on
    # texts where the character cut changes nothing the two agree exactly.
    texts = [text for text in real_corpus if len(text) <= 512 * potion.median_token_length]
    assert potion.tokenize(texts) == model2vec_potion.tokenize(texts)
