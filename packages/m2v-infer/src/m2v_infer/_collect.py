"""Assemble batch results of unknown total length into one array with a low memory peak.

Collecting batches in a list and concatenating them needs twice the output's memory at
the end.  Here batches are copied into large blocks (64 MiB: big enough that the C
allocator maps each one separately and returns it to the OS when freed); the final array
is then filled block by block, each block freed as soon as it is copied, so the peak is
about the output plus one block.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from m2v_infer._engine import FloatMatrix

BLOCK_BYTES = 64 * 2**20


class RowCollector:
    """Append float32 row batches of a fixed width; :meth:`result` returns them stacked."""

    def __init__(self, dim: int, block_bytes: int = BLOCK_BYTES) -> None:
        self.dim = dim
        self._block_rows = max(1, block_bytes // max(1, dim * 4))
        self._blocks: list[FloatMatrix] = []
        self._used = 0  # rows used in the last block
        self.rows = 0

    def append(self, batch: FloatMatrix) -> None:
        """Copy ``batch`` (``[b, dim]``) in."""
        start = 0
        count = int(batch.shape[0])
        while start < count:
            if not self._blocks or self._used == self._block_rows:
                self._blocks.append(np.empty((self._block_rows, self.dim), dtype=np.float32))
                self._used = 0
            take = min(count - start, self._block_rows - self._used)
            self._blocks[-1][self._used : self._used + take] = batch[start : start + take]
            self._used += take
            start += take
        self.rows += count

    def result(self) -> FloatMatrix:
        """Every appended row as one ``[rows, dim]`` array (the collector is emptied)."""
        out = np.empty((self.rows, self.dim), dtype=np.float32)
        blocks = self._blocks
        blocks.reverse()
        filled = 0
        while blocks:
            block = blocks.pop()
            take = min(self._block_rows, self.rows - filled)
            out[filled : filled + take] = block[:take]
            filled += take
            del block
        self.rows = 0
        self._used = 0
        return out


def assemble(chunks: Iterable[FloatMatrix], total: int | None, dim: int) -> FloatMatrix:
    """Stack consecutive row batches into one ``[rows, dim]`` array.

    Each chunk is copied before the next is asked for, so chunks may be views of a buffer
    the producer reuses.

    With ``total`` known (the input had a length) the output is allocated once and filled;
    an iterable that yields more or fewer rows than it said still gives every row.
    Otherwise a :class:`RowCollector` keeps the peak near the output's size.
    """
    if total is None:
        collector = RowCollector(dim)
        for chunk in chunks:
            collector.append(chunk)
        return collector.result()
    out = np.empty((total, dim), dtype=np.float32)
    filled = 0
    extra: list[FloatMatrix] = []
    for chunk in chunks:
        end = filled + chunk.shape[0]
        if end <= total:
            out[filled:end] = chunk
        else:  # the iterable yielded more than len() said (copied: chunks may be views)
            extra.append(np.array(chunk))
        filled = end
    if filled < total:
        return out[:filled]
    return np.concatenate([out, *extra]) if extra else out
