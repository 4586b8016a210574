"""Vocabulary quantization: k-means clusters of token vectors shared by many tokens.

Each token keeps a scalar weight and points (``mapping``) to one of ``k`` cluster centres,
so the model stores ``k`` rows instead of one per token.  Directions are clustered: rows
are L2-normalized before k-means, and each token's weight is its SIF weight times its
original norm, so the model still knows how much every token contributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from m2v_distill._errors import InvalidParameterError


@dataclass(frozen=True)
class QuantizedVocabulary:
    """Cluster centres, the cluster of every token, and every token's weight."""

    centres: np.ndarray[Any, np.dtype[np.float32]]
    mapping: np.ndarray[Any, np.dtype[np.int32]]
    weights: np.ndarray[Any, np.dtype[np.float32]]


def quantize_vocabulary(
    embeddings: np.ndarray[Any, Any],
    token_weights: np.ndarray[Any, Any],
    clusters: int,
    *,
    seed: int = 42,
) -> QuantizedVocabulary:
    """Cluster token directions into ``clusters`` centres (k-means, fixed ``seed``)."""
    from sklearn.cluster import KMeans  # type: ignore[import-untyped]

    rows = embeddings.shape[0]
    if clusters > rows:
        raise InvalidParameterError(
            f"vocabulary_quantization={clusters} asks for more clusters than the {rows} tokens"
        )
    data = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(data, axis=1)
    directions = data / np.maximum(norms, 1e-12)[:, None]
    kmeans = KMeans(n_clusters=clusters, random_state=seed, n_init=1)
    labels = kmeans.fit_predict(directions)
    weights = (np.asarray(token_weights, dtype=np.float64) * norms).astype(np.float32)
    return QuantizedVocabulary(
        centres=kmeans.cluster_centers_.astype(np.float32),
        mapping=labels.astype(np.int32),
        weights=weights,
    )
