"""The real corpora: sizes and orders the tests and benchmarks rely on (needs test data)."""

from __future__ import annotations

import pytest
from m2v_testkit import (
    bbc_news,
    bbc_sentences,
    benchmark_corpus,
    needs_testdata,
    rotten_tomatoes_plots,
    rotten_tomatoes_reviews,
    rotten_tomatoes_texts,
    split_sentences,
    tweets,
)


def test_split_sentences() -> None:
    text = 'First one. Second one! third stays.\n\n  Next line? "Quoted" start.'
    assert split_sentences(text) == [
        "First one.",
        "Second one! third stays.",
        "Next line?",
        '"Quoted" start.',
    ]


@pytest.fixture(scope="module")
def rotten() -> tuple[list[str], tuple[list[str], list[str]], list[str]]:
    with needs_testdata():
        return rotten_tomatoes_texts(), rotten_tomatoes_reviews(), rotten_tomatoes_plots()


def test_rotten_tomatoes(rotten: tuple[list[str], tuple[list[str], list[str]], list[str]]) -> None:
    texts, (reviews, labels), plots = rotten
    assert len(texts) == 13_891
    assert len(reviews) == len(labels) == 12_808
    assert set(labels) == {"fresh", "rotten"}
    assert len(plots) == 13_905 - 12_808  # every row is a review or a plot summary


def test_bbc_news_and_tweets() -> None:
    with needs_testdata():
        texts, labels = bbc_news()
        sentences = bbc_sentences()
        tweet_texts = tweets()
    assert len(texts) == 2_225
    assert labels == sorted(labels)
    assert sorted(set(labels)) == ["business", "entertainment", "politics", "sports", "tech"]
    assert len(sentences) == 41_923
    assert len(tweet_texts) == 38_158


def test_benchmark_corpus_is_a_fixed_shuffle() -> None:
    with needs_testdata():
        corpus = benchmark_corpus()
    assert len(corpus) == 55_814
    assert sorted(corpus) == sorted(rotten_tomatoes_texts() + bbc_sentences())
    assert corpus[:3] == benchmark_corpus()[:3]
