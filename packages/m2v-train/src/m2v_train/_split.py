"""Seeded train/validation splits, stratified by class for single-label data.

A data set too small to split (one text, or single-label data whose every class has one
text) gets an empty validation side: training then runs without validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from m2v_train._errors import InvalidParameterError

MAX_VALIDATION = 10_000


def validation_count(n: int, size: float | int) -> int:
    """How many of ``n`` rows go to validation: a fraction (capped) or a count; at least
    one and at most ``n - 1`` (0 when ``n < 2``: nothing to split)."""
    if isinstance(size, bool) or not isinstance(size, int | float):
        raise InvalidParameterError(f"validation_size must be a float or an int, got {size!r}")
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise InvalidParameterError(f"validation_size must be in (0, 1), got {size}")
        count = min(round(n * size), MAX_VALIDATION)
    else:
        count = size
    if n < 2:
        return 0
    return min(max(1, count), n - 1)


def split(
    n: int, size: float | int, *, seed: int, strata: np.ndarray[Any, Any] | None = None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Sorted (train, validation) row indices.

    With ``strata`` (one class index per row) each class contributes in proportion (at
    least one row to each side when it has two or more), so rare classes are validated too;
    a class with a single row goes to training, so validation is empty when every class
    has one row.
    """
    count = validation_count(n, size)
    rng = np.random.default_rng(seed)
    if count == 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    if strata is None:
        order = rng.permutation(n)
        return np.sort(order[count:]), np.sort(order[:count])
    train: list[np.ndarray[Any, Any]] = []
    valid: list[np.ndarray[Any, Any]] = []
    for value in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == value))
        share = round(len(members) * count / n)
        share = min(max(share, 1), len(members) - 1) if len(members) >= 2 else 0
        valid.append(members[:share])
        train.append(members[share:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))
