"""SIF token weights from Zipf-estimated frequencies.

Without corpus counts, a token's probability is estimated from its rank ``r`` (its id,
0-based) with Zipf's law, ``p(r) proportional to 1 / (r + 2)``, and its weight is the smooth
inverse frequency ``a / (a + p)`` of Arora et al. (2017), with ``a`` the SIF coefficient.
Frequent tokens (low ids) are down-weighted, rare ones keep a weight close to 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def zipf_sif_weights(
    count: int, coefficient: float | None
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """One weight per token id; all ones when ``coefficient`` is ``None``."""
    if coefficient is None:
        return np.ones(count, dtype=np.float64)
    inverse_rank = 1.0 / np.arange(2, count + 2, dtype=np.float64)
    probability = inverse_rank / inverse_rank.sum()
    weights: np.ndarray[Any, np.dtype[np.float64]] = coefficient / (coefficient + probability)
    return weights
