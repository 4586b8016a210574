"""Classification losses: (binary) cross-entropy, or focal loss with ``focal_gamma > 0``.

Focal loss multiplies each text's loss by ``(1 - p) ** gamma``, ``p`` the probability of
its true class (per class from the binary cross-entropy for multi-label targets); with
class weights the weighted mean is taken as cross-entropy takes it.  ``gamma = 0`` is
plain (binary) cross-entropy, which is what :func:`classification_loss` returns then.
"""

from __future__ import annotations

import torch
from torch import nn

from m2v_train._errors import InvalidParameterError


def _modulation(nll: torch.Tensor, gamma: float) -> torch.Tensor:
    """``(1 - p) ** gamma`` with ``p = exp(-nll)``, computed stably."""
    one_minus_p = (-torch.expm1(-nll)).clamp(min=torch.finfo(nll.dtype).tiny)
    return one_minus_p**gamma


class FocalLoss(nn.Module):
    """Single-label focal loss over logits and class indices."""

    def __init__(self, gamma: float, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.weight: torch.Tensor | None
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean focal loss (weighted by the true classes' weights when given)."""
        nll = -torch.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
        loss = _modulation(nll, self.gamma) * nll
        if self.weight is None:
            return loss.mean()
        sample_weight = self.weight[targets]
        return (loss * sample_weight).sum() / sample_weight.sum()


class BinaryFocalLoss(nn.Module):
    """Multi-label focal loss over logits and multi-hot targets."""

    def __init__(self, gamma: float, pos_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.pos_weight: torch.Tensor | None
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean over texts and classes."""
        functional = nn.functional
        loss = functional.binary_cross_entropy_with_logits(
            logits, targets, pos_weight=self.pos_weight, reduction="none"
        )
        nll = functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        return (_modulation(nll, self.gamma) * loss).mean()


def classification_loss(
    multilabel: bool, weights: torch.Tensor | None, focal_gamma: float
) -> nn.Module:
    """The training loss for single- or multi-label targets."""
    if isinstance(focal_gamma, bool) or not isinstance(focal_gamma, int | float):
        raise InvalidParameterError(f"focal_gamma must be a number >= 0, got {focal_gamma!r}")
    if not focal_gamma >= 0:
        raise InvalidParameterError(f"focal_gamma must be >= 0, got {focal_gamma!r}")
    if multilabel:
        if focal_gamma == 0:
            return nn.BCEWithLogitsLoss(pos_weight=weights)
        return BinaryFocalLoss(float(focal_gamma), pos_weight=weights)
    if focal_gamma == 0:
        return nn.CrossEntropyLoss(weight=weights)
    return FocalLoss(float(focal_gamma), weight=weights)
