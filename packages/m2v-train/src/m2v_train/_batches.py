"""Token-id batches for torch: flat ids + offsets, the input of ``embedding_bag``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch


@dataclass(frozen=True)
class TokenBatch:
    """A batch of texts as one flat id tensor, the start offset and token count of each text."""

    ids: torch.Tensor
    offsets: torch.Tensor
    lengths: torch.Tensor

    def to(self, device: torch.device) -> TokenBatch:
        """The batch on ``device``."""
        return TokenBatch(self.ids.to(device), self.offsets.to(device), self.lengths.to(device))

    def __len__(self) -> int:
        return int(self.lengths.shape[0])


def token_arrays(token_ids: Sequence[Sequence[int]]) -> Sequence[Sequence[int]]:
    """Each text's ids as an int64 array (arrays are kept): converted once, so that every
    epoch's batches are joined by :func:`make_batch` without a Python loop over tokens."""
    arrays: list[Any] = []
    for ids in token_ids:
        held: Any = ids
        arrays.append(
            held
            if isinstance(held, np.ndarray) and held.dtype == np.int64
            else np.asarray(ids, np.int64)
        )
    return cast("Sequence[Sequence[int]]", arrays)


def make_batch(token_ids: Sequence[Sequence[int]]) -> TokenBatch:
    """Pack lists (or int64 arrays, faster) of token ids into a :class:`TokenBatch`."""
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(token_ids))
    offsets = np.zeros(len(token_ids), dtype=np.int64)
    if len(lengths) > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    if token_ids and all(isinstance(ids, np.ndarray) for ids in token_ids):
        flat = np.concatenate(token_ids).astype(np.int64, copy=False)
    else:
        flat = np.fromiter(
            (i for ids in token_ids for i in ids), dtype=np.int64, count=int(lengths.sum())
        )
    return TokenBatch(torch.from_numpy(flat), torch.from_numpy(offsets), torch.from_numpy(lengths))


Batcher = Callable[[Sequence[Sequence[int]]], TokenBatch]
"""Turns the items of a batch's rows into the network's input (default :func:`make_batch`;
the pair trainer packs both texts of each pair, see ``m2v_train._pairs``)."""


def iterate(
    token_ids: Sequence[Sequence[int]],
    batch_size: int,
    *,
    order: np.ndarray | None = None,
    batcher: Batcher = make_batch,
) -> Iterator[tuple[np.ndarray, TokenBatch]]:
    """Yield ``(row indices, batch)`` over ``token_ids`` in ``order`` (default: as given);
    ``batcher`` builds each batch from its rows' items."""
    rows = np.arange(len(token_ids)) if order is None else order
    for start in range(0, len(rows), batch_size):
        chosen = rows[start : start + batch_size]
        yield chosen, batcher([token_ids[i] for i in chosen])


def drop_tokens(batch: TokenBatch, rate: float, generator: torch.Generator) -> TokenBatch:
    """Token dropout: each token is dropped with probability ``rate``; a text that had
    tokens keeps at least one (its first when every token was drawn for dropping)."""
    lengths = batch.lengths
    keep = torch.rand(len(batch.ids), generator=generator) >= rate
    owner = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    kept = torch.bincount(owner[keep], minlength=len(lengths))
    rescue = (kept == 0) & (lengths > 0)
    keep[batch.offsets[rescue]] = True
    kept = kept + rescue.to(kept.dtype)
    offsets = torch.zeros_like(kept)
    if len(kept) > 1:
        offsets[1:] = torch.cumsum(kept[:-1], dim=0)
    return TokenBatch(batch.ids[keep], offsets, kept)
