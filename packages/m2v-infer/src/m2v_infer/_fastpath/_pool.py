"""Sum embedding rows per text, vectorized, in the reference's summation order.

``np.add.reduceat`` along rows is slow and a dense ``E[ids]`` for a whole batch is large,
so texts are sorted by length and summed position by position: step j adds the j-th
row of every text that has more than j ids (a suffix of the sorted block) to its
accumulator. Each text's rows are therefore added one after another starting from the
first, exactly the order of the plain reference loop (bitwise-identical float32 sums).
When only a few long texts remain, their remaining rows are added per text.

Blocks of ``_BLOCK`` texts keep the accumulator in cache; the mean and the L2
normalization (rules I5-I7) are applied to a block while it is hot, then the block is
written to its rows of the output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_BLOCK = 1024  # texts per accumulator block: 1024 x dim float32 stays in L2 for dim <= 512
_NORM_EPSILON = np.float32(1e-32)


def pool_segments(
    rows: np.ndarray[Any, np.dtype[np.float32]],
    ids: np.ndarray[Any, np.dtype[np.int64]],
    counts: np.ndarray[Any, np.dtype[np.int64]],
    out: np.ndarray[Any, np.dtype[np.float32]],
    where: np.ndarray[Any, np.dtype[np.int64]],
    *,
    mean: bool = False,
    normalize: bool = False,
) -> None:
    """Write segment t's pooled rows to ``out[where[t]]``.

    Segments are consecutive: ``counts[t]`` ids of ``ids`` belong to segment t, in order.
    The pooled vector is ``rows[ids[s]] + rows[ids[s + 1]] + ...`` summed left to right in
    float32; with ``mean`` divided by the count; with ``normalize`` then divided by
    ``norm + 1e-32``. A segment without ids gets zeros.
    """
    n = len(counts)
    if n == 0:
        return
    starts = np.cumsum(counts) - counts
    order = np.argsort(counts, kind="stable")
    sorted_counts = counts[order]
    sorted_starts = starts[order]
    first = int(np.searchsorted(sorted_counts, 0, side="right"))
    if first:
        out[where[order[:first]]] = 0.0
    for lo in range(first, n, _BLOCK):
        hi = min(lo + _BLOCK, n)
        block_counts = sorted_counts[lo:hi]
        block_starts = sorted_starts[lo:hi]
        acc = rows[ids[block_starts]]  # position 0: every text here has >= 1 id
        longest = int(block_counts[-1])
        size = hi - lo
        position = 1
        active_from = 0
        while position < longest:
            active_from = int(np.searchsorted(block_counts, position, side="right"))
            if 2 * (size - active_from) <= longest - position:
                break  # a few long texts left: finish them one by one
            acc[active_from:] += rows[ids[block_starts[active_from:] + position]]
            position += 1
        if position < longest:
            for row in range(active_from, size):
                begin = int(block_starts[row])
                tail = rows[ids[begin + position : begin + int(block_counts[row])]]
                acc[row] = np.add.reduce(np.concatenate((acc[row : row + 1], tail)), axis=0)
        if mean:
            acc /= block_counts[:, None].astype(np.float32)
        if normalize:
            norms = np.sqrt(np.einsum("ij,ij->i", acc, acc))
            acc /= (norms + _NORM_EPSILON)[:, None]
        out[where[order[lo:hi]]] = acc
