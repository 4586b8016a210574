"""What the regression and pair-similarity trainers share (value heads, spec/classifier.md R1-R7).

Both fine-tune a static model's embedding table and token weights with a dense head whose
output is used as is (no classes): :class:`m2v_train.StaticModelForRegression` regresses
vectors of numbers, :class:`m2v_train.StaticModelForPairSimilarity` embeds paired texts close
together.  This module holds what they add to :class:`m2v_train._trainer.StaticTrainer`
(which holds the model loading and the export, shared with the classifier): ``out_dim``, the
loop options of ``fit``, the head construction, the head's outputs and the value head.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import torch
from m2v_format import ClassifierHead
from m2v_infer import StaticModel
from torch import nn

from m2v_train import _compat
from m2v_train._classifier import auto_batch_size
from m2v_train._device import resolve_device
from m2v_train._errors import InvalidParameterError
from m2v_train._loop import LoopOptions
from m2v_train._net import dense_head
from m2v_train._trainer import FitPlan, StaticTrainer


class ValueTrainer(StaticTrainer):
    """Base of the value-head trainers: a static encoder, an optional dense head, export."""

    task: ClassVar[str] = ""
    """The head task written to classifier.json (R1)."""

    _not_fitted = (
        "call fit() first (before fit there is no head; base_model.encode(X) gives the embeddings)"
    )

    def __init__(
        self,
        model: StaticModel,
        *,
        n_layers: int = 1,
        hidden_dim: int = 512,
        out_dim: int | None = None,
        normalize: bool = True,
        train_embeddings: bool = True,
        train_weights: bool = True,
    ) -> None:
        """Wrap ``model``; the head is built (and re-initialised) by ``fit``; ``out_dim``
        ``None``: the embedding dimension."""
        super().__init__(
            model,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            normalize=normalize,
            train_embeddings=train_embeddings,
            train_weights=train_weights,
        )
        if out_dim is not None and (
            isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1
        ):
            raise InvalidParameterError(f"out_dim must be None or an int >= 1, got {out_dim!r}")
        self.out_dim = out_dim

    @classmethod
    def _new(cls, model: StaticModel, out_dim: int | None, **options: Any) -> Self:
        return cls(model, out_dim=out_dim, **options)

    # ------------------------------------------------------------------ building

    def _head(self, in_dim: int, out_dim: int) -> nn.Sequential:
        """model2vec's head: none when ``n_layers`` is 0 and the width does not change, one
        linear layer for ``n_layers`` 0, else ``n_layers`` hidden ReLU layers and an output."""
        if self.n_layers == 0 and out_dim == in_dim:
            return nn.Sequential()
        return dense_head(in_dim, self.hidden_dim, self.n_layers, out_dim)

    def _loop_options(
        self,
        *,
        learning_rate: float,
        weight_decay: float,
        batch_size: int | None,
        n_train: int,
        n_val: int,
        plan: FitPlan,
        patience: int | None,
        lr_schedule: str,
        token_dropout: float,
        device: str | None,
        show_progress: bool,
    ) -> LoopOptions:
        cap = plan.max_epochs
        if cap is None:
            cap = _compat.UNBOUNDED_EPOCHS if n_val else _compat.DEFAULT_MAX_EPOCHS
        return LoopOptions(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size if batch_size is not None else auto_batch_size(n_train),
            max_epochs=cap,
            min_epochs=plan.min_epochs,
            patience=patience,
            lr_schedule=lr_schedule,
            token_dropout=token_dropout,
            device=resolve_device(device),
            show_progress=show_progress,
        )

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def _outputs(
        self, texts_in: str | Sequence[str], batch_size: int, show_progress_bar: bool
    ) -> np.ndarray[Any, Any]:
        """The head's outputs for single texts, float32 ``[n, out]``."""
        net = self._fitted_net()
        batches = self._token_batches(texts_in, batch_size, show_progress_bar)
        net.eval()
        parts = [net.head(net.encoder(batch)).numpy() for _, batch in batches]
        if not parts:
            return np.zeros((0, self.output_dim), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32)

    @property
    def output_dim(self) -> int:
        """Width of the head's output (after ``fit``; before it, what ``fit`` will build when
        known)."""
        if self._net is not None:
            layers = self._net.layers()
            return int(layers[-1][0].shape[0]) if layers else self.base_model.dim
        return self.out_dim if self.out_dim is not None else self.base_model.dim

    # ------------------------------------------------------------------ export

    def _output_names(self) -> tuple[str, ...] | None:
        return None

    def _export_head(self) -> ClassifierHead:
        layers = self._fitted_net().layers()
        return ClassifierHead(
            task=self.task,  # type: ignore[arg-type]
            classes=(),
            weights=tuple(np.asarray(weight, dtype=np.float32) for weight, _ in layers),
            biases=tuple(np.asarray(bias, dtype=np.float32) for _, bias in layers),
            version="1.1",
            extra={"trained_with": "m2v-train"},
            outputs=self._output_names(),
        )

    def _fitted_state(self) -> str:
        return f"{self.output_dim} outputs"
