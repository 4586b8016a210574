"""``StaticModel.encode_with_token_count``: the vectors of ``encode`` and the pooled token
count of ``tokenize``, taken in one pass."""

from __future__ import annotations

import numpy as np
import pytest
from m2v_infer import InvalidInputError, StaticModel


def test_vectors_and_count_match_encode_and_tokenize(
    potion: StaticModel, parity_corpus: list[str]
) -> None:
    texts = parity_corpus[:2000]
    for options in ({}, {"max_length": 8}, {"normalize": False, "dimensions": 64}):
        vectors, count = potion.encode_with_token_count(texts, **options)
        np.testing.assert_array_equal(vectors, potion.encode(texts, **options))
        limit = {"max_length": options["max_length"]} if "max_length" in options else {}
        assert count == sum(len(ids) for ids in potion.tokenize(texts, **limit))
    long_text = " ".join(parity_corpus[:400])  # long enough for the piecewise path
    vectors, count = potion.encode_with_token_count([long_text], max_length=None)
    np.testing.assert_array_equal(vectors, potion.encode([long_text], max_length=None))
    assert count == len(potion.tokenize([long_text], max_length=None)[0])


def test_empty_input_and_bad_texts(potion: StaticModel) -> None:
    vectors, count = potion.encode_with_token_count([])
    assert vectors.shape == (0, potion.dim)
    assert count == 0
    vectors, count = potion.encode_with_token_count(["", "   "])
    assert count == 0
    assert not vectors.any()
    with pytest.raises(InvalidInputError) as caught:
        potion.encode_with_token_count(["fine", 7])  # type: ignore[list-item]
    assert caught.value.index == 1
