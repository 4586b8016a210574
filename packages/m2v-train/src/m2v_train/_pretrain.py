"""``pretrain``: train a static model's rows and token weights to reproduce a teacher.

Tokenlearn-style recipe: the teacher's vectors of a corpus (from ``featurize``) are reduced
with PCA to the student's dimension, the student's table is rotated onto them (orthogonal
Procrustes: cosines unchanged, loss small from the first step), then the table and one
weight per token are trained with in-batch contrastive (InfoNCE) and cosine / MSE losses.
Options: born-again generations, SIF re-weighting from corpus token frequencies, power
normalization ``sign(E)|E|^p`` and PCA compression after training.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from m2v_format import StaticModelData
from m2v_infer import StaticModel
from torch import nn
from tqdm import tqdm

from m2v_train._batches import iterate
from m2v_train._device import resolve_device, seed_everything
from m2v_train._errors import InvalidParameterError
from m2v_train._features import FeatureSet
from m2v_train._net import StaticEncoder
from m2v_train._optim import Adam, PerStep, trainable
from m2v_train._postprocess import (
    fit_pca,
    pca_reduce,
    power_normalize,
    procrustes,
    sif_weights,
    token_frequencies,
)

ALIGN_SAMPLE = 20_000


@dataclass(frozen=True)
class PretrainOptions:
    """Every knob of :func:`pretrain` (defaults: the recipe measured in docs/train.md)."""

    epochs: int = 3
    batch_size: int = 256
    learning_rate: float = 1e-3
    contrastive_weight: float = 1.0
    cosine_weight: float = 1.0
    mse_weight: float = 0.0
    temperature: float = 0.07
    train_weights: bool = True
    align: bool = True
    center_targets: bool = True
    born_again: int = 0
    born_again_alpha: float = 0.5
    sif_coefficient: float | None = None
    power: float | None = None
    pca_dims: int | None = None
    validation_size: float = 0.02
    max_length: int | None = 512
    seed: int = 42
    device: str | None = "auto"
    show_progress: bool = True

    def check(self) -> None:
        """Raise :class:`InvalidParameterError` for an out-of-range option."""
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(f"{name} must be an int >= 1, got {value!r}")
        if self.batch_size < 2 and self.contrastive_weight > 0:
            raise InvalidParameterError("the contrastive loss needs batch_size >= 2")
        for name in ("contrastive_weight", "cosine_weight", "mse_weight"):
            if not getattr(self, name) >= 0:
                raise InvalidParameterError(f"{name} must be >= 0")
        if self.contrastive_weight + self.cosine_weight + self.mse_weight <= 0:
            raise InvalidParameterError("at least one loss weight must be > 0")
        if not self.learning_rate > 0 or not self.temperature > 0:
            raise InvalidParameterError("learning_rate and temperature must be > 0")
        if (
            isinstance(self.born_again, bool)
            or not isinstance(self.born_again, int)
            or self.born_again < 0
        ):
            raise InvalidParameterError(f"born_again must be an int >= 0, got {self.born_again!r}")
        if not 0.0 <= self.born_again_alpha <= 1.0:
            raise InvalidParameterError("born_again_alpha must be in [0, 1]")
        if not 0.0 < self.validation_size < 0.5:
            raise InvalidParameterError("validation_size must be in (0, 0.5)")


@dataclass
class PretrainReport:
    """What :func:`pretrain` did: per-epoch losses and validation cosines, timings."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    start_val_cosine: float = 0.0
    final_val_cosine: float = 0.0


def _pooled(
    encoder: StaticEncoder, ids: Sequence[Sequence[int]], device: torch.device
) -> np.ndarray[Any, Any]:
    with torch.no_grad():
        pooled: np.ndarray[Any, Any] = np.concatenate(
            [encoder(batch.to(device)).float().cpu().numpy() for _, batch in iterate(ids, 4096)]
        )
    return pooled


def _unit(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    unit: np.ndarray[Any, Any] = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return unit


def _val_cosine(
    encoder: StaticEncoder,
    ids: Sequence[Sequence[int]],
    targets: np.ndarray[Any, Any],
    device: torch.device,
) -> float:
    return float((_unit(_pooled(encoder, ids, device)) * _unit(targets)).sum(axis=1).mean())


def _loss_fn(options: PretrainOptions) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        p = nn.functional.normalize(pred, dim=1)
        t = nn.functional.normalize(target, dim=1)
        if options.contrastive_weight > 0:
            logits = p @ t.T / options.temperature
            labels = torch.arange(len(p), device=p.device)
            total = total + options.contrastive_weight * nn.functional.cross_entropy(logits, labels)
        if options.cosine_weight > 0:
            total = total + options.cosine_weight * (1.0 - (p * t).sum(dim=1)).mean()
        if options.mse_weight > 0:
            total = total + options.mse_weight * nn.functional.mse_loss(pred, target)
        return total

    return loss


def _train_generation(
    table: np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any] | None,
    train_ids: Sequence[Sequence[int]],
    train_targets: np.ndarray[Any, Any],
    val_ids: Sequence[Sequence[int]],
    val_targets: np.ndarray[Any, Any],
    options: PretrainOptions,
    device: torch.device,
    generator: torch.Generator,
    report: PretrainReport,
    generation: int,
) -> StaticEncoder:
    encoder = StaticEncoder(  # dense: pre-training updates most rows every step
        table,
        weights=weights,
        normalize=False,
        train_weights=options.train_weights,
        sparse=False,
    ).to(device)
    optimizer = Adam(trainable(encoder.parameters()), lr=options.learning_rate)
    total_steps = math.ceil(len(train_ids) / options.batch_size) * options.epochs
    schedule = PerStep(
        optimizer,
        lambda step: 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / max(1, total_steps)))),
    )
    loss_fn = _loss_fn(options)
    targets = torch.from_numpy(np.ascontiguousarray(train_targets, dtype=np.float32))
    best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    best = _val_cosine(encoder, val_ids, val_targets, device)
    for epoch in range(1, options.epochs + 1):
        order = torch.randperm(len(train_ids), generator=generator).numpy()
        running = 0.0  # summed per-text loss: the bar shows the mean per text, as fit's
        seen = 0
        with tqdm(
            total=math.ceil(len(train_ids) / options.batch_size),
            desc=f"Generation {generation} epoch {epoch}/{options.epochs}",
            unit="steps",
            disable=not options.show_progress,
        ) as bar:
            for rows, batch in iterate(train_ids, options.batch_size, order=order):
                if len(rows) < 2:
                    continue
                optimizer.zero_grad()
                loss = loss_fn(encoder(batch.to(device)), targets[rows].to(device))
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                schedule.after_step()
                running += float(loss.detach()) * len(rows)
                seen += len(rows)
                bar.set_postfix_str(f"loss={running / seen:.4f}", refresh=False)
                bar.update(1)
            cosine = _val_cosine(encoder, val_ids, val_targets, device)
            bar.set_postfix_str(f"loss={running / max(1, seen):.4f} val_cos={cosine:.4f}")
        report.epochs.append(
            {
                "generation": float(generation),
                "epoch": float(epoch),
                "loss": running / max(1, seen),
                "val_cosine": cosine,
            }
        )
        if cosine > best:
            best = cosine
            best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    encoder.load_state_dict(best_state)
    report.final_val_cosine = best
    return encoder.cpu()


def pretrain(
    start: StaticModel | str,
    features: FeatureSet,
    options: PretrainOptions | None = None,
) -> tuple[StaticModel, PretrainReport]:
    """Train ``start`` (a distilled model) to match the teacher targets in ``features``.

    Returns the trained model (float32, normalize on, same tokenizer and vocabulary; the
    learned token weights are folded into the rows) and a :class:`PretrainReport`.
    """
    options = options or PretrainOptions()
    options.check()
    began = time.perf_counter()
    model = start if isinstance(start, StaticModel) else StaticModel.from_pretrained(start)
    data = model.data
    if data.mapping is not None:
        raise InvalidParameterError(
            "pre-training needs a model without vocabulary quantization (no mapping)"
        )
    if len(features.texts) < 10:
        raise InvalidParameterError("pre-training needs at least 10 texts")
    generator = seed_everything(options.seed)
    device = resolve_device(options.device)
    table = np.array(data.dequantized_embeddings(), dtype=np.float32)
    dim = table.shape[1]
    teacher = np.asarray(features.targets, dtype=np.float32)
    if teacher.shape[1] < dim:
        raise InvalidParameterError(
            f"the teacher's vectors have {teacher.shape[1]} dimensions, fewer than the "
            f"student's {dim}"
        )
    mean, axes = fit_pca(teacher, dim)
    # Centring subtracts the direction all targets share, which a static student's mean of
    # rows cannot subtract: from a static teacher (born-again from a static model) keep it,
    # or long texts drift (Lee 0.612 centred vs 0.631 uncentred, docs/train.md).
    targets = ((teacher - mean) if options.center_targets else teacher) @ axes.T
    ids = model.tokenize(features.texts, max_length=options.max_length)
    order = np.random.default_rng(options.seed).permutation(len(ids))
    n_val = max(1, round(len(ids) * options.validation_size))
    val_rows, train_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
    train_ids = [ids[i] for i in train_rows]
    val_ids = [ids[i] for i in val_rows]
    report = PretrainReport()
    weights = None if data.weights is None else np.asarray(data.weights, dtype=np.float32)
    if options.align:
        sample = train_rows[: min(len(train_rows), ALIGN_SAMPLE)]
        student = _pooled(
            StaticEncoder(table, weights=weights, normalize=False),
            [ids[i] for i in sample],
            torch.device("cpu"),
        )
        table = table @ procrustes(_unit(student), _unit(targets[sample]))
    report.start_val_cosine = _val_cosine(
        StaticEncoder(table, weights=weights, normalize=False),
        val_ids,
        targets[val_rows],
        torch.device("cpu"),
    )
    generation_targets = targets
    encoder: StaticEncoder | None = None
    for generation in range(options.born_again + 1):
        if encoder is not None:  # born-again: mix the teacher with the last generation
            previous = _pooled(encoder, ids, torch.device("cpu"))
            scale = np.linalg.norm(targets, axis=1, keepdims=True)
            generation_targets = scale * (
                options.born_again_alpha * _unit(targets)
                + (1 - options.born_again_alpha) * _unit(previous)
            )
        encoder = _train_generation(
            table,
            weights,
            train_ids,
            generation_targets[train_rows],
            val_ids,
            targets[val_rows],
            options,
            device,
            generator,
            report,
            generation,
        )
    assert encoder is not None
    trained, _ = encoder.baked()
    if options.sif_coefficient is not None:
        frequencies = token_frequencies(ids, trained.shape[0])
        trained = trained * sif_weights(frequencies, options.sif_coefficient)[:, None]
    if options.power is not None:
        trained = power_normalize(trained, options.power)
    if options.pca_dims is not None and options.pca_dims < trained.shape[1]:
        trained = pca_reduce(trained, options.pca_dims)
    config = dataclasses.replace(
        data.config,
        normalize=True,
        extra={
            **data.config.extra,
            "pretrained_with": "m2v-train",
            "pretrain_teacher": features.manifest.teacher,
            "pretrain_texts": len(features.texts),
        },
    )
    result = StaticModelData(embeddings=trained, tokenizer=data.tokenizer, config=config)
    out = StaticModel.from_data(result)
    out.base_model_name = model.base_model_name
    report.seconds = time.perf_counter() - began
    return out, report
