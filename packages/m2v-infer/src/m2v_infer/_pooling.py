"""Mean pooling of token rows (rules I5-I7) on flat id arrays, vectorised with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.intp]


def flatten_ids(ids: Sequence[Sequence[int]], unknown_id: int | None) -> tuple[IdArray, IdArray]:
    """Concatenate per-text id lists; drop ``unknown_id`` (I4).

    Returns the kept ids, flat and in text order, and how many each text kept.
    """
    count = len(ids)
    lengths = np.fromiter(map(len, ids), dtype=np.intp, count=count)
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.intp, count=int(lengths.sum()))
    if unknown_id is not None and flat.size:
        keep = flat != unknown_id
        if not keep.all():
            owner = np.repeat(np.arange(count, dtype=np.intp), lengths)
            lengths = np.bincount(owner[keep], minlength=count).astype(np.intp)
            flat = flat[keep]
    return flat, lengths


def mean_pool(rows: npt.NDArray[Any], flat: IdArray, lengths: IdArray) -> FloatMatrix:
    """Mean of ``rows[id]`` over each text's ids (I5); texts without ids get zeros (I6).

    ``flat`` holds every text's ids back to back, ``lengths`` how many belong to each
    text.  Texts of equal length are pooled together as one ``[texts, length, dim]``
    gather summed over its middle axis, so the work is a handful of large numpy calls per
    batch rather than one small call per text.
    """
    count = int(lengths.shape[0])
    out = np.zeros((count, rows.shape[1]), dtype=np.float32)
    if flat.size == 0:
        return out
    starts = np.cumsum(lengths) - lengths
    order = np.argsort(lengths, kind="stable")
    ordered = lengths[order]
    cuts = np.flatnonzero(np.diff(ordered)) + 1
    for begin, end in zip(
        np.concatenate(([0], cuts)).tolist(), np.concatenate((cuts, [count])).tolist(), strict=True
    ):
        length = int(ordered[begin])
        if length == 0:
            continue
        members = order[begin:end]
        if length == 1:
            out[members] = rows[flat[starts[members]]]
            continue
        positions = starts[members][:, None] + np.arange(length, dtype=np.intp)
        summed = rows[flat[positions]].sum(axis=1, dtype=np.float32)
        summed /= np.float32(length)
        out[members] = summed
    return out


def normalize_rows(vectors: FloatMatrix) -> FloatMatrix:
    """Rule I7, in place: ``v / (||v|| + 1e-32)`` per row, in float32; zero rows stay zero."""
    norms = np.sqrt(np.add.reduce(vectors * vectors, axis=1, keepdims=True))
    norms += np.float32(1e-32)
    vectors /= norms
    return vectors


def finish(vectors: FloatMatrix, *, dimensions: int | None, normalize: bool) -> FloatMatrix:
    """Keep the first ``dimensions`` columns (if given), then normalize (if asked)."""
    if dimensions is not None and dimensions < vectors.shape[1]:
        vectors = np.ascontiguousarray(vectors[:, :dimensions])
    if normalize:
        vectors = normalize_rows(vectors)
    return vectors
