"""The real corpora: sizes and orders the tests and benchmarks rely on (needs test data)."""

from __future__ import annotations

import pytest
from m2v_testkit import (
    bbc_news,
    bbc_sentences,
    benchmark_corpus,
    needs_testdata,
    paraphrase_pairs,
    rotten_tomatoes_plots,
    rotten_tomatoes_reviews,
    rotten_tomatoes_texts,
    split_sentences,
    tweets,
    vader_sentiment,
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


def test_vader_sentiment_leaves_out_what_the_evaluation_suite_scores() -> None:
    with needs_testdata():
        texts, ratings = vader_sentiment()
        scored = set(rotten_tomatoes_texts())
    assert len(texts) == len(ratings) == 13_003
    assert len(set(texts)) == len(texts)
    assert -4.0 <= min(ratings) < -3.0
    assert 3.0 < max(ratings) <= 4.0
    assert not scored & set(texts)
    assert texts[:2] == [
        "troubleshooting ad-2500 and ad-2600 no picture scrolling b/w.",
        "repost from january 13, 2004 with a better fit title.",
    ]


def test_paraphrase_pairs_are_distinct_verse_pairs() -> None:
    with needs_testdata():
        first, second = paraphrase_pairs()
    assert len(first) == len(second) == 27_941
    assert len(set(first)) == len(set(second)) == len(first), "each text has one partner"
    assert all(a.lower() != b.lower() for a, b in zip(first, second, strict=True))
    assert first[0] == "In the beginning God created the heavens and the earth."
    assert second[0] == "At the first God made the heaven and the earth."
    assert not any("`" in text or "\\" in text for text in first + second)
