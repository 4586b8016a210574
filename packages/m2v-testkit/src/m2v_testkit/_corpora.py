"""Real text from the pinned test data: Rotten Tomatoes, BBC News and tweets.

Every loader reads the cache through :func:`m2v_testkit.dataset_path` (so it fetches on
first use and raises :class:`m2v_testkit.FetchError` when it cannot); orders are fixed, so
tests and benchmarks see the same texts on every machine.
"""

from __future__ import annotations

import bz2
import csv
import random
import re

from m2v_testkit._testdata import dataset_path

BENCHMARK_SEED = 20240601
"""The shuffle seed of :func:`benchmark_corpus`."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z0-9(])")
_CSV_FIELD_LIMIT = 10_000_000  # some plot summaries exceed csv's default 128 KiB


def _rotten_tomatoes_rows() -> list[dict[str, str]]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    path = dataset_path("rotten-tomatoes")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def rotten_tomatoes_texts() -> list[str]:
    """Every non-empty ``text`` of the Rotten Tomatoes corpus (reviews and plots), in order."""
    return [row["text"] for row in _rotten_tomatoes_rows() if row["text"].strip()]


def rotten_tomatoes_reviews() -> tuple[list[str], list[str]]:
    """The fresh/rotten review snippets and their labels (the plot summaries left out)."""
    rows = [row for row in _rotten_tomatoes_rows() if row["category"] in ("fresh", "rotten")]
    return [row["text"] for row in rows], [row["category"] for row in rows]


def rotten_tomatoes_plots() -> list[str]:
    """The plot summaries (``category`` plot): text no classification task scores."""
    return [row["text"] for row in _rotten_tomatoes_rows() if row["category"] == "plot"]


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences: per line, then after ., ! or ? before a capital."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


def bbc_news() -> tuple[list[str], list[str]]:
    """The 2,225 BBC News articles (latin-1) and their classes, by class then file name."""
    root = dataset_path("bbc-news")
    texts, labels = [], []
    for path in sorted(root.glob("*/*.txt")):
        texts.append(path.read_text(encoding="latin-1"))
        labels.append(path.parent.name)
    return texts, labels


def bbc_sentences() -> list[str]:
    """The BBC News articles split into sentences, in :func:`bbc_news` order."""
    return [sentence for text in bbc_news()[0] for sentence in split_sentences(text)]


def tweets() -> list[str]:
    """The ``text`` column of the tweets corpus (latin-1 CSV), in file order."""
    path = dataset_path("tweets")
    with path.open(encoding="latin-1", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle) if row.get("text")]


def benchmark_corpus(seed: int = BENCHMARK_SEED) -> list[str]:
    """Rotten Tomatoes texts + BBC sentences, shuffled with a fixed seed (55,814 strings):
    the corpus of the inference, tokenization and gRPC benchmarks."""
    texts = rotten_tomatoes_texts() + bbc_sentences()
    random.Random(seed).shuffle(texts)
    return texts
