"""quantize_vocabulary: k-means on token directions, weights keep every token's norm."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from m2v_format import (
    InvalidArgumentError,
    load_model,
    quantize,
    quantize_vocabulary,
    save_model,
    validate_model,
)
from m2v_format._clusters import kmeans
from m2v_testkit import tiny_model


def test_kmeans_finds_separated_groups_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    anchors = rng.normal(size=(5, 8)).astype(np.float32) * 10
    points = np.concatenate([a + rng.normal(scale=0.05, size=(40, 8)) for a in anchors])
    points = points.astype(np.float32)
    centres, labels = kmeans(points, 5, seed=1)
    assert centres.shape == (5, 8)
    assert centres.dtype == np.float32
    groups = labels.reshape(5, 40)
    assert all(len(set(group)) == 1 for group in groups.tolist())  # each group one cluster
    assert len({group[0] for group in groups.tolist()}) == 5  # and five distinct ones
    np.testing.assert_allclose(np.sort(centres, axis=0), np.sort(anchors, axis=0), atol=0.05)
    again_centres, again_labels = kmeans(points, 5, seed=1)
    assert np.array_equal(again_labels, labels)
    assert np.array_equal(again_centres, centres)


def test_one_cluster_per_row_reproduces_every_vector() -> None:
    model = tiny_model()
    clustered = quantize_vocabulary(model, model.rows)
    assert clustered.rows == model.rows
    assert clustered.mapping is not None
    np.testing.assert_allclose(
        clustered.embeddings[clustered.mapping] * clustered.weights[:, None],  # type: ignore[index]
        model.embeddings,
        atol=1e-5,
    )


def test_weights_multiply_the_old_weights_by_the_norms() -> None:
    model = tiny_model(weights=True)
    clustered = quantize_vocabulary(model, 3, seed=7)
    norms = np.linalg.norm(model.embeddings, axis=1)
    np.testing.assert_allclose(clustered.weights, model.weights * norms, rtol=1e-6)  # type: ignore[operator]
    assert clustered.rows == 3
    assert clustered.mapping is not None
    assert clustered.mapping.dtype == np.int32
    assert set(clustered.mapping.tolist()) <= {0, 1, 2}


def test_saved_model_is_valid_and_records_the_clusters(tmp_path: Path) -> None:
    folder = save_model(tmp_path / "vq", quantize_vocabulary(tiny_model(), 4))
    assert validate_model(folder).ok
    loaded = load_model(folder)
    assert loaded.config.vocabulary_quantization == 4
    assert loaded.rows == 4


@pytest.mark.parametrize("precision", ["float16", "int8"])
def test_the_table_keeps_its_precision(precision: str) -> None:
    model = quantize(tiny_model(), precision)  # type: ignore[arg-type]
    clustered = quantize_vocabulary(model, 4)
    assert clustered.dtype == model.dtype
    assert clustered.embeddings_scale is None  # int8 rows carry their scale in the weights
    assert clustered.weights is not None


@pytest.mark.parametrize(
    ("clusters", "message"),
    [(0, ">= 1"), (-3, ">= 1"), (2.5, ">= 1"), (True, ">= 1"), (10_000, "at most")],
)
def test_bad_cluster_counts(clusters: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        quantize_vocabulary(tiny_model(), clusters)  # type: ignore[arg-type]
    assert caught.value.code == "invalid-argument"


def test_an_already_quantized_vocabulary_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="already vocabulary-quantized"):
        quantize_vocabulary(tiny_model(clusters=6), 3)


def test_progress_is_reported_per_iteration() -> None:
    seen: list[tuple[int, int, float]] = []
    quantize_vocabulary(tiny_model(), 5, on_iteration=lambda *a: seen.append(a))
    assert seen
    assert [s[0] for s in seen] == list(range(1, len(seen) + 1))
    assert all(later[2] <= earlier[2] + 1e-6 for earlier, later in itertools.pairwise(seen))
