"""StaticModelForClassification: fine-tune a static model and a dense head on labelled texts."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from m2v_format import ClassifierHead, ModelCard, StaticModelData, save_classifier
from m2v_infer import UNSET, StaticModel
from torch import nn

from m2v_train._batches import iterate
from m2v_train._device import resolve_device, seed_everything
from m2v_train._errors import InvalidParameterError, NotFittedError
from m2v_train._labels import Label, LabelSpace, class_weights, label_space
from m2v_train._loop import EpochRecord, LoopOptions, train_loop
from m2v_train._net import ClassifierNet, StaticEncoder, dense_head
from m2v_train._split import split

DEFAULT_SEED = 42


def auto_batch_size(n_train: int) -> int:
    """A batch size for ``n_train`` texts: a multiple of 32 from 32 to 512 (~30 steps/epoch+)."""
    return 32 * int(min(max(1, (n_train / 30) // 32), 16))


def _check_texts(texts: Sequence[str], name: str) -> list[str]:
    if isinstance(texts, str):
        raise InvalidParameterError(f"{name} must be a sequence of strings, not a single string")
    items = list(texts)
    if not items:
        raise InvalidParameterError(f"{name} is empty")
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidParameterError(f"{name}[{index}] is a {type(text).__name__}, not a str")
    return items


def _accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == targets).float().mean())


def _jaccard(logits: torch.Tensor, targets: torch.Tensor) -> float:
    predicted = (logits > 0).float()
    intersection = (predicted * targets).sum(dim=1)
    union = ((predicted + targets) > 0).float().sum(dim=1)
    return float(torch.where(union > 0, intersection / union.clamp(min=1), 1.0).mean())


class StaticModelForClassification:
    """A text classifier on a static model: embedding bag (+ per-token weights) and an MLP.

    ``fit`` fine-tunes the embedding table, the token weights and the head with early
    stopping on a validation split; ``predict`` / ``predict_proba`` / ``evaluate`` use the
    trained network; ``save_pretrained`` exports a folder that
    ``m2v_infer.StaticClassifier`` runs with numpy alone (spec/classifier.md).
    """

    def __init__(
        self,
        model: StaticModel,
        *,
        n_layers: int = 1,
        hidden_dim: int = 512,
        normalize: bool = True,
        train_embeddings: bool = True,
        train_weights: bool = True,
    ) -> None:
        """Wrap ``model``; the head is built (and re-initialised) by :meth:`fit`."""
        for name, value, low in (("n_layers", n_layers, 0), ("hidden_dim", hidden_dim, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(f"{name} must be an int >= {low}, got {value!r}")
        self.base_model = model
        self.n_layers = n_layers
        self.hidden_dim = hidden_dim
        self.normalize = bool(normalize)
        self.train_embeddings = bool(train_embeddings)
        self.train_weights = bool(train_weights)
        self.history: list[EpochRecord] = []
        self._space: LabelSpace | None = None
        self._net: ClassifierNet | None = None

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike[str] | StaticModel,
        *,
        max_length: int | Any | None = UNSET,
        n_layers: int = 1,
        hidden_dim: int = 512,
        normalize: bool = True,
        train_embeddings: bool = True,
        train_weights: bool = True,
    ) -> StaticModelForClassification:
        """Start from a static model folder / hub id, or an ``m2v_infer.StaticModel``.

        Args:
            path: the base model.
            max_length: token limit per text for training and inference (default: the
                model's own ``max_length``); ``None``: no truncation.
            n_layers: hidden layers of the head (0: a linear head).
            hidden_dim: width of the hidden layers.
            normalize: unit-normalize the pooled embedding before the head.
            train_embeddings: fine-tune the embedding table (else frozen).
            train_weights: learn a weight per token (initialised from the model's weights,
                else 1).
        """
        if isinstance(path, StaticModel):
            model = path
            if max_length is not UNSET:
                model = StaticModel.from_data(path.data, max_length=max_length)
        else:
            model = StaticModel.from_pretrained(Path(path), max_length=max_length)
        return cls(
            model,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            normalize=normalize,
            train_embeddings=train_embeddings,
            train_weights=train_weights,
        )

    # ------------------------------------------------------------------ properties

    @property
    def classes(self) -> tuple[Label, ...]:
        """The classes, in the order of :meth:`predict_proba`'s columns."""
        return self._fitted()[0].classes

    @property
    def multilabel(self) -> bool:
        """Whether the classifier was fitted on multi-label targets."""
        return self._fitted()[0].multilabel

    def _fitted(self) -> tuple[LabelSpace, ClassifierNet]:
        if self._space is None or self._net is None:
            raise NotFittedError("call fit() first")
        return self._space, self._net

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids exactly as the exported model's ``encode`` pools them (spec I2-I4)."""
        return self.base_model.tokenize(list(texts))

    def _encoder(self) -> StaticEncoder:
        data = self.base_model.data
        return StaticEncoder(
            data.dequantized_embeddings(),
            weights=data.weights,
            mapping=data.mapping,
            normalize=self.normalize,
            train_embeddings=self.train_embeddings,
            train_weights=self.train_weights,
        )

    # ------------------------------------------------------------------ training

    def fit(
        self,
        X: Sequence[str],  # noqa: N803 - scikit-learn / model2vec naming
        y: Sequence[Any],
        *,
        X_val: Sequence[str] | None = None,  # noqa: N803
        y_val: Sequence[Any] | None = None,
        validation_size: float | int = 0.1,
        learning_rate: float = 1e-3,
        batch_size: int | None = None,
        max_epochs: int = 50,
        min_epochs: int = 1,
        early_stopping_patience: int | None = 5,
        lr_schedule: str = "plateau",
        weight_decay: float = 0.0,
        class_weight: str | Mapping[Any, float] | None = None,
        seed: int = DEFAULT_SEED,
        device: str | None = "auto",
        show_progress: bool = True,
    ) -> StaticModelForClassification:
        """Train on texts ``X`` and labels ``y``; return ``self``.

        Single-label: one str/int label per text (cross-entropy).  Multi-label: a list of
        labels per text (binary cross-entropy per class).

        Args:
            X, y: training texts and labels.
            X_val, y_val: a validation set; without it ``validation_size`` of the data
                (a fraction, at most 10,000 rows, or a count) is split off with ``seed``,
                stratified by class for single-label data.
            learning_rate: AdamW learning rate.
            batch_size: texts per step; ``None`` picks one from the data size.
            max_epochs, min_epochs: bounds on the number of epochs.
            early_stopping_patience: epochs without a better validation score before
                stopping (``None``: run ``max_epochs``); the best epoch's weights are kept.
            lr_schedule: ``"plateau"``, ``"cosine"`` or ``"constant"``.
            weight_decay: AdamW weight decay.
            class_weight: ``None``, ``"balanced"`` or a dict class -> weight.
            seed: seeds the split, the initialisation and the shuffling.
            device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...
            show_progress: a progress line per epoch on stderr.
        """
        texts = _check_texts(X, "X")
        if len(texts) != len(y):
            raise InvalidParameterError(f"X has {len(texts)} texts but y has {len(y)} labels")
        if (X_val is None) != (y_val is None):
            raise InvalidParameterError("pass both X_val and y_val, or neither")
        generator = seed_everything(seed)
        space, counts = label_space(y)
        targets = space.encode(y)
        if X_val is not None and y_val is not None:
            val_texts = _check_texts(X_val, "X_val")
            if len(val_texts) != len(y_val):
                raise InvalidParameterError("X_val and y_val differ in length")
            val_targets = space.encode(y_val, "y_val")
            train_texts, train_targets = texts, targets
        else:
            strata = None if space.multilabel else targets
            train_rows, val_rows = split(len(texts), validation_size, seed=seed, strata=strata)
            train_texts = [texts[i] for i in train_rows]
            val_texts = [texts[i] for i in val_rows]
            train_targets, val_targets = targets[train_rows], targets[val_rows]
        weights = class_weights(class_weight, space, counts, len(texts))
        weight_tensor = None if weights is None else torch.from_numpy(weights)
        if space.multilabel:
            loss_fn: nn.Module = nn.BCEWithLogitsLoss(pos_weight=weight_tensor)
            score = _jaccard
        else:
            loss_fn = nn.CrossEntropyLoss(weight=weight_tensor)
            score = _accuracy
        torch_device = resolve_device(device)
        loss_fn.to(torch_device)
        encoder = self._encoder()
        net = ClassifierNet(
            encoder, dense_head(encoder.dim, self.hidden_dim, self.n_layers, len(space.classes))
        )
        options = LoopOptions(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size if batch_size is not None else auto_batch_size(len(train_texts)),
            max_epochs=max_epochs,
            min_epochs=min_epochs,
            patience=early_stopping_patience,
            lr_schedule=lr_schedule,
            device=torch_device,
            show_progress=show_progress,
        )

        def cpu_loss(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
            return loss_fn(logits.to(torch_device), truth.to(torch_device))  # type: ignore[no-any-return]

        self.history = train_loop(
            net,
            self.tokenize(train_texts),
            train_targets,
            self.tokenize(val_texts),
            val_targets,
            loss_fn=cpu_loss,
            score_fn=score,
            options=options,
            generator=generator,
        )
        self._space, self._net = space, net
        return self

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def _logits(self, texts_in: Sequence[str], batch_size: int) -> np.ndarray[Any, Any]:
        _, net = self._fitted()
        texts = [texts_in] if isinstance(texts_in, str) else _check_texts(texts_in, "X")
        net.eval()
        parts = [
            net(batch).numpy()
            for _, batch in iterate(self.tokenize(texts), max(1, int(batch_size)))
        ]
        return np.concatenate(parts).astype(np.float32)

    def predict_proba(
        self,
        X: Sequence[str],  # noqa: N803
        *,
        batch_size: int = 1024,
    ) -> np.ndarray[Any, Any]:
        """Probabilities ``[n, classes]``: softmax (single-label) or sigmoid (multi-label)."""
        logits = torch.from_numpy(self._logits(X, batch_size))
        if self.multilabel:
            return torch.sigmoid(logits).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict(
        self,
        X: Sequence[str],  # noqa: N803
        *,
        threshold: float = 0.5,
        batch_size: int = 1024,
    ) -> np.ndarray[Any, Any] | list[list[Label]]:
        """Labels: an array (single-label) or a list of label lists (multi-label: every class
        with probability above ``threshold``)."""
        probabilities = self.predict_proba(X, batch_size=batch_size)
        if self.multilabel:
            return [
                [self.classes[i] for i in np.flatnonzero(row > threshold)] for row in probabilities
            ]
        labels: np.ndarray[Any, Any] = np.asarray(self.classes)[probabilities.argmax(axis=1)]
        return labels

    def evaluate(
        self,
        X: Sequence[str],  # noqa: N803
        y: Sequence[Any],
        *,
        threshold: float = 0.5,
        output_dict: bool = True,
    ) -> dict[str, Any] | str:
        """A scikit-learn classification report (per-class precision/recall/F1, averages)."""
        from m2v_train._report import classification_report

        space, _ = self._fitted()
        predicted = self.predict(X, threshold=threshold)
        return classification_report(space, y, predicted, output_dict=output_dict)

    # ------------------------------------------------------------------ export

    def _trained_data(self) -> StaticModelData:
        _, net = self._fitted()
        table, weights = net.encoder.baked()
        data = self.base_model.data
        config = dataclasses.replace(data.config, normalize=self.normalize)
        return StaticModelData(
            embeddings=table,
            tokenizer=data.tokenizer,
            config=config,
            weights=weights,
            mapping=None if data.mapping is None else np.asarray(data.mapping, dtype=np.int32),
        )

    def to_static_model(self) -> StaticModel:
        """The fine-tuned embedding model (no head): encodes exactly the head's input."""
        return StaticModel.from_data(self._trained_data())

    def save_pretrained(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Export to a classifier folder (spec/classifier.md) that m2v-infer loads.

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false.
        """
        space, net = self._fitted()
        layers = net.layers()
        head = ClassifierHead(
            task="multi-label" if space.multilabel else "single-label",
            classes=tuple(space.classes),
            weights=tuple(np.asarray(weight, dtype=np.float32) for weight, _ in layers),
            biases=tuple(np.asarray(bias, dtype=np.float32) for _, bias in layers),
            threshold=0.5,
            extra={"trained_with": "m2v-train"},
        )
        card = ModelCard(base_model=self.base_model.base_model_name)
        return save_classifier(path, self._trained_data(), head, overwrite=overwrite, card=card)

    def __repr__(self) -> str:
        state = "unfitted" if self._space is None else f"{len(self._space.classes)} classes"
        return f"StaticModelForClassification(dim={self.base_model.dim}, {state})"
