"""The trainable network: a static embedding bag with per-token weights, plus a dense head."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from m2v_train._batches import TokenBatch


class StaticEncoder(nn.Module):
    """Mean of ``weight[token] * E[mapping[token]]`` over a text's tokens (rule I5), optionally
    normalized; the embedding rows and the per-token weights are trainable.

    With ``sparse`` (the default) the table's gradient holds only the rows a batch used, once
    each: a batch of short texts touches a few thousand of a vocabulary's rows, so the
    backward pass and the optimizer step (lazy Adam, :class:`m2v_train._optim.Adam`) cost
    what the batch reads instead of the whole table.
    """

    def __init__(
        self,
        embeddings: np.ndarray[Any, Any],
        *,
        weights: np.ndarray[Any, Any] | None = None,
        mapping: np.ndarray[Any, Any] | None = None,
        normalize: bool = True,
        train_embeddings: bool = True,
        train_weights: bool = True,
        sparse: bool = True,
    ) -> None:
        super().__init__()
        table = torch.as_tensor(np.nan_to_num(np.asarray(embeddings, dtype=np.float32)))
        self.embeddings = nn.Parameter(table.clone(), requires_grad=train_embeddings)
        vocab = len(mapping) if mapping is not None else table.shape[0]
        initial = np.ones(vocab, np.float32) if weights is None else np.asarray(weights, np.float32)
        self.weights = nn.Parameter(torch.as_tensor(initial).clone(), requires_grad=train_weights)
        self.mapping: torch.Tensor | None
        if mapping is None:
            self.register_buffer("mapping", None)
        else:
            self.register_buffer("mapping", torch.as_tensor(np.asarray(mapping, dtype=np.int64)))
        self.normalize = normalize
        self.sparse = bool(sparse) and train_embeddings

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.embeddings.shape[1])

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        """Pooled vectors ``[batch, dim]``; a text without tokens gives a zero vector."""
        rows = batch.ids if self.mapping is None else self.mapping.index_select(0, batch.ids)
        table: torch.Tensor = self.embeddings
        if self.sparse and torch.is_grad_enabled():
            # gather each used row once: the table's gradient then holds one row per
            # distinct token instead of one per token occurrence
            used, rows = torch.unique(rows, return_inverse=True)
            table = nn.functional.embedding(used, self.embeddings, sparse=True)
        summed = nn.functional.embedding_bag(
            rows,
            table,
            batch.offsets,
            mode="sum",
            per_sample_weights=self.weights.index_select(0, batch.ids),
        )
        pooled = summed / batch.lengths.clamp(min=1).to(summed.dtype)[:, None]
        if self.normalize:
            return nn.functional.normalize(pooled, dim=1, eps=1e-12)
        return pooled

    def baked(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """The table with weights folded into the rows (when there is no mapping) and the
        remaining weights (``None`` when folded): what a model folder stores."""
        with torch.no_grad():
            table = self.embeddings.detach().cpu().numpy().astype(np.float32)
            weights = self.weights.detach().cpu().numpy().astype(np.float32)
        if self.mapping is None:
            return table * weights[:, None], None
        return table, weights


def dense_head(in_dim: int, hidden_dim: int, n_layers: int, out_dim: int) -> nn.Sequential:
    """``n_layers`` hidden ReLU layers of ``hidden_dim`` then a linear output layer."""
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(n_layers):
        linear = nn.Linear(width, hidden_dim)
        nn.init.kaiming_uniform_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        modules += [linear, nn.ReLU()]
        width = hidden_dim
    output = nn.Linear(width, out_dim)
    nn.init.xavier_uniform_(output.weight)
    nn.init.zeros_(output.bias)
    modules.append(output)
    return nn.Sequential(*modules)


class ClassifierNet(nn.Module):
    """Encoder + head: texts (as token batches) to logits."""

    def __init__(self, encoder: StaticEncoder, head: nn.Sequential) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        """Logits ``[batch, classes]``."""
        logits: torch.Tensor = self.head(self.encoder(batch))
        return logits

    def layers(self) -> list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
        """(weight, bias) of each dense layer, as float32 numpy arrays."""
        return [
            (
                module.weight.detach().cpu().numpy().astype(np.float32),
                module.bias.detach().cpu().numpy().astype(np.float32),
            )
            for module in self.head
            if isinstance(module, nn.Linear)
        ]
