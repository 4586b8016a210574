"""A synthetic little language for training tests: sentiment and topic words, labelled
texts generated from them with fixed seeds, a tokenizer and model over them, and a fake
teacher whose vectors a static model can learn exactly."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from m2v_format import ModelConfig, StaticModelData
from tokenizers import Tokenizer

from m2v_testkit._models import tiny_model
from m2v_testkit._tokenizers import wordlevel_tokenizer

POSITIVE_WORDS: tuple[str, ...] = ("good", "great", "fine", "happy", "love", "superb")
NEGATIVE_WORDS: tuple[str, ...] = ("bad", "awful", "poor", "sad", "hate", "boring")
TOPIC_WORDS: tuple[str, ...] = ("sport", "music", "money", "food")
FILLER_WORDS: tuple[str, ...] = (
    "the", "a", "movie", "film", "was", "is", "really", "quite", "this", "it", "and",
)  # fmt: skip
SYNTHETIC_WORDS: tuple[str, ...] = (*POSITIVE_WORDS, *NEGATIVE_WORDS, *TOPIC_WORDS, *FILLER_WORDS)
"""Every word of the synthetic language."""


def synthetic_tokenizer() -> Tokenizer:
    """A lower-casing whitespace WordLevel tokenizer: ``[UNK]`` = 0, then the words."""
    return wordlevel_tokenizer(["[UNK]", *SYNTHETIC_WORDS], lowercase=True)


def synthetic_model(dim: int = 16, seed: int = 0, dtype: str = "float32") -> StaticModelData:
    """Random rows for every token of :func:`synthetic_tokenizer` (normalize, max_length 64)."""
    return tiny_model(
        synthetic_tokenizer(), dim=dim, seed=seed, dtype=dtype, config=ModelConfig(max_length=64)
    )


def sentiment_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` texts labelled ``pos``/``neg`` (alternating) by the sentiment words they hold."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = [rng.choice(FILLER_WORDS) for _ in range(rng.randint(3, 8))]
        words += [
            rng.choice(POSITIVE_WORDS if label == "pos" else NEGATIVE_WORDS) for _ in range(2)
        ]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def topic_texts(n: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """``n`` texts with one or two topic words each; the labels are the topics present."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        topics = sorted(rng.sample(TOPIC_WORDS, rng.randint(1, 2)))
        words = [rng.choice(FILLER_WORDS) for _ in range(rng.randint(2, 6))] + topics
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(topics)
    return texts, labels


def synthetic_corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct random texts of 2 to 9 synthetic words."""
    rng = random.Random(seed)
    texts: list[str] = []
    seen: set[str] = set()
    while len(texts) < n:
        text = " ".join(rng.choice(SYNTHETIC_WORDS) for _ in range(rng.randint(2, 9)))
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


class BagOfWordsTeacher:
    """A fake teacher: the mean of fixed random word vectors (dim 24), learnable exactly.

    Has what m2v-train asks of a teacher (``name``, ``dim``, ``encode``) and counts calls.
    """

    name = "bag-of-words"
    dim = 24

    def __init__(self, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = {w: rng.normal(size=self.dim).astype(np.float32) for w in SYNTHETIC_WORDS}
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Mean word vector of each text (zero for a text without known words)."""
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors = [self.vectors[w] for w in text.lower().split() if w in self.vectors]
            if vectors:
                out[row] = np.mean(vectors, axis=0)
        return out
