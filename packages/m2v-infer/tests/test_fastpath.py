"""The memoized fast path is exact: differential tests against the tokenizers library.

Every test compares ``FastEncoder`` with the library on real corpora (all benchmark
sentences, all tweets, all BBC documents), on synthetic tokenizer pipelines, on
truncation boundaries and with a tiny cache that is cleared again and again.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from m2v_format import load_model, reference_encode
from m2v_infer._fastpath import FastEncoder, analyze
from m2v_testkit import (
    TOKENIZER_VARIANTS,
    bbc_news,
    benchmark_corpus,
    needs_testdata,
    pool_segments,
    random_texts,
    reference_ids,
    tokenizer_variants,
    tweets,
)
from tokenizers import Tokenizer

UNK = 1  # potion-base-8M's [UNK]
MEDIAN = 6  # rule I1 for potion-base-8M

EDGE = [
    "",
    " ",
    "\n\t \r\n",
    "Hello, World!",
    "[UNK]",
    "[UNK] [UNK] hello [UNK]",
    "[CLS] hello [SEP] [PAD] [MASK]",
    "x[CLS]y [cls] [Cls]",
    "\x00\x01\x02 nul",
    "\ufeffbyte order mark\u200b",
    "e\u0301 combining: Mu\u0308nchen",
    "Café naïve résumé Ångström façade",
    "ΟΔΟΣ Σ ς İstanbul ß ﬁne ½",
    "東京は日本の首都です。北京欢迎你 한국어",
    "😀🎉 party 🥳",
    "!!!???...,,,;;;" * 20,
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101,
    "word " * 5000,
    "unaffable " * 300,
    "東" * 4000,
]


@pytest.fixture(scope="module")
def tokenizer(potion_path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(potion_path / "tokenizer.json"))


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    with needs_testdata():
        return benchmark_corpus()


@pytest.fixture(scope="module", name="tweets")
def tweets_fixture() -> list[str]:
    with needs_testdata():
        return tweets()


@pytest.fixture(scope="module")
def documents() -> list[str]:
    with needs_testdata():
        return bbc_news()[0]


def _plain(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch_fast(texts, add_special_tokens=False)]


def test_potion_pipeline_is_eligible(tokenizer: Tokenizer) -> None:
    spec = analyze(tokenizer.to_str())
    assert spec.eligible, spec.reason
    assert spec.bert_pre_tokenizer
    assert spec.decomposes  # BertNormalizer: strip_accents None follows lowercase
    assert "[CLS]" in spec.added_contents


def test_real_corpora_token_ids_are_exact(
    tokenizer: Tokenizer, sentences: list[str], tweets: list[str], documents: list[str]
) -> None:
    """All ~56k benchmark sentences, 38k tweets and 2,225 BBC documents, several cuts."""
    compared = 0
    for texts, lengths in (
        (sentences, (512,)),
        (sentences[::5], (16,)),
        (tweets, (512, None)),
        (documents, (512, None, 40)),
    ):
        long_cut = any(length is None or length >= 64 for length in lengths)
        plain = _plain(tokenizer, texts) if long_cut else None
        encoder = FastEncoder(tokenizer, unknown_id=UNK)
        for max_length in lengths:
            expected = reference_ids(tokenizer, texts, max_length, MEDIAN, UNK, plain=plain)
            got = encoder.tokenize(texts, max_length)
            mismatches = [i for i in range(len(texts)) if got[i] != expected[i]]
            assert not mismatches, [texts[i][:200] for i in mismatches[:3]]
            compared += len(texts)
        # These corpora never need the library: every text is handled by the fast path.
        assert encoder.fallback_texts == 0
    assert compared > 145_000


def test_real_corpus_pooled_vectors_match_reference_encode(
    potion_path: Path, sentences: list[str], tweets: list[str]
) -> None:
    model = load_model(potion_path)
    texts = sentences[::20] + tweets[::40] + EDGE
    rows = model.dequantized_embeddings()
    encoder = FastEncoder(model.tokenizer, unknown_id=model.unknown_token_id)
    for normalize in (False, True):
        expected = reference_encode(model, texts, max_length=512, normalize=normalize)
        got = pool_segments(encoder, rows, texts, 512, normalize=normalize)
        assert got.dtype == np.float32
        assert got.shape == expected.shape
        assert np.array_equal(got, expected)  # same ids, same rule functions: bitwise
    _, counts, _ = encoder.segments(texts, 512)
    assert sorted(counts.tolist()) == sorted(len(row) for row in encoder.tokenize(texts, 512))


def test_edge_cases_exact(tokenizer: Tokenizer) -> None:
    encoder = FastEncoder(tokenizer, unknown_id=UNK)
    for max_length in (None, 1, 2, 3, 5, 16, 512):
        expected = reference_ids(tokenizer, EDGE, max_length, MEDIAN, UNK)
        assert encoder.tokenize(EDGE, max_length) == expected, max_length
    # Special-token text and combining marks went to the library; the rest did not.
    assert 0 < encoder.fallback_texts < encoder.fallback_texts + encoder.fast_texts


def test_truncation_boundary_inside_a_word_and_on_unknown_ids(tokenizer: Tokenizer) -> None:
    """The first L ids are kept before unknown ids are dropped, even mid-word."""
    encoder = FastEncoder(tokenizer, unknown_id=UNK)
    long_word = "q" * 101  # longer than max_input_chars_per_word: one [UNK]
    texts = [
        "a b unaffable c",
        f"a {long_word} unaffable",
        f"{long_word} {long_word} x y z",
        "unaffable" * 3 + " end",
        f"hello {long_word}",
    ]
    for max_length in range(1, 8):
        expected = reference_ids(tokenizer, texts, max_length, MEDIAN, UNK)
        assert encoder.tokenize(texts, max_length) == expected, max_length
    assert encoder.fallback_texts == 0


@pytest.mark.parametrize("name", TOKENIZER_VARIANTS)
def test_other_pipelines_exact(name: str, potion_path: Path, sentences: list[str]) -> None:
    variant, eligible = tokenizer_variants(potion_path)[name]
    unknown = variant.token_to_id("[UNK]")
    median = FastEncoder(variant, unknown_id=unknown).median_length
    rng = random.Random(name)
    texts = random_texts(rng, 300) + sentences[:800] + EDGE
    texts += ["foo bar Qux qux QUX zz zzz xzz é É foo  bar abq cabq abqx", "FOO BAR", "x zz y"]
    encoder = FastEncoder(variant, unknown_id=unknown, cache_size=500, batch_size=97)
    assert encoder.eligible is eligible, encoder.spec.reason
    for max_length in (None, 3, 512):
        expected = reference_ids(variant, texts, max_length, median, unknown)
        got = encoder.tokenize(texts, max_length)
        mismatches = [i for i in range(len(texts)) if got[i] != expected[i]]
        assert not mismatches, [texts[i][:120] for i in mismatches[:3]]
    if eligible:
        assert encoder.fast_texts > encoder.fallback_texts
    else:
        assert encoder.fast_texts == 0


def test_tiny_cache_is_cleared_and_stays_exact(tokenizer: Tokenizer, sentences: list[str]) -> None:
    texts = sentences[:6000]
    expected = reference_ids(tokenizer, texts, 512, MEDIAN, UNK)
    encoder = FastEncoder(tokenizer, unknown_id=UNK, cache_size=200, batch_size=50)
    assert encoder.tokenize(texts, 512) == expected
    assert encoder.tokenize(texts, 512) == expected  # warm (partly) and cleared again
    cache = encoder.cache
    assert cache is not None
    assert cache.clears > 10
    # Bound: capacity plus what one batch of 50 texts adds.
    assert len(cache) <= 200 + 50 * 200
    cache.trim()
    assert len(cache) <= 200


def test_large_cache_keeps_everything(tokenizer: Tokenizer, sentences: list[str]) -> None:
    encoder = FastEncoder(tokenizer, unknown_id=UNK, cache_size=1_000_000)
    texts = sentences[:3000]
    first = encoder.tokenize(texts, 512)
    cache = encoder.cache
    assert cache is not None
    size = len(cache)
    assert encoder.tokenize(texts, 512) == first
    assert len(cache) == size
    assert cache.clears == 0


def test_ineligible_or_disabled_encoders_use_the_library(tokenizer: Tokenizer) -> None:
    encoder = FastEncoder(tokenizer, unknown_id=UNK, fast=False)
    assert not encoder.eligible
    assert encoder.cache is None
    expected = reference_ids(tokenizer, EDGE, 7, MEDIAN, UNK)
    assert encoder.tokenize(EDGE, 7) == expected
    assert encoder.fallback_texts == len(EDGE)


def test_api_shapes_and_errors(tokenizer: Tokenizer) -> None:
    encoder = FastEncoder(tokenizer.to_str(), unknown_id=UNK)
    ids, counts, order = encoder.segments([], 512)
    assert len(ids) == len(counts) == len(order) == 0
    assert encoder.median_length == MEDIAN
    with pytest.raises(TypeError):
        encoder.tokenize("a single string", 512)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_length"):
        encoder.tokenize(["x"], 0)
    texts = ["b a", "", "[CLS] x", "a " * 2000, "héllo"]
    ids, counts, order = encoder.segments(texts * 3, 512)
    assert sorted(order.tolist()) == list(range(15))
    expected = reference_ids(tokenizer, texts * 3, 512, MEDIAN, UNK)
    start = 0
    for position, count in zip(order.tolist(), counts.tolist(), strict=True):
        assert ids[start : start + count].tolist() == expected[position]
        start += count


@pytest.mark.parametrize("kind", ["bpe", "unigram", "wordpiece"])
def test_trained_models_exact(kind: str, sentences: list[str], tweets: list[str]) -> None:
    """Small models trained here (BPE, Unigram, WordPiece) behind local pipelines."""
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        trainer: Any = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]"])
    elif kind == "unigram":
        tokenizer = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=600, special_tokens=["[UNK]"], unk_token="[UNK]"
        )
    else:
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
        trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[UNK]"])
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(sentences[:1500], trainer=trainer)
    unknown = tokenizer.token_to_id("[UNK]")
    encoder = FastEncoder(tokenizer, unknown_id=unknown, cache_size=3000, batch_size=256)
    assert encoder.eligible, encoder.spec.reason
    texts = sentences[3000:4500] + tweets[:1000] + random_texts(random.Random(kind), 300) + EDGE
    for max_length in (None, 4, 512):
        expected = reference_ids(tokenizer, texts, max_length, encoder.median_length, unknown)
        got = encoder.tokenize(texts, max_length)
        mismatches = [i for i in range(len(texts)) if got[i] != expected[i]]
        assert not mismatches, [texts[i][:120] for i in mismatches[:3]]
    assert encoder.fast_texts > 10 * encoder.fallback_texts


@pytest.mark.parametrize("name", TOKENIZER_VARIANTS)
def test_long_texts_encoded_in_pieces_are_exact(
    name: str, potion_path: Path, sentences: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a token limit a very long text is encoded piece by piece between spaces;
    the ids are the library's for the whole text (limits shrunk so pieces are many)."""
    from m2v_infer._fastpath import _encoder

    monkeypatch.setattr(_encoder, "_LONG_TEXT", 400)
    monkeypatch.setattr(_encoder, "_PIECE", 64)
    variant, _ = tokenizer_variants(potion_path)[name]
    unknown = variant.token_to_id("[UNK]")
    rng = random.Random(f"long {name}")
    long_texts = [
        "  ".join(sentences[:40]) + " e\u0301 \u0378 x",  # a character the fast path refuses
        "\n".join(rng.sample(sentences, 30)) + "  \t  " + "東京" * 300,
        "word" * 200 + " " + "a" * 500,  # a piece longer than _PIECE without a space inside
        " " * 900 + "end",
        *(" ".join(random_texts(rng, 60)) for _ in range(3)),
    ]
    texts = [*long_texts, "short one", "", *sentences[:50]]
    encoder = FastEncoder(variant, unknown_id=unknown, batch_size=7)
    expected = reference_ids(variant, texts, None, encoder.median_length, unknown)
    got = encoder.tokenize(texts, None)
    mismatches = [i for i in range(len(texts)) if got[i] != expected[i]]
    assert not mismatches, [texts[i][:80] for i in mismatches[:3]]
    ids, counts, order = encoder.segments(texts, None)
    assert sorted(order.tolist()) == list(range(len(texts)))
    assert int(counts.sum()) == len(ids) == sum(map(len, expected))


def test_one_huge_line_stays_in_bounded_memory(potion_path: Path) -> None:
    """A 6M-character line with no token limit: peak RSS stays far below its gathered
    rows (1.5M ids x 256 float32 = 1.5 GB, held twice before pooling went in pieces), and
    the vector is the reference encoder's, bit for bit."""
    script = f"""
import resource, numpy as np
from m2v_infer import StaticModel
from m2v_testkit import benchmark_corpus
line = " ".join(benchmark_corpus())[:6_000_000] + " \\u0378"
model = StaticModel.from_pretrained({str(potion_path)!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
vector = model.encode([line], max_length=None, num_workers=1)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
from m2v_format import load_model, reference_encode  # the library on the whole line
expected = reference_encode(load_model({str(potion_path)!r}), [line], max_length=None)
print(grown // 1024, int(np.array_equal(vector, expected)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grown_mb, equal = done.stdout.split()
    assert int(grown_mb) < 600, f"encoding grew peak RSS by {grown_mb} MB"
    assert equal == "1"  # bit for bit the reference encoder's vector
