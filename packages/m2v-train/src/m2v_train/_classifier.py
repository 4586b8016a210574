"""StaticModelForClassification: fine-tune a static model and a dense head on labelled texts.

The API is model2vec 0.10.0's (``model2vec.train.StaticModelForClassification``): its
argument names, positions and defaults are accepted (see :mod:`m2v_train._compat` and the
"Porting from model2vec" table in docs/train.md), next to m2v-train's own options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from m2v_format import ClassifierHead
from m2v_infer import StaticClassifier

from m2v_train import _compat
from m2v_train._device import resolve_device, seed_everything
from m2v_train._errors import InvalidParameterError, NotFittedError
from m2v_train._labels import Label, LabelSpace, class_weights, label_space
from m2v_train._loop import LoopOptions, train_loop
from m2v_train._losses import classification_loss
from m2v_train._net import ClassifierNet, dense_head
from m2v_train._split import split
from m2v_train._trainer import StaticTrainer, check_texts, fit_plan


def auto_batch_size(n_train: int, mean_tokens: float | None = None) -> int:
    """A batch size for ``n_train`` texts of ``mean_tokens`` tokens on average.

    model2vec's rule (a multiple of 32 from 32 to 512, about 30 steps per epoch), grown for
    documents: times ``mean_tokens / 100`` rounded (at most 4x, at most 512 texts and at
    least 8 steps per epoch).  A step's cost grows with the tokens and distinct rows it
    reads; on BBC News (400 tokens per text) batches of 128 instead of 32 train 3.5x fewer
    steps per epoch in fewer epochs, at the same accuracy (docs/train.md).
    """
    size = 32 * int(min(max(1, (n_train / 30) // 32), 16))
    if mean_tokens is None:
        return size
    grown = size * int(min(max(1, round(mean_tokens / 100)), 4))
    return max(size, min(grown, 512, 32 * int(n_train / 8 // 32)))


def _mean_length(token_ids: Sequence[Sequence[int]]) -> float:
    return sum(map(len, token_ids)) / max(1, len(token_ids))


def _labels(y: Any) -> list[Any]:
    """Labels as a list (numpy arrays, tensors and pandas series through ``tolist``)."""
    if isinstance(y, str):
        return [y]  # rejected by label_space with a clear message
    if not isinstance(y, list | tuple) and hasattr(y, "tolist"):
        return list(y.tolist())
    return list(y)


def _accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == targets).float().mean())


def _jaccard(logits: torch.Tensor, targets: torch.Tensor) -> float:
    predicted = (logits > 0).float()
    intersection = (predicted * targets).sum(dim=1)
    union = ((predicted + targets) > 0).float().sum(dim=1)
    return float(torch.where(union > 0, intersection / union.clamp(min=1), 1.0).mean())


class StaticModelForClassification(StaticTrainer):
    """A text classifier on a static model: embedding bag (+ per-token weights) and an MLP.

    ``fit`` fine-tunes the embedding table, the token weights and the head with early
    stopping on a validation split; ``predict`` / ``predict_proba`` / ``evaluate`` use the
    trained network; ``save_pretrained`` exports a folder that
    ``m2v_infer.StaticClassifier`` runs with numpy alone (spec/classifier.md), and
    ``to_pipeline`` returns that runtime classifier in memory.
    """

    _space: LabelSpace | None = None

    # __init__, from_pretrained and from_static_model: StaticTrainer's (model2vec's options;
    # ``out_dim`` is accepted and ignored, fit sets the classes from the labels).

    # ------------------------------------------------------------------ properties

    @property
    def classes(self) -> tuple[Label, ...]:
        """The classes, in the order of :meth:`predict_proba`'s columns."""
        return self._fitted()[0].classes

    @property
    def classes_(self) -> list[Label]:
        """:attr:`classes` as a list (scikit-learn's and model2vec's attribute)."""
        return list(self.classes)

    @property
    def multilabel(self) -> bool:
        """Whether the classifier was fitted on multi-label targets."""
        return self._fitted()[0].multilabel

    def _fitted(self) -> tuple[LabelSpace, ClassifierNet]:
        if self._space is None or self._net is None:
            raise NotFittedError("call fit() first")
        return self._space, self._net

    # ------------------------------------------------------------------ training

    def fit(
        self,
        X: Sequence[str],  # noqa: N803 - scikit-learn / model2vec naming
        y: Sequence[Any],
        learning_rate: float = 1e-3,
        batch_size: int | None = None,
        min_epochs: int | None = None,
        max_epochs: int | None = _compat.DEFAULT_MAX_EPOCHS,
        early_stopping_patience: int | None = 5,
        test_size: float | int | None = None,
        device: str | None = "auto",
        X_val: Sequence[str] | None = None,  # noqa: N803
        y_val: Sequence[Any] | None = None,
        class_weight: str | Mapping[Any, float] | Sequence[float] | Any | None = None,
        validation_steps: int | None = None,
        random_seed: int | None = None,
        token_dropout: float = 0.0,
        focal_gamma: float = 0.0,
        *,
        validation_size: float | int | None = None,
        seed: int | None = None,
        lr_schedule: str = "plateau",
        weight_decay: float = 0.0,
        show_progress: bool = True,
    ) -> StaticModelForClassification:
        """Train on texts ``X`` and labels ``y``; return ``self``.

        Single-label: one str/int label per text (cross-entropy).  Multi-label: a list of
        labels per text (binary cross-entropy per class).  The positional order is
        model2vec's; m2v-train's own options are keyword-only.

        Args:
            X, y: training texts and labels.
            learning_rate: AdamW learning rate.
            batch_size: texts per step; ``None`` picks one from the data size.
            min_epochs: epochs before early stopping may stop (``None``: 1).
            max_epochs: at most this many epochs; ``-1`` or ``None``: until early stopping
                (model2vec's default; capped at 9,999 epochs, and at 50 without a
                validation split).
            early_stopping_patience: epochs without a better validation score before
                stopping (``None``: run ``max_epochs``); the best epoch's weights are kept.
            test_size: model2vec's name for ``validation_size``.
            device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``...
            X_val, y_val: a validation set; without it ``validation_size`` of the data
                is split off with ``seed``, stratified by class for single-label data.
                When that split would be empty (one text, or one text per class) training
                runs without validation: every epoch, no early stopping, the last kept.
            class_weight: ``None``, ``"balanced"``, a dict class -> weight, or one weight
                per class in the order of :attr:`classes`.
            validation_steps: model2vec's mid-epoch validation; only ``None`` is accepted
                (m2v-train validates after every epoch).
            random_seed: model2vec's name for ``seed``.
            token_dropout: drop each training token with this probability (a text keeps
                at least one); ``[0, 1)``, no effect on validation and inference.
            focal_gamma: ``> 0``: focal loss ``(1 - p)^gamma`` times cross-entropy.
            validation_size: a fraction (at most 10,000 rows) or a count (default 0.1).
            seed: seeds the split, the initialisation and the shuffling (default 42).
            lr_schedule: ``"plateau"``, ``"cosine"`` or ``"constant"``.
            weight_decay: AdamW weight decay.
            show_progress: a progress line per epoch on stderr.

        Raises:
            InvalidParameterError: an option is out of range, or given twice (ours and
                model2vec's name) with different values.
            InvalidLabelsError: the labels are empty, mixed or unknown.
        """
        plan = fit_plan(
            validation_steps=validation_steps,
            validation_size=validation_size,
            test_size=test_size,
            seed=seed,
            random_seed=random_seed,
            max_epochs=max_epochs,
            min_epochs=min_epochs,
        )
        texts = check_texts(X, "X")
        labels = _labels(y)
        if len(texts) != len(labels):
            raise InvalidParameterError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        if (X_val is None) != (y_val is None):
            raise InvalidParameterError("pass both X_val and y_val, or neither")
        generator = seed_everything(plan.seed)
        space, counts = label_space(labels)
        targets = space.encode(labels)
        if X_val is not None and y_val is not None:
            val_texts = check_texts(X_val, "X_val")
            val_labels = _labels(y_val)
            if len(val_texts) != len(val_labels):
                raise InvalidParameterError("X_val and y_val differ in length")
            val_targets = space.encode(val_labels, "y_val")
            train_texts, train_targets = texts, targets
        else:
            strata = None if space.multilabel else targets
            train_rows, val_rows = split(
                len(texts), plan.validation_size, seed=plan.seed, strata=strata
            )
            train_texts = [texts[i] for i in train_rows]
            val_texts = [texts[i] for i in val_rows]
            train_targets, val_targets = targets[train_rows], targets[val_rows]
        epoch_cap = plan.max_epochs
        if epoch_cap is None:
            epoch_cap = _compat.UNBOUNDED_EPOCHS if val_texts else _compat.DEFAULT_MAX_EPOCHS
        weights = class_weights(class_weight, space, counts, len(texts))
        weight_tensor = None if weights is None else torch.from_numpy(weights)
        loss_fn = classification_loss(space.multilabel, weight_tensor, focal_gamma)
        score = _jaccard if space.multilabel else _accuracy
        torch_device = resolve_device(device)
        loss_fn.to(torch_device)
        train_ids, val_ids = self.tokenize(train_texts), self.tokenize(val_texts)
        encoder = self._encoder()
        net = ClassifierNet(
            encoder, dense_head(encoder.dim, self.hidden_dim, self.n_layers, len(space.classes))
        )
        options = LoopOptions(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size
            if batch_size is not None
            else auto_batch_size(len(train_ids), _mean_length(train_ids)),
            max_epochs=epoch_cap,
            min_epochs=plan.min_epochs,
            patience=early_stopping_patience,
            lr_schedule=lr_schedule,
            token_dropout=token_dropout,
            device=torch_device,
            show_progress=show_progress,
        )

        def cpu_loss(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
            return loss_fn(logits.to(torch_device), truth.to(torch_device))  # type: ignore[no-any-return]

        self.history = train_loop(
            net,
            train_ids,
            train_targets,
            val_ids,
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
    def _logits(
        self, texts_in: str | Sequence[str], batch_size: int, show_progress_bar: bool = False
    ) -> np.ndarray[Any, Any]:
        space, net = self._fitted()
        batches = self._token_batches(texts_in, batch_size, show_progress_bar)
        net.eval()
        parts = [net(batch).numpy() for _, batch in batches]
        if not parts:
            return np.zeros((0, len(space.classes)), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32)

    def predict_proba(
        self,
        X: str | Sequence[str],  # noqa: N803
        show_progress_bar: bool = False,
        batch_size: int = 1024,
    ) -> np.ndarray[Any, Any]:
        """Probabilities ``[n, classes]`` (float32): softmax (single-label) or sigmoid
        (multi-label); ``(0, classes)`` for no texts."""
        logits = torch.from_numpy(self._logits(X, batch_size, show_progress_bar))
        if self.multilabel:
            return torch.sigmoid(logits).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict(
        self,
        X: str | Sequence[str],  # noqa: N803
        show_progress_bar: bool = False,
        batch_size: int = 1024,
        threshold: float = 0.5,
    ) -> np.ndarray[Any, Any] | list[list[Label]]:
        """Labels: an array (single-label, dtype of the classes; shape ``(0,)`` for no
        texts) or a list of label lists (multi-label: every class with probability above
        ``threshold``; ignored for single-label)."""
        probabilities = self.predict_proba(X, show_progress_bar, batch_size)
        if self.multilabel:
            return [
                [self.classes[i] for i in np.flatnonzero(row > threshold)] for row in probabilities
            ]
        labels: np.ndarray[Any, Any] = np.asarray(self.classes)[probabilities.argmax(axis=1)]
        return labels

    @torch.no_grad()
    def encode(
        self,
        X: str | Sequence[str],  # noqa: N803
        batch_size: int = 1024,
        show_progress_bar: bool = False,
    ) -> np.ndarray[Any, Any]:
        """The head's output, as model2vec's ``encode``: logits, float32 ``[n, classes]``
        (``[classes]`` for one string; ``(0, classes)`` for no texts).

        For the fine-tuned embeddings the head reads, use ``to_static_model().encode(X)``;
        before :meth:`fit` there is no head (model2vec's would be untrained), so this raises
        :class:`NotFittedError` and ``base_model.encode(X)`` gives the embeddings.
        """
        if self._net is None:
            raise NotFittedError(
                "encode() returns the head's logits (as in model2vec) and there is no head "
                "before fit(); use base_model.encode(X) for the embeddings"
            )
        logits = self._logits(X, batch_size, show_progress_bar)
        return logits[0] if isinstance(X, str) else logits

    def evaluate(
        self,
        X: Sequence[str],  # noqa: N803
        y: Sequence[Any],
        batch_size: int = 1024,
        threshold: float = 0.5,
        *,
        output_dict: bool = True,
    ) -> dict[str, Any] | str:
        """A classification report (scikit-learn's: per-class precision/recall/F1 and
        support, accuracy, macro and weighted averages; multi-label dicts also have the
        exact-match ``accuracy``) as a dict, or as text with ``output_dict=False``."""
        from m2v_train._report import classification_report

        space, _ = self._fitted()
        predicted = self.predict(X, batch_size=batch_size, threshold=threshold)
        return classification_report(space, _labels(y), predicted, output_dict=output_dict)

    # ------------------------------------------------------------------ export

    def _export_head(self) -> ClassifierHead:
        space, net = self._fitted()
        layers = net.layers()
        return ClassifierHead(
            task="multi-label" if space.multilabel else "single-label",
            classes=tuple(space.classes),
            weights=tuple(np.asarray(weight, dtype=np.float32) for weight, _ in layers),
            biases=tuple(np.asarray(bias, dtype=np.float32) for _, bias in layers),
            threshold=0.5,
            extra={"trained_with": "m2v-train"},
        )

    def to_pipeline(self) -> StaticClassifier:
        """The trained classifier as an ``m2v_infer.StaticClassifier`` (numpy only, no
        torch): what :meth:`save_pretrained` writes, without the round trip to disk."""
        return StaticClassifier(self.to_static_model(), self._export_head())

    def _fitted_state(self) -> str:
        return f"{len(self._fitted()[0].classes)} classes"
