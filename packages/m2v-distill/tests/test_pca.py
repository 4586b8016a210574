"""PCA by covariance eigendecomposition (checked against scikit-learn) and SIF weights."""

from __future__ import annotations

import numpy as np
import pytest
from m2v_distill._pca import fit_transform_pca
from m2v_distill._weights import zipf_sif_weights
from sklearn.decomposition import PCA


def _data(rows: int = 500, dims: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.geomspace(10.0, 0.1, dims)  # distinct variances: well-defined axes
    return (rng.normal(size=(rows, dims)) * scales + rng.normal(size=dims)).astype(np.float32)


def _match_signs(result: np.ndarray, reference: np.ndarray) -> np.ndarray:
    signs = np.sign((result * reference).sum(axis=0))
    return result * signs


@pytest.mark.parametrize("dims", [1, 8, 24])
def test_matches_sklearn_pca(dims: int) -> None:
    data = _data()
    result = fit_transform_pca(data, dims)
    reference = PCA(n_components=dims, svd_solver="full").fit(data.astype(np.float64))
    expected = reference.transform(data.astype(np.float64))
    assert result.applied
    assert result.components == dims
    assert result.projected.dtype == np.float32
    np.testing.assert_allclose(_match_signs(result.projected, expected), expected, atol=1e-4)
    assert result.explained_variance_ratio == pytest.approx(
        reference.explained_variance_ratio_.sum(), rel=1e-6
    )


def test_float_keeps_that_fraction_of_variance() -> None:
    data = _data()
    result = fit_transform_pca(data, 0.9)
    reference = PCA(n_components=0.9, svd_solver="full").fit(data.astype(np.float64))
    assert result.components == reference.n_components_
    assert result.explained_variance_ratio >= 0.9


def test_signs_are_deterministic() -> None:
    data = _data()
    first = fit_transform_pca(data, 8).projected
    flipped = fit_transform_pca(data[::-1].copy(), 8).projected[::-1]
    np.testing.assert_allclose(first, flipped, atol=1e-4)


def test_auto_is_a_rotation_and_none_is_identity() -> None:
    data = _data(dims=6)
    rotated = fit_transform_pca(data, "auto")
    assert rotated.projected.shape == data.shape
    centred = data - data.mean(axis=0)
    np.testing.assert_allclose(
        np.linalg.norm(rotated.projected, axis=1), np.linalg.norm(centred, axis=1), rtol=1e-4
    )
    untouched = fit_transform_pca(data, None)
    assert not untouched.applied
    np.testing.assert_array_equal(untouched.projected, data)


def test_too_many_components_are_capped_or_skipped() -> None:
    data = _data(rows=50, dims=6)
    assert fit_transform_pca(data, 100).components == 6  # capped at the dimension
    few_rows = _data(rows=4, dims=6)
    assert not fit_transform_pca(few_rows, 5).applied  # not below the number of rows


def test_sif_weights() -> None:
    weights = zipf_sif_weights(1000, 1e-3)
    assert weights.shape == (1000,)
    assert np.all(np.diff(weights) > 0)  # rarer (higher id) tokens weigh more
    assert 0 < weights[0] < weights[-1] < 1
    probability = (1 / np.arange(2, 1002)) / (1 / np.arange(2, 1002)).sum()
    np.testing.assert_allclose(weights, 1e-3 / (1e-3 + probability))
    np.testing.assert_array_equal(zipf_sif_weights(5, None), np.ones(5))
