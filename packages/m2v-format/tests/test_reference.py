"""reference_tokenize / reference_encode: rules I1-I8 on hand-computed cases and vs model2vec."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import (
    ModelConfig,
    StaticModelData,
    VocabularySizeMismatchError,
    load_model,
    reference_encode,
    reference_tokenize,
)
from m2v_testkit import TINY_WORDS, tiny_tokenizer

# TINY_WORDS: [UNK]=0 [PAD]=1 the=2 cat=3 sat=4 on=5 mat=6 a=7 dog=8 ran=9 hello=10 world=11.
# Token lengths 5,5,3,3,3,2,3,1,3,3,5,5 -> median 3 (I1).


def _model(normalize: bool = False, **kwargs: Any) -> StaticModelData:
    """Row i of E is [i, 1]."""
    rows = kwargs.pop("rows", len(TINY_WORDS))
    embeddings = np.stack([np.arange(rows), np.ones(rows)], axis=1).astype(np.float32)
    return StaticModelData(embeddings, tiny_tokenizer(), ModelConfig(normalize=normalize), **kwargs)


def _encode(model: StaticModelData, text: str, **kwargs: Any) -> list[float]:
    result: list[float] = reference_encode(model, [text], **kwargs)[0].tolist()
    return result


def test_median_token_length() -> None:
    assert _model().median_token_length == 3


def test_plain_mean() -> None:
    assert _encode(_model(), "the cat") == [2.5, 1.0]
    assert _encode(_model(), "cat cat cat the") == [2.75, 1.0]


def test_weights() -> None:
    weights = np.arange(1, len(TINY_WORDS) + 1, dtype=np.float32)  # weight of id i is i + 1
    # (2 * 3, 1 * 3) and (3 * 4, 1 * 4) -> mean (9, 3.5)
    assert _encode(_model(weights=weights), "the cat") == [9.0, 3.5]


def test_mapping() -> None:
    mapping = (np.arange(len(TINY_WORDS)) % 3).astype(np.int32)  # the=2 -> row 2, cat=3 -> row 0
    assert _encode(_model(rows=3, mapping=mapping), "the cat") == [1.0, 1.0]


def test_mapping_and_weights() -> None:
    mapping = (np.arange(len(TINY_WORDS)) % 3).astype(np.int32)
    weights = np.full(len(TINY_WORDS), 2.0, np.float16)
    assert _encode(_model(rows=3, mapping=mapping, weights=weights), "the cat") == [2.0, 2.0]


def test_normalize() -> None:
    expected = [2.5 / math.sqrt(7.25), 1 / math.sqrt(7.25)]
    assert _encode(_model(normalize=True), "the cat") == pytest.approx(expected, abs=1e-7)
    assert _encode(_model(), "the cat", normalize=True) == pytest.approx(expected, abs=1e-7)
    assert _encode(_model(normalize=True), "the cat", normalize=False) == [2.5, 1.0]


def test_unknown_ids_are_dropped() -> None:
    assert reference_tokenize(_model(), ["the zebra cat"]) == [[2, 3]]
    assert _encode(_model(), "the zebra cat") == [2.5, 1.0]


def test_no_unknown_token_keeps_every_id() -> None:
    model = StaticModelData(_model().embeddings, tiny_tokenizer(unk_token=None))
    assert reference_tokenize(model, ["the cat"]) == [[2, 3]]


def test_text_is_cut_to_max_length_times_median() -> None:
    # max_length 1 -> 3 code points: "hello" becomes "hel", an unknown word
    assert reference_tokenize(_model(), ["hello"], max_length=1) == [[]]
    assert reference_tokenize(_model(), ["hello"], max_length=2) == [[10]]
    assert reference_tokenize(_model(), ["hello"], max_length=None) == [[10]]


def test_ids_are_cut_before_unknown_ids_are_dropped() -> None:
    # 9 code points "q a on on" -> [UNK] a on on -> first 3: [UNK] a on -> drop [UNK]: a on
    assert reference_tokenize(_model(), ["q a on on sat"], max_length=3) == [[7, 5]]
    assert _encode(_model(), "q a on on sat", max_length=3) == [6.0, 1.0]


def test_empty_and_unknown_texts_give_zero_vectors() -> None:
    for normalize in (False, True):
        vectors = reference_encode(_model(normalize=normalize), ["", "zebra", "   "])
        assert vectors.tolist() == [[0.0, 0.0]] * 3


def test_empty_batch() -> None:
    vectors = reference_encode(_model(), [])
    assert vectors.shape == (0, 2)
    assert vectors.dtype == np.float32
    assert reference_tokenize(_model(), []) == []


def test_output_is_float32_for_every_dtype() -> None:
    for dtype in (np.float16, np.float64, np.int8):
        model = StaticModelData(_model().embeddings.astype(dtype), tiny_tokenizer())
        vectors = reference_encode(model, ["the cat"], normalize=False)
        assert vectors.dtype == np.float32
        assert vectors.tolist() == [[2.5, 1.0]]


def test_int8_scale() -> None:
    embeddings = _model().embeddings.astype(np.int8)
    model = StaticModelData(embeddings, tiny_tokenizer(), embeddings_scale=0.5)
    assert _encode(model, "the cat", normalize=False) == [1.25, 0.5]


def test_single_string_is_refused() -> None:
    with pytest.raises(TypeError):
        reference_tokenize(_model(), "the cat")
    with pytest.raises(ValueError, match="max_length"):
        reference_tokenize(_model(), ["the"], max_length=0)


def test_token_ids_beyond_the_tables_are_a_typed_error() -> None:
    tokenizer = tiny_tokenizer()
    tokenizer.add_tokens(["zebra"])  # id 12, but the model has 12 rows
    model = StaticModelData(_model().embeddings, tokenizer)
    assert model.vocab_size == 13
    with pytest.raises(VocabularySizeMismatchError):
        reference_encode(model, ["zebra"])


# --- against model2vec 0.10.0 on the real model ------------------------------------------------


@pytest.fixture(scope="module")
def potion_pair(potion_path: Path) -> tuple[StaticModelData, Any]:
    model2vec = pytest.importorskip("model2vec")
    return load_model(potion_path), model2vec.StaticModel.from_pretrained(str(potion_path))


@pytest.mark.peer
@pytest.mark.parametrize(
    ("max_length", "normalize"), [(512, None), (None, None), (16, None), (512, False)]
)
def test_potion_matches_model2vec(
    potion_pair: tuple[StaticModelData, Any],
    sentences: list[str],
    max_length: int | None,
    normalize: bool | None,
) -> None:
    ours, theirs = potion_pair
    assert any(len(text) > 6 * 512 for text in sentences)  # the text cut (I2) is exercised
    expected = theirs.encode(sentences, max_length=max_length, normalize=normalize)
    actual = reference_encode(ours, sentences, max_length=max_length, normalize=normalize)
    assert actual.shape == expected.shape == (len(sentences), 256)
    np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=0)


@pytest.mark.peer
def test_potion_tokens_match_model2vec(
    potion_pair: tuple[StaticModelData, Any], sentences: list[str]
) -> None:
    ours, theirs = potion_pair
    texts = [
        *sentences,
        "[UNK] \u2603 \U0001d518\U0001d52b\U0001d526 \u65e5\u672c\u8a9e \uff46\uff55\uff4c\uff4c",
        "",
        "   ",
    ]
    theirs.max_length = None  # model2vec's tokenize() truncates to its default max_length
    try:
        assert reference_tokenize(ours, texts, max_length=None) == theirs.tokenize(texts)
    finally:
        theirs.max_length = 512
    assert ours.median_token_length == theirs.median_token_length
    assert ours.unknown_token_id == theirs.unk_token_id
