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

from m2v_train._batches import drop_tokens, iterate
from m2v_train._errors import InvalidParameterError

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
) -> tuple[float, float]:
    """Mean loss and score of ``net`` on a whole split."""
    net.eval()
    outputs = []
    for _, batch in iterate(token_ids, max(options.batch_size, 512)):
        outputs.append(net(batch.to(options.device)).float().cpu())
    logits = torch.cat(outputs)
    truth = torch.from_numpy(targets)
    net.train()
    return float(loss_fn(logits, truth)), float(score_fn(logits, truth))


def _scheduler(
    optimizer: torch.optim.Optimizer, options: LoopOptions, steps_per_epoch: int
) -> tuple[Any, bool]:
    """The LR scheduler and whether it steps per batch (else per epoch, on val loss)."""
    if options.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=2, min_lr=1e-6
        ), False
    if options.lr_schedule == "cosine":
        total = max(1, steps_per_epoch * options.max_epochs)
        warmup = max(1, total // 20)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / (total - warmup))))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), True
    return None, False


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
) -> list[EpochRecord]:
    """Train ``net`` in place; at the end it holds the weights of the best validation epoch.

    "Best" is the highest validation score, ties broken by the lower validation loss.
    Training stops after ``patience`` epochs without improvement (not before
    ``min_epochs``) or at ``max_epochs``.  With no validation texts every epoch runs and
    the last one is kept.
    """
    options.check()
    net.to(options.device)
    net.train()
    parameters = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        parameters, lr=options.learning_rate, weight_decay=options.weight_decay
    )
    steps_per_epoch = math.ceil(len(train_ids) / options.batch_size)
    scheduler, per_step = _scheduler(optimizer, options, steps_per_epoch)
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
            for rows, batch in iterate(train_ids, options.batch_size, order=order):
                if options.token_dropout > 0:
                    batch = drop_tokens(batch, options.token_dropout, generator)
                optimizer.zero_grad(set_to_none=True)
                logits = net(batch.to(options.device))
                loss = loss_fn(logits, _targets(train_targets, rows).to(options.device))
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                if per_step:
                    scheduler.step()
                total_loss += float(loss.detach()) * len(rows)
                seen += len(rows)
                bar.set_postfix_str(f"loss={total_loss / seen:.4f}", refresh=False)
                bar.update(1)
            val_loss = val_score = math.nan
            shown = f"loss={total_loss / len(train_ids):.4f}"
            if validated:
                val_loss, val_score = evaluate_split(
                    net, val_ids, val_targets, loss_fn, score_fn, options
                )
                shown += f" val_loss={val_loss:.4f} val_score={val_score:.4f}"
            bar.set_postfix_str(shown)
        improved = True  # without validation the last epoch is the one kept
        if validated:
            if scheduler is not None and not per_step:
                scheduler.step(val_loss)
            improved = (val_score, -val_loss) > best and (
                val_score > best[0] + 1e-4 or val_loss < -best[1] - 1e-4
            )
            if improved:
                best = (val_score, -val_loss)
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                stale = 0
            else:
                stale += 1
        history.append(
            EpochRecord(
                epoch=epoch,
                train_loss=total_loss / len(train_ids),
                val_loss=val_loss,
                val_score=val_score,
                learning_rate=float(optimizer.param_groups[0]["lr"]),
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
