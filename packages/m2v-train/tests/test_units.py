"""Small units: labels, splits, class weights, batches, post-processing, errors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from m2v_train._errors import ALL_ERRORS, TrainError
from m2v_train._labels import class_weights, label_space, read_labels
from m2v_train._postprocess import (
    pca_reduce,
    power_normalize,
    procrustes,
    sif_weights,
    token_frequencies,
)
from m2v_train._split import split, validation_count


def test_error_codes_are_unique_and_typed() -> None:
    codes = [error.code for error in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    assert all(issubclass(error, TrainError) for error in ALL_ERRORS)
    assert str(ALL_ERRORS[0]("boom")).startswith(ALL_ERRORS[0].code)


def test_read_labels() -> None:
    assert read_labels(["a", "b", "a"]) == (False, Counter({"a": 2, "b": 1}))
    assert read_labels([["a"], ["a", "b"], []]) == (True, Counter({"a": 2, "b": 1}))
    assert read_labels(np.array([1, 2, 2]))[0] is False
    space, _ = label_space(["b", "a", "b"])
    assert space.classes == ("a", "b")
    np.testing.assert_array_equal(space.encode(["b", "a"]), [1, 0])
    ml, _ = label_space([["x"], ["y", "x"]])
    np.testing.assert_array_equal(ml.encode([["y"], []]), [[0, 1], [0, 0]])


def test_class_weights() -> None:
    space, counts = label_space(["a"] * 3 + ["b"])
    balanced = class_weights("balanced", space, counts, 4)
    assert balanced is not None
    np.testing.assert_allclose(balanced, [4 / 6, 2.0])
    assert class_weights(None, space, counts, 4) is None
    explicit = class_weights({"a": 1.0, "b": 3.0}, space, counts, 4)
    assert explicit is not None
    np.testing.assert_allclose(explicit, [1.0, 3.0])


def test_split_is_stratified_seeded_and_disjoint() -> None:
    strata = np.array([0] * 90 + [1] * 10)
    train, valid = split(100, 0.2, seed=3, strata=strata)
    assert len(valid) == 20
    assert len(train) == 80
    assert set(train).isdisjoint(valid)
    assert (strata[valid] == 1).sum() == 2
    again = split(100, 0.2, seed=3, strata=strata)
    np.testing.assert_array_equal(valid, again[1])
    assert validation_count(100_000, 0.5) == 10_000
    assert validation_count(10, 3) == 3


def test_postprocessing() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 8)).astype(np.float32)
    powered = power_normalize(table, 0.5)
    np.testing.assert_allclose(powered, np.sign(table) * np.sqrt(np.abs(table)), rtol=1e-6)
    reduced = pca_reduce(table, 3)
    assert reduced.shape == (50, 3)
    np.testing.assert_allclose(reduced.mean(axis=0), 0.0, atol=1e-5)
    shifted = pca_reduce(table + 5.0, 3, subtract_mean=False)  # the same axes, mean kept
    offset = shifted - pca_reduce(table + 5.0, 3)
    np.testing.assert_allclose(offset, np.broadcast_to(offset[0], offset.shape), atol=1e-4)
    assert np.linalg.norm(offset[0]) > 1.0
    frequencies = token_frequencies([[0, 0, 1], [1, 2]], 4)
    np.testing.assert_allclose(frequencies, [0.4, 0.4, 0.2, 0.0])
    weights = sif_weights(frequencies, 0.1)
    assert weights[3] == 1.0
    assert weights[0] < weights[2] < 1.0
    rotation = np.linalg.qr(rng.normal(size=(8, 8)))[0].astype(np.float32)
    recovered = procrustes(table, table @ rotation)
    np.testing.assert_allclose(recovered, rotation, atol=1e-4)


@pytest.mark.parametrize("size", [0.0, 1.0, True, "x"])
def test_bad_validation_size(size: object) -> None:
    from m2v_train import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        validation_count(10, size)  # type: ignore[arg-type]
