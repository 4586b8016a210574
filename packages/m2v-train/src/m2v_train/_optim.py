"""Adam with decoupled weight decay, lazy on row-sparse gradients, and the LR schedules.

Written here instead of taken from ``torch.optim``: constructing any ``torch.optim``
optimizer imports ``torch._dynamo`` (1.2 s with cached bytecode, 6 s without, measured on
2 cores), which was most of the time a short fine-tuning run took; and one class covers the
dense parameters (AdamW) and the sparse table (lazy Adam) alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class _Moments:
    first: torch.Tensor
    second: torch.Tensor
    steps: int = 0


@dataclass
class Adam:
    """Adam with decoupled weight decay (AdamW; ``weight_decay=0`` is plain Adam).

    A dense gradient updates the whole parameter.  A sparse gradient (a table trained with
    ``sparse=True``) updates only the rows it holds, with their own moments ("lazy" Adam,
    as ``torch.optim.SparseAdam``); weight decay then reaches only those rows.  The bias
    correction counts the parameter's steps, and ``eps`` is added to the bias-corrected
    root of the second moment, in both cases.
    """

    params: list[nn.Parameter]
    lr: float
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    _state: dict[int, _Moments] = field(default_factory=dict, init=False, repr=False)

    def zero_grad(self) -> None:
        """Drop the gradients before the next backward pass."""
        for parameter in self.params:
            parameter.grad = None

    def _moments(self, parameter: torch.Tensor) -> _Moments:
        key = id(parameter)
        if key not in self._state:
            self._state[key] = _Moments(torch.zeros_like(parameter), torch.zeros_like(parameter))
        return self._state[key]

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        beta1, beta2 = self.betas
        for parameter in self.params:
            grad = parameter.grad
            if grad is None:
                continue
            moments = self._moments(parameter)
            moments.steps += 1
            correction1 = 1.0 - beta1**moments.steps
            root_correction2 = math.sqrt(1.0 - beta2**moments.steps)
            if grad.is_sparse:
                grad = grad.coalesce()
                rows, values = grad.indices()[0], grad.values()
                first = moments.first.index_select(0, rows).mul_(beta1)
                first.add_(values, alpha=1.0 - beta1)
                second = moments.second.index_select(0, rows).mul_(beta2)
                second.addcmul_(values, values, value=1.0 - beta2)
                moments.first.index_copy_(0, rows, first)
                moments.second.index_copy_(0, rows, second)
                if self.weight_decay:
                    decayed = parameter.index_select(0, rows).mul_(self.lr * self.weight_decay)
                    parameter.index_add_(0, rows, decayed, alpha=-1.0)
                denominator = second.sqrt_().div_(root_correction2).add_(self.eps)
                parameter.index_add_(0, rows, first.div_(denominator), alpha=-self.lr / correction1)
                continue
            if self.weight_decay:
                parameter.mul_(1.0 - self.lr * self.weight_decay)
            moments.first.mul_(beta1).add_(grad, alpha=1.0 - beta1)
            moments.second.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
            denominator = moments.second.sqrt().div_(root_correction2).add_(self.eps)
            parameter.addcdiv_(moments.first, denominator, value=-self.lr / correction1)


class Plateau:
    """Multiply the LR by ``factor`` when the validation loss has not fallen (by a relative
    ``threshold``) for more than ``patience`` epochs, down to ``min_lr``."""

    def __init__(
        self,
        optimizer: Adam,
        *,
        factor: float = 0.5,
        patience: int = 2,
        min_lr: float = 1e-6,
        threshold: float = 1e-4,
    ) -> None:
        self.optimizer = optimizer
        self.factor, self.patience, self.min_lr, self.threshold = (
            factor,
            patience,
            min_lr,
            threshold,
        )
        self.best = math.inf
        self.stale = 0

    def end_epoch(self, val_loss: float) -> None:
        """Record an epoch's validation loss and lower the LR when it has stalled."""
        if val_loss < self.best * (1.0 - self.threshold):
            self.best, self.stale = val_loss, 0
            return
        self.stale += 1
        if self.stale > self.patience:
            self.optimizer.lr = max(self.optimizer.lr * self.factor, self.min_lr)
            self.stale = 0


class PerStep:
    """The LR as ``base * factor(step)``, set before the first step and after each one."""

    def __init__(self, optimizer: Adam, factor: Callable[[int], float]) -> None:
        self.optimizer, self.factor = optimizer, factor
        self.base = optimizer.lr
        self.steps = 0
        optimizer.lr = self.base * factor(0)

    def after_step(self) -> None:
        """Advance the schedule by one optimizer step."""
        self.steps += 1
        self.optimizer.lr = self.base * self.factor(self.steps)


def warmup_cosine(total_steps: int, warmup_share: float = 0.05) -> Callable[[int], float]:
    """Linear warm-up over ``warmup_share`` of the steps, then cosine decay to 0."""
    total = max(1, total_steps)
    warmup = max(1, int(total * warmup_share))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return factor


def trainable(parameters: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    """The parameters that require a gradient."""
    return [parameter for parameter in parameters if parameter.requires_grad]
