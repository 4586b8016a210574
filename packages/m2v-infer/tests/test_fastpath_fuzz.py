"""Property-based fuzzing of the fast path against the tokenizers library.

Hypothesis draws batches of texts over every Unicode category (control and format
characters, zero-width and exotic whitespace, combining marks, CJK, emoji, noncharacters,
private use), words longer than ``max_input_chars_per_word``, runs of punctuation and
special-token text, and checks that the ids equal the library's (rules I2-I4) and that
the pooled vectors equal a plain per-text loop. One encoder keeps a big memo across
examples, another a memo of 8 chunks (cleared nearly every batch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from m2v_infer._fastpath import FastEncoder
from m2v_testkit import (
    ASCII_CHARACTERS,
    SPECIAL_TOKEN_TEXTS,
    TOKENIZER_VARIANTS,
    TRICKY_CHARACTERS,
    pool_segments,
    reference_ids,
    reference_pool,
    tokenizer_variants,
)
from tokenizers import Tokenizer

UNK = 1
MEDIAN = 6

_STATE: dict[str, object] = {}


def _setup(potion_path: Path) -> tuple[Tokenizer, np.ndarray, FastEncoder, FastEncoder]:
    if "tokenizer" not in _STATE:
        tokenizer = Tokenizer.from_file(str(potion_path / "tokenizer.json"))
        rows = np.random.default_rng(0).normal(size=(tokenizer.get_vocab_size(), 16))
        rows = rows.astype(np.float32)
        _STATE["tokenizer"] = tokenizer
        _STATE["rows"] = rows
        _STATE["big"] = FastEncoder(tokenizer, unknown_id=UNK, batch_size=7)
        _STATE["tiny"] = FastEncoder(tokenizer, unknown_id=UNK, cache_size=8, batch_size=3)
    return (
        _STATE["tokenizer"],  # type: ignore[return-value]
        _STATE["rows"],
        _STATE["big"],
        _STATE["tiny"],
    )


@pytest.fixture(scope="module")
def setup(potion_path: Path) -> tuple[Tokenizer, np.ndarray, FastEncoder, FastEncoder]:
    return _setup(potion_path)


_any_char = st.characters(exclude_categories=("Cs",))  # lone surrogates: the library raises
_pieces = st.one_of(
    st.text(_any_char, max_size=6),
    st.text(st.sampled_from(TRICKY_CHARACTERS), min_size=1, max_size=4),
    st.text(st.sampled_from(ASCII_CHARACTERS), min_size=1, max_size=12),
    st.sampled_from(SPECIAL_TOKEN_TEXTS),
    st.sampled_from(["\t", "\n", "\r\n", " ", "  ", "\x00", "\ufffd", "\u200b", "\u0301"]),
    st.integers(95, 130).map(lambda n: "x" * n),  # around max_input_chars_per_word
    st.integers(1, 60).map(lambda n: "!?.,;-" * n),  # long punctuation runs
    st.sampled_from(["unaffable", "Mu\u0308nchen", "ΟΔΟΣ", "İstanbul", "ﬁ", "東京", "😀🎉"]),
)
_texts = st.lists(_pieces, max_size=25).map("".join)
_lengths = st.sampled_from([None, 1, 2, 3, 5, 8, 40, 512])


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=st.lists(_texts, min_size=1, max_size=12), max_length=_lengths)
def test_ids_and_pooled_vectors_match_the_library(
    setup: tuple[Tokenizer, np.ndarray, FastEncoder, FastEncoder],
    texts: list[str],
    max_length: int | None,
) -> None:
    tokenizer, rows, big, tiny = setup
    expected = reference_ids(tokenizer, texts, max_length, MEDIAN, UNK)
    for encoder in (big, tiny):
        assert encoder.tokenize(texts, max_length) == expected
    vectors = pool_segments(big, rows, texts, max_length)
    assert np.abs(vectors - reference_pool(rows, expected)).max(initial=0.0) <= 1e-6
    normalized = pool_segments(tiny, rows, texts, max_length, normalize=True)
    plain = reference_pool(rows, expected)
    plain /= np.linalg.norm(plain, axis=1, keepdims=True) + np.float32(1e-32)
    assert np.abs(normalized - plain).max(initial=0.0) <= 1e-6


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(_any_char, max_size=300), max_length=_lengths)
def test_arbitrary_unicode_text(
    setup: tuple[Tokenizer, np.ndarray, FastEncoder, FastEncoder],
    text: str,
    max_length: int | None,
) -> None:
    tokenizer, _, big, tiny = setup
    expected = reference_ids(tokenizer, [text], max_length, MEDIAN, UNK)
    assert big.tokenize([text], max_length) == expected
    assert tiny.tokenize([text, text], max_length) == expected * 2


_VARIANTS: dict[str, tuple[Tokenizer, FastEncoder, int]] = {}


@pytest.mark.parametrize("name", TOKENIZER_VARIANTS)
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(texts=st.lists(_texts, min_size=1, max_size=6), max_length=_lengths)
def test_other_pipelines(
    potion_path: Path, name: str, texts: list[str], max_length: int | None
) -> None:
    if name not in _VARIANTS:
        tokenizer, _ = tokenizer_variants(potion_path)[name]
        unknown = tokenizer.token_to_id("[UNK]")
        encoder = FastEncoder(tokenizer, unknown_id=unknown, cache_size=64, batch_size=4)
        _VARIANTS[name] = (tokenizer, encoder, unknown)
    tokenizer, encoder, unknown = _VARIANTS[name]
    expected = reference_ids(tokenizer, texts, max_length, encoder.median_length, unknown)
    assert encoder.tokenize(texts, max_length) == expected


def test_fuzzing_exercised_the_fast_path(
    setup: tuple[Tokenizer, np.ndarray, FastEncoder, FastEncoder],
) -> None:
    """Guard against a fuzz run in which everything silently went to the library."""
    _, _, big, tiny = setup
    texts = ["Mu\u0308nchen ΟΔΟΣ x\u200by", "\x00tab\there", "東京 😀", "naïve café"]
    before = big.fast_texts
    big.tokenize(texts, 512)
    assert big.fast_texts - before == len(texts)
    assert tiny.cache is not None
    tiny.tokenize(["a b c d e f g h i j k l m n o p"] * 3, 512)
    tiny.tokenize(["z"], 512)
    assert tiny.cache.clears >= 1
