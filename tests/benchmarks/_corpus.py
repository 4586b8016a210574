"""The real-text corpus the benchmarks (and the m2v-infer tests) embed.

Rotten Tomatoes texts (reviews and plot summaries, one string each) plus BBC News
articles split into sentences, shuffled with a fixed seed.  Data comes from the pinned
test-data cache (``tests/support/m2v_testdata.py``); nothing here downloads by itself
except through that module.
"""

from __future__ import annotations

import bz2
import csv
import random
import re
import sys
from pathlib import Path

_SUPPORT = Path(__file__).resolve().parents[1] / "support"
if str(_SUPPORT) not in sys.path:
    sys.path.insert(0, str(_SUPPORT))

from m2v_testdata import dataset_path  # noqa: E402

SEED = 20240601
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z0-9(])")

csv.field_size_limit(10_000_000)


def rotten_tomatoes_texts() -> list[str]:
    """Every non-empty ``text`` field of the Rotten Tomatoes corpus, in file order."""
    path = Path(dataset_path("rotten-tomatoes"))
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle) if row["text"].strip()]


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences: per line, then after ., ! or ? before a capital."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences


def bbc_sentences() -> list[str]:
    """BBC News articles (latin-1 files ``<class>/*.txt``) split into sentences, sorted by path."""
    root = Path(dataset_path("bbc-news"))
    sentences: list[str] = []
    for path in sorted(root.glob("*/*.txt")):
        sentences.extend(split_sentences(path.read_text(encoding="latin-1")))
    return sentences


def tweets() -> list[str]:
    """The ``text`` column of the tweets corpus (latin-1 CSV)."""
    path = Path(dataset_path("tweets"))
    with path.open(encoding="latin-1", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle) if row.get("text")]


def benchmark_corpus(seed: int = SEED) -> list[str]:
    """Rotten Tomatoes texts + BBC sentences, shuffled with a fixed seed (about 60k strings)."""
    texts = rotten_tomatoes_texts() + bbc_sentences()
    random.Random(seed).shuffle(texts)
    return texts


if __name__ == "__main__":
    corpus = benchmark_corpus()
    lengths = sorted(len(t) for t in corpus)
    print(
        f"{len(corpus)} strings, {sum(lengths)} characters, median length {lengths[len(lengths) // 2]}"
    )
    print(f"tweets: {len(tweets())}")
