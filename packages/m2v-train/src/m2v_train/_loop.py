"""The supervised training loop: seeded shuffling, LR schedule, validation, early stopping.

Without validation texts (a data set too small to split) every epoch runs, the LR schedule
does not react to a validation loss, and the last epoch's weights are kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from m2v_train._batches import Batcher, drop_tokens, iterate, make_batch, token_arrays
from m2v_train._errors import InvalidParameterError
from m2v_train._optim import Adam, PerStep, Plateau, trainable, warmup_cosine

LR_SCHEDULES = ("plateau", "cosine", "constant")
"""``plateau``: halve the LR when the validation loss stops falling for 2 epochs;
``cosine``: linear warm-up over 5% of the steps then cosine decay to 0 at ``max_epochs``;
``constant``: no schedule."""

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ScoreFn = Callable[[torch.Tensor, torch.Tensor], float]


@dataclass(frozen=True)
class LoopOptions:
    """Hyper-parameters of :func:`train_loop` (checked by :meth:`check`)."""

    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 32
    max_epochs: int = 50
    min_epochs: int = 1
    patience: int | None = 5
    lr_schedule: str = "plateau"
    token_dropout: float = 0.0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    show_progress: bool = True

    def check(self) -> None:
        """Raise :class:`InvalidParameterError` for an out-of-range option."""
        if not (isinstance(self.learning_rate, float | int) and self.learning_rate > 0):
            raise InvalidParameterError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.weight_decay >= 0:
            raise InvalidParameterError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        for name in ("batch_size", "max_epochs", "min_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(f"{name} must be an int >= 1, got {value!r}")
        if self.patience is not None and (
            isinstance(self.patience, bool)
            or not isinstance(self.patience, int)
            or self.patience < 1
        ):
            raise InvalidParameterError(
                f"patience must be None or an int >= 1, got {self.patience!r}"
            )
        if not (isinstance(self.token_dropout, float | int) and 0.0 <= self.token_dropout < 1.0):
            raise InvalidParameterError(
                f"token_dropout must be in [0, 1), got {self.token_dropout!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise InvalidParameterError(
                f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}"
            )


@dataclass
class EpochRecord:
    """What one epoch did: mean training loss (per text), validation loss and score (NaN
    without validation texts), learning rate, and whether its weights are the ones kept."""

    epoch: int
    train_loss: float
    val_loss: float
    val_score: float
    learning_rate: float
    best: bool


def _targets(values: np.ndarray[Any, Any], rows: np.ndarray[Any, Any]) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values[rows]))


@torch.no_grad()
def evaluate_split(
    net: nn.Module,
    token_ids: Sequence[Sequence[int]],
    targets: np.ndarray[Any, Any],
    loss_fn: LossFn,
    score_fn: ScoreFn,
    options: LoopOptions,
    *,
    batcher: Batcher = make_batch,
) -> tuple[float, float]:
    """Mean loss and score of ``net`` on a whole split (batches built by ``batcher``)."""
    net.eval()
    outputs = []
    for _, batch in iterate(token_ids, max(options.batch_size, 512), batcher=batcher):
        outputs.append(net(batch.to(options.device)).float().cpu())
    logits = torch.cat(outputs)
    truth = torch.from_numpy(targets)
    net.train()
    return float(loss_fn(logits, truth)), float(score_fn(logits, truth))


class Optimization:
    """The optimizer of a network and its LR schedule, stepped as one.

    One :class:`m2v_train._optim.Adam` over every trainable parameter: AdamW on the dense
    ones (head, token weights, a dense table); on a sparse table
    (``StaticEncoder(sparse=True)``) only the rows a batch touched are updated,
    with their own Adam moments ("lazy" Adam), and ``weight_decay`` reaches those rows the
    way AdamW applies it (decoupled, times the learning rate).
    """

    def __init__(self, net: nn.Module, options: LoopOptions, steps_per_epoch: int) -> None:
        self.optimizer = Adam(
            trainable(net.parameters()),
            lr=options.learning_rate,
            weight_decay=options.weight_decay,
        )
        self.plateau: Plateau | None = None
        self.per_step: PerStep | None = None
        if options.lr_schedule == "plateau":
            self.plateau = Plateau(self.optimizer)
        elif options.lr_schedule == "cosine":
            total = steps_per_epoch * options.max_epochs
            self.per_step = PerStep(self.optimizer, warmup_cosine(total))

    @property
    def learning_rate(self) -> float:
        """The current learning rate."""
        return self.optimizer.lr

    def zero_grad(self) -> None:
        """Clear the gradients before a step."""
        self.optimizer.zero_grad()

    def step(self) -> None:
        """One optimizer step (and the schedule's step when it steps per batch)."""
        self.optimizer.step()
        if self.per_step is not None:
            self.per_step.after_step()

    def end_epoch(self, val_loss: float) -> None:
        """The plateau schedule's step on the validation loss."""
        if self.plateau is not None:
            self.plateau.end_epoch(val_loss)


def train_loop(
    net: nn.Module,
    train_ids: Sequence[Sequence[int]],
    train_targets: np.ndarray[Any, Any],
    val_ids: Sequence[Sequence[int]],
    val_targets: np.ndarray[Any, Any],
    *,
    loss_fn: LossFn,
    score_fn: ScoreFn,
    options: LoopOptions,
    generator: torch.Generator,
    batcher: Batcher = make_batch,
) -> list[EpochRecord]:
    """Train ``net`` in place; at the end it holds the weights of the best validation epoch.

    "Best" is the highest validation score, ties broken by the lower validation loss.
    Training stops after ``patience`` epochs without a higher score (not before
    ``min_epochs``) or at ``max_epochs``.  With no validation texts every epoch runs and
    the last one is kept.
    """
    options.check()
    train_ids, val_ids = token_arrays(train_ids), token_arrays(val_ids)
    net.to(options.device)
    net.train()
    steps_per_epoch = math.ceil(len(train_ids) / options.batch_size)
    optimization = Optimization(net, options, steps_per_epoch)
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    best: tuple[float, float] = (-math.inf, -math.inf)
    history: list[EpochRecord] = []
    stale = 0
    validated = len(val_ids) > 0
    for epoch in range(1, options.max_epochs + 1):
        order = torch.randperm(len(train_ids), generator=generator).numpy()
        total_loss = 0.0
        seen = 0
        with tqdm(
            total=steps_per_epoch,
            desc=f"Epoch {epoch}",
            unit="steps",
            disable=not options.show_progress,
        ) as bar:
            for rows, batch in iterate(train_ids, options.batch_size, order=order, batcher=batcher):
                if options.token_dropout > 0:
                    batch = drop_tokens(batch, options.token_dropout, generator)
                optimization.zero_grad()
                logits = net(batch.to(options.device))
                loss = loss_fn(logits, _targets(train_targets, rows).to(options.device))
                loss.backward()  # type: ignore[no-untyped-call]
                optimization.step()
                total_loss += float(loss.detach()) * len(rows)
                seen += len(rows)
                bar.set_postfix_str(f"loss={total_loss / seen:.4f}", refresh=False)
                bar.update(1)
            val_loss = val_score = math.nan
            shown = f"loss={total_loss / len(train_ids):.4f}"
            if validated:
                val_loss, val_score = evaluate_split(
                    net, val_ids, val_targets, loss_fn, score_fn, options, batcher=batcher
                )
                shown += f" val_loss={val_loss:.4f} val_score={val_score:.4f}"
            bar.set_postfix_str(shown)
        improved = True  # without validation the last epoch is the one kept
        if validated:
            optimization.end_epoch(val_loss)
            higher_score = val_score > best[0] + 1e-4
            improved = higher_score or (val_score >= best[0] and val_loss < -best[1] - 1e-4)
            if improved:
                best = (max(val_score, best[0]), -val_loss)
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            # patience counts epochs without a higher score (model2vec's rule); an epoch
            # that only ties the score with a lower loss is kept but does not extend training
            stale = 0 if higher_score else stale + 1
        history.append(
            EpochRecord(
                epoch=epoch,
                train_loss=total_loss / len(train_ids),
                val_loss=val_loss,
                val_score=val_score,
                learning_rate=optimization.learning_rate,
                best=improved,
            )
        )
        if (
            validated
            and options.patience is not None
            and stale >= options.patience
            and epoch >= options.min_epochs
        ):
            break
    if validated:
        net.load_state_dict(best_state)
    net.to("cpu")
    net.eval()
    return history
