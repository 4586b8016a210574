"""Vocabulary quantization: many tokens share one row of k-means cluster centres.

Each token keeps a scalar weight and points (``mapping``, rule M1) to one of ``k``
centres, so the table stores ``k`` rows instead of one per token.  Directions are
clustered: rows are L2-normalized first and each token's weight becomes its old weight
times its row's norm, so ``weights[i] * E[mapping[i]]`` keeps every token's magnitude
(model2vec does this only for models without weights; with weights it clusters the raw
rows, which lets a token's norm bias the clustering).

The k-means is plain numpy (k-means++ seeding, then Lloyd iterations on float32 with the
distances computed in blocks), so the runtime can quantize at load time without
scikit-learn.  Same input and seed give the same clusters on the same machine; across BLAS
builds the float32 sums may round differently and flip a near-tie.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from m2v_format._errors import InvalidArgumentError
from m2v_format._inference import NORM_EPSILON
from m2v_format._model import StaticModelData
from m2v_format._quantize import quantize

DEFAULT_SEED = 42
MAX_ITERATIONS = 100
TOLERANCE = 1e-4
"""Stop when the inertia improves by less than this fraction in one iteration."""
_BLOCK_ROWS = 4096

Float32Array = np.ndarray[Any, np.dtype[np.float32]]
IterationCallback = Callable[[int, int, float], None]
"""Called after every Lloyd iteration with (iteration, MAX_ITERATIONS, inertia)."""


def quantize_vocabulary(
    model: StaticModelData,
    clusters: int,
    *,
    seed: int = DEFAULT_SEED,
    on_iteration: IterationCallback | None = None,
) -> StaticModelData:
    """A copy of ``model`` whose tokens share ``clusters`` rows (k-means on directions).

    The table keeps its dtype (an int8 table is re-quantized with a new scale); the
    tokenizer and config are shared, and ``config.json`` will record
    ``vocabulary_quantization``.  ``on_iteration`` reports progress (k-means on 30k tokens
    takes seconds to tens of seconds).

    Raises:
        InvalidArgumentError: ``clusters`` is not an integer between 1 and the number of
            rows, or the model is already vocabulary-quantized (it has a ``mapping``).
    """
    if isinstance(clusters, bool) or not isinstance(clusters, int) or clusters < 1:
        raise InvalidArgumentError(
            f"vocabulary quantization needs a number of clusters >= 1, got {clusters!r}"
        )
    if model.mapping is not None:
        raise InvalidArgumentError(
            f"the model is already vocabulary-quantized ({model.rows:,} rows shared by "
            f"{len(model.mapping):,} tokens); quantize its source model instead"
        )
    if clusters > model.rows:
        raise InvalidArgumentError(
            f"cannot make {clusters:,} clusters of {model.rows:,} rows; ask for at most "
            f"{model.rows:,}"
        )
    table = np.ascontiguousarray(model.dequantized_embeddings(), dtype=np.float32)
    norms = np.linalg.norm(table, axis=1)
    directions = table / (norms + NORM_EPSILON)[:, None]
    old_weights = (
        np.ones(model.rows, dtype=np.float64)
        if model.weights is None
        else np.asarray(model.weights, dtype=np.float64)
    )
    centres, labels = kmeans(directions, clusters, seed=seed, on_iteration=on_iteration)
    weights = (old_weights * norms).astype(np.float32)
    clustered = StaticModelData(
        embeddings=centres,
        tokenizer=model.tokenizer,
        config=model.config,
        weights=weights,
        mapping=labels.astype(np.int32),
    )
    if model.dtype == np.float32:
        return clustered
    return quantize(clustered, model.dtype.name)  # type: ignore[arg-type]


def kmeans(
    points: Float32Array,
    clusters: int,
    *,
    seed: int = DEFAULT_SEED,
    on_iteration: IterationCallback | None = None,
) -> tuple[Float32Array, np.ndarray[Any, np.dtype[np.intp]]]:
    """Lloyd's k-means from a k-means++ start: (centres, label of every point)."""
    rng = np.random.default_rng(seed)
    squared_norms = np.einsum("ij,ij->i", points, points)
    centres = _plus_plus_start(points, squared_norms, clusters, rng)
    labels, inertia = _assign(points, squared_norms, centres)
    for iteration in range(1, MAX_ITERATIONS + 1):
        centres = _means(points, labels, centres, rng)
        labels, new_inertia = _assign(points, squared_norms, centres)
        if on_iteration is not None:
            on_iteration(iteration, MAX_ITERATIONS, new_inertia)
        converged = inertia - new_inertia <= TOLERANCE * max(inertia, float(NORM_EPSILON))
        inertia = new_inertia
        if converged:
            break
    return centres, labels


def _plus_plus_start(
    points: Float32Array,
    squared_norms: Float32Array,
    clusters: int,
    rng: np.random.Generator,
) -> Float32Array:
    """k-means++ seeding: each next centre drawn with probability ~ squared distance."""
    count = points.shape[0]
    chosen = np.empty(clusters, dtype=np.intp)
    chosen[0] = rng.integers(count)
    nearest = _squared_distances(points, squared_norms, points[chosen[0]])
    for index in range(1, clusters):
        total = float(nearest.sum(dtype=np.float64))
        if total <= 0.0:  # every point sits on a centre: take any point not yet chosen
            remaining = np.setdiff1d(np.arange(count), chosen[:index])
            chosen[index] = remaining[0]
        else:
            threshold = rng.random() * total
            position = int(np.searchsorted(np.cumsum(nearest, dtype=np.float64), threshold))
            chosen[index] = min(position, count - 1)
        np.minimum(
            nearest,
            _squared_distances(points, squared_norms, points[chosen[index]]),
            out=nearest,
        )
    return np.array(points[chosen], dtype=np.float32)


def _squared_distances(
    points: Float32Array, squared_norms: Float32Array, centre: Float32Array
) -> Float32Array:
    distances = squared_norms - 2.0 * (points @ centre) + float(centre @ centre)
    return np.maximum(distances, 0.0).astype(np.float32, copy=False)


def _assign(
    points: Float32Array, squared_norms: Float32Array, centres: Float32Array
) -> tuple[np.ndarray[Any, np.dtype[np.intp]], float]:
    """Nearest centre of every point and the inertia (sum of squared distances)."""
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    labels = np.empty(points.shape[0], dtype=np.intp)
    inertia = 0.0
    for start in range(0, points.shape[0], _BLOCK_ROWS):
        block = points[start : start + _BLOCK_ROWS]
        distances = centre_norms[None, :] - 2.0 * (block @ centres.T)
        best = np.argmin(distances, axis=1)
        labels[start : start + len(block)] = best
        nearest = distances[np.arange(len(block)), best] + squared_norms[start : start + len(block)]
        inertia += float(np.maximum(nearest, 0.0).sum(dtype=np.float64))
    return labels, inertia


def _means(
    points: Float32Array,
    labels: np.ndarray[Any, np.dtype[np.intp]],
    previous: Float32Array,
    rng: np.random.Generator,
) -> Float32Array:
    """Every cluster's mean; an empty cluster restarts at a random point."""
    clusters, dim = previous.shape
    counts = np.bincount(labels, minlength=clusters)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    empty = counts == 0
    sums = np.zeros((clusters, dim), dtype=np.float64)
    sums[~empty] = np.add.reduceat(points[order].astype(np.float64), starts[~empty], axis=0)
    centres = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    if empty.any():
        centres[empty] = points[rng.integers(points.shape[0], size=int(empty.sum()))]
    return centres
