"""The inference rules of spec/format.md section 6, each implemented exactly once.

The reference encoder (``reference_encode``), m2v-infer's fast path and its fallback to
the ``tokenizers`` library all call these functions; only the way texts become token ids
differs between them.  Ids travel as *segments*: every text's ids back to back in one
integer array, with a second array saying how many belong to each text.

Rule I1 (the median token length) is ``median_token_length`` in ``_tokenizer``; rule K3
(which id is unknown) is ``unknown_token_id`` there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from m2v_format._model import StaticModelData

FloatMatrix = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

NORM_EPSILON = np.float32(1e-32)
"""Rule I7: added to the norm before dividing."""

_BLOCK = 1024  # texts per pooling block: 1024 x dim float32 stays in L2 for dim <= 512
_TAIL_IDS = 1 << 15  # rows gathered at once for one long text (32,768 x 256 float32: 32 MiB)


def cut_texts(texts: Sequence[str], max_length: int | None, median_length: int) -> Sequence[str]:
    """Rule I2: keep the first ``max_length * median_length`` code points of each text.

    ``max_length=None`` keeps texts whole.  The input is returned as is when no text is
    longer than the limit.
    """
    if max_length is None:
        return texts
    limit = max_length * median_length
    if max(map(len, texts), default=0) > limit:
        return [text[:limit] for text in texts]
    return texts


def kept_ids(
    ids: IdArray, counts: IdArray, *, max_length: int | None, unknown_id: int | None
) -> tuple[IdArray, IdArray]:
    """Rules I3 then I4 on segments: each text's first ``max_length`` ids, minus unknown ids.

    ``ids`` holds every text's token ids back to back (special tokens never added) and
    ``counts[t]`` how many belong to text t.  The cut counts unknown ids (I3 before I4, as
    model2vec does).  Returns the kept ids and how many each text kept; the inputs
    themselves when nothing is dropped.
    """
    total = len(ids)
    cut = max_length is not None and total > 0 and int(counts.max()) > max_length
    if not cut and (unknown_id is None or total == 0):
        return ids, counts
    keep = np.ones(total, dtype=bool) if unknown_id is None else ids != unknown_id
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    if cut:
        starts = np.cumsum(counts) - counts
        keep &= (np.arange(total, dtype=np.int64) - starts[owner]) < max_length
    if keep.all():
        return ids, counts
    kept_counts = np.bincount(owner[keep], minlength=len(counts)).astype(np.int64)
    return ids[keep], kept_counts


def id_segments(id_lists: Sequence[Sequence[int]]) -> tuple[IdArray, IdArray]:
    """Per-text id lists as segments: ``(ids back to back, count per text)``."""
    counts = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    ids = np.fromiter(
        (token for row in id_lists for token in row), dtype=np.int64, count=int(counts.sum())
    )
    return ids, counts


def id_lists(ids: IdArray, counts: IdArray) -> list[list[int]]:
    """Segments back to per-text id lists."""
    flat = ids.tolist()
    result: list[list[int]] = []
    start = 0
    for count in counts.tolist():
        result.append(flat[start : start + count])
        start += count
    return result


def effective_rows(data: StaticModelData) -> FloatMatrix:
    """Rule I5's vector per token id as one float32 matrix: ``E'[mapping[id]] * weights[id]``.

    A float32 model without mapping or weights is used as stored (no copy: the loaded memory
    map).  Otherwise the table is dequantized (int8 times its scale), expanded through
    ``mapping`` and multiplied by ``weights``, once, in float32.
    """
    rows = data.dequantized_embeddings()
    if data.mapping is not None:
        rows = rows[np.asarray(data.mapping, dtype=np.intp)]
    if data.weights is not None:
        rows = rows * np.asarray(data.weights, dtype=np.float32)[:, None]
    if rows.dtype != np.float32:
        rows = rows.astype(np.float32)
    return rows


def mean_pool(
    rows: npt.NDArray[Any],
    ids: IdArray,
    counts: IdArray,
    *,
    out: FloatMatrix | None = None,
    where: IdArray | None = None,
) -> FloatMatrix:
    """Rules I5-I6: the mean of ``rows[id]`` over each segment; a segment without ids is zero.

    Segment t (``counts[t]`` consecutive entries of ``ids``) is written to ``out[where[t]]``
    (``where`` defaults to ``0, 1, ...``; ``out`` to a new ``[len(counts), dim]`` float32
    array).  Each text's rows are added in float32 one after another starting from the
    first, the order of the plain loop of the spec, so the result is bitwise reproducible.

    Texts are sorted by length and summed position by position: step j adds the j-th row
    of every text that has more than j ids (a suffix of the sorted block) to its
    accumulator; when only a few long texts remain, their remaining rows are added per
    text.  Blocks of 1024 texts keep the accumulator in cache.
    """
    n = len(counts)
    if out is None:
        out = np.empty((n, rows.shape[1]), dtype=np.float32)
    if where is None:
        where = np.arange(n, dtype=np.int64)
    if n == 0:
        return out
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
        acc = rows[ids[block_starts]].astype(np.float32, copy=False)  # position 0
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
                end = begin + int(block_counts[row])
                # in pieces of _TAIL_IDS rows: a text of millions of ids never gathers them
                # all at once, and the additions happen in the same order
                for piece in range(begin + position, end, _TAIL_IDS):
                    tail = rows[ids[piece : min(piece + _TAIL_IDS, end)]]
                    acc[row] = np.add.reduce(np.concatenate((acc[row : row + 1], tail)), axis=0)
        acc /= block_counts[:, None].astype(np.float32)
        out[where[order[lo:hi]]] = acc
    return out


def normalize_rows(vectors: FloatMatrix) -> FloatMatrix:
    """Rule I7, in place: ``v / (||v|| + 1e-32)`` per row, in float32; zero rows stay zero."""
    norms = np.sqrt(np.add.reduce(vectors * vectors, axis=1, keepdims=True))
    norms += NORM_EPSILON
    vectors /= norms
    return vectors
