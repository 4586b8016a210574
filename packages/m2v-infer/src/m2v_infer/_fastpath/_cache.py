"""A bounded memo: normalized chunk (bytes between ASCII whitespace) -> token ids.

Entries live in flat numpy arrays so that a whole batch of chunk indices expands into
token ids with a few vectorized operations:

* ``all_start[i]``, ``all_len[i]``: chunk i's ids (unknown ids included) in ``all_ids``;
* ``kept_start[i]``, ``kept_len[i]``: the same ids without the unknown id, in ``kept_ids``.

Entry 0 is the text separator (``SEPARATOR``, no ids). The policy is clear-when-full:
``trim()`` (called between batches) empties the memo once it holds more than
``capacity`` chunks or ``8 * capacity`` ids, so memory stays bounded by ``capacity`` plus
one batch's new chunks. Clearing never changes results, only speed.

Measured footprint (potion-base-8M, English text): about 300 bytes per entry all told
(the bytes key and its dict slot ~85 B, the piece memo ~95 B, the id arrays ~100-190 B
with their doubling slack), so the default 100,000 entries stay under ~35 MB.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from m2v_format import kept_ids

SEPARATOR = b"\xff"
"""Marks the end of a text in a joined batch; 0xFF never occurs in UTF-8."""

_IDS_PER_ENTRY_BOUND = 8


def _grown(array: np.ndarray[Any, Any], needed: int) -> np.ndarray[Any, Any]:
    if needed <= len(array):
        return array
    bigger = np.empty(max(needed, 2 * len(array)), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class ChunkCache:
    """Chunk -> ids memo backed by flat arrays (see the module docstring)."""

    def __init__(self, capacity: int, *, unknown_id: int | None) -> None:
        if capacity < 1:
            raise ValueError(f"cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._unknown = unknown_id
        self.clears = 0
        self._reset()

    def _reset(self) -> None:
        self.index: dict[bytes, int] = {SEPARATOR: 0}
        # Pre-tokenized piece -> model ids, shared by chunks ("word", "word," and "(word").
        self.pieces: dict[bytes, tuple[int, ...]] = {}
        size = 1024
        self.all_start = np.zeros(size, dtype=np.int64)
        self.all_len = np.zeros(size, dtype=np.int64)
        self.kept_start = np.zeros(size, dtype=np.int64)
        self.kept_len = np.zeros(size, dtype=np.int64)
        self.all_ids = np.zeros(4 * size, dtype=np.int64)
        self.kept_ids = np.zeros(4 * size, dtype=np.int64)
        self.entries = 1
        self.all_used = 0
        self.kept_used = 0

    def __len__(self) -> int:
        return self.entries - 1

    def trim(self) -> None:
        """Empty the memo when it is over its bound (call between batches only)."""
        if (
            self.entries > self.capacity
            or self.all_used > _IDS_PER_ENTRY_BOUND * self.capacity
            or len(self.pieces) > self.capacity
        ):
            self._reset()
            self.clears += 1

    def add(self, chunks: list[bytes], lens: list[int], flat: list[int]) -> None:
        """Append new, distinct chunks; chunk k's ids are the next ``lens[k]`` of ``flat``."""
        first = self.entries
        last = first + len(chunks)
        for name in ("all_start", "all_len", "kept_start", "kept_len"):
            setattr(self, name, _grown(getattr(self, name), last))
        all_ids = np.array(flat, dtype=np.int64)
        all_len = np.array(lens, dtype=np.int64)
        self.all_ids = _grown(self.all_ids, self.all_used + len(all_ids))
        self.all_len[first:last] = all_len
        self.all_start[first:last] = self.all_used + np.cumsum(all_len) - all_len
        self.all_ids[self.all_used : self.all_used + len(all_ids)] = all_ids
        self.all_used += len(all_ids)

        kept, kept_len = kept_ids(all_ids, all_len, max_length=None, unknown_id=self._unknown)
        self.kept_ids = _grown(self.kept_ids, self.kept_used + len(kept))
        self.kept_len[first:last] = kept_len
        self.kept_start[first:last] = self.kept_used + np.cumsum(kept_len) - kept_len
        self.kept_ids[self.kept_used : self.kept_used + len(kept)] = kept
        self.kept_used += len(kept)

        self.index.update(zip(chunks, range(first, last), strict=True))
        self.entries = last
