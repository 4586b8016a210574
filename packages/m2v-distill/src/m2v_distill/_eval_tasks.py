"""The evaluation tasks: each turns an encoder and a data set into scores.

An encoder is anything with ``encode(list[str]) -> array [n, dim]`` (an m2v-infer or
model2vec ``StaticModel``, or a sentence-transformers model).  Only numpy and
scikit-learn are used.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from m2v_distill._eval_data import LabelledTexts, WordPairs


class Encoder(Protocol):
    """What the evaluation needs from a model."""

    def encode(self, sentences: list[str]) -> Any:  # pragma: no cover - protocol
        """Embed ``sentences`` into an array of shape ``[len(sentences), dim]``."""


@dataclass(frozen=True)
class Score:
    """One number of the evaluation: a task on a data set with a metric."""

    task: str
    dataset: str
    metric: str
    value: float
    coverage: float | None = None
    detail: str = ""


def _unit_rows(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def rank_average(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Ranks 1..n of ``values``, tied values sharing the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start + 1
        while end < len(values) and sorted_values[end] == sorted_values[start]:
            end += 1
        ranks[order[start:end]] = (start + end + 1) / 2.0
        start = end
    return ranks


def pearson(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    """Pearson correlation (0 when either side is constant)."""
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else 0.0


def spearman(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    """Spearman rank correlation: Pearson correlation of the tie-averaged ranks."""
    return pearson(rank_average(x), rank_average(y))


def word_similarity(encoder: Encoder, pairs: WordPairs) -> Score:
    """Spearman correlation of cosine similarity with human scores.

    Pairs with a word the model cannot embed (a zero vector: every token unknown) are
    skipped; ``coverage`` is the fraction of pairs scored.
    """
    words = sorted(set(pairs.first) | set(pairs.second))
    vectors = np.asarray(encoder.encode(words), dtype=np.float64)
    index = {word: row for row, word in enumerate(words)}
    embeddable = np.linalg.norm(vectors, axis=1) > 0
    unit = _unit_rows(vectors)
    model_scores: list[float] = []
    human_scores: list[float] = []
    for first, second, human in zip(pairs.first, pairs.second, pairs.scores, strict=True):
        a, b = index[first], index[second]
        if embeddable[a] and embeddable[b]:
            model_scores.append(float(unit[a] @ unit[b]))
            human_scores.append(human)
    total = len(pairs.scores)
    value = spearman(np.array(model_scores), np.array(human_scores)) if model_scores else 0.0
    return Score(
        task="word similarity",
        dataset=pairs.name,
        metric="Spearman",
        value=value,
        coverage=len(model_scores) / total if total else 0.0,
        detail=f"{len(model_scores)}/{total} pairs",
    )


def document_similarity(
    encoder: Encoder, documents: Sequence[str], human: Sequence[Sequence[float]]
) -> Score:
    """Lee: Pearson correlation of document cosine similarities with human judgements.

    Every unordered pair of distinct documents counts once (the upper triangle).
    """
    unit = _unit_rows(np.asarray(encoder.encode(list(documents))))
    similarities = unit @ unit.T
    upper = np.triu_indices(len(documents), k=1)
    value = pearson(similarities[upper], np.asarray(human, dtype=np.float64)[upper])
    return Score(
        task="document similarity",
        dataset="Lee",
        metric="Pearson",
        value=value,
        coverage=1.0,
        detail=f"{len(upper[0])} pairs",
    )


def classification(encoder: Encoder, data: LabelledTexts, *, folds: int, seed: int | None) -> Score:
    """Accuracy of logistic regression on frozen embeddings, stratified k-fold CV.

    With ``seed=None`` the folds are contiguous runs of each class in the data set's own
    order (scikit-learn's default for ``cv=k``): fixed, and reviews of one film or stories
    of one week stay in one fold.  An int ``seed`` shuffles the folds with that seed.
    """
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.model_selection import (  # type: ignore[import-untyped]
        StratifiedKFold,
        cross_val_score,
    )

    features = np.asarray(encoder.encode(list(data.texts)), dtype=np.float32)
    labels = np.asarray(data.labels)
    if seed is None:
        splitter = StratifiedKFold(n_splits=folds)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    classifier = LogisticRegression(max_iter=2000)
    accuracies = cross_val_score(classifier, features, labels, cv=splitter, scoring="accuracy")
    classes = len(set(data.labels))
    return Score(
        task="classification",
        dataset=data.name,
        metric=f"LR accuracy, {folds}-fold",
        value=float(np.mean(accuracies)),
        coverage=1.0,
        detail=(
            f"{len(labels)} texts, {classes} classes, sd {float(np.std(accuracies)):.3f}"
            + ("" if seed is None else f", shuffled (seed {seed})")
        ),
    )


def throughput(encoder: Encoder, texts: Sequence[str], *, repeats: int = 3) -> Score:
    """Texts encoded per second: the best of ``repeats`` timed runs after a warm-up."""
    batch = list(texts)
    encoder.encode(batch[: min(len(batch), 256)])
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        encoder.encode(batch)
        best = min(best, time.perf_counter() - start)
    characters = sum(len(text) for text in batch)
    return Score(
        task="throughput",
        dataset=f"{len(batch):,} texts",
        metric="texts/s",
        value=len(batch) / best if best > 0 else float("inf"),
        detail=f"{characters / best / 1e6:.1f} M chars/s, best of {max(1, repeats)}",
    )
