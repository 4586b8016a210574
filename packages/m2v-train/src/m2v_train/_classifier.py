"""StaticModelForClassification: fine-tune a static model and a dense head on labelled texts.

The API is model2vec 0.10.0's (``model2vec.train.StaticModelForClassification``): its
argument names, positions and defaults are accepted (see :mod:`m2v_train._compat` and the
"Porting from model2vec" table in docs/train.md), next to m2v-train's own options.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from m2v_format import ClassifierHead, ModelCard, StaticModelData, save_classifier
from m2v_infer import UNSET, StaticClassifier, StaticModel
from tqdm import tqdm

from m2v_train import _compat
from m2v_train._batches import iterate
from m2v_train._device import resolve_device, seed_everything
from m2v_train._errors import InvalidParameterError, NotFittedError
from m2v_train._labels import Label, LabelSpace, class_weights, label_space
from m2v_train._loop import EpochRecord, LoopOptions, train_loop
from m2v_train._losses import classification_loss
from m2v_train._net import ClassifierNet, StaticEncoder, dense_head
from m2v_train._split import split


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


def _check_texts(texts: Sequence[str], name: str, *, allow_empty: bool = False) -> list[str]:
    if isinstance(texts, str):
        raise InvalidParameterError(f"{name} must be a sequence of strings, not a single string")
    items = list(texts)
    if not items and not allow_empty:
        raise InvalidParameterError(f"{name} is empty")
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidParameterError(f"{name}[{index}] is a {type(text).__name__}, not a str")
    return items


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


class StaticModelForClassification:
    """A text classifier on a static model: embedding bag (+ per-token weights) and an MLP.

    ``fit`` fine-tunes the embedding table, the token weights and the head with early
    stopping on a validation split; ``predict`` / ``predict_proba`` / ``evaluate`` use the
    trained network; ``save_pretrained`` exports a folder that
    ``m2v_infer.StaticClassifier`` runs with numpy alone (spec/classifier.md), and
    ``to_pipeline`` returns that runtime classifier in memory.
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
        path: str | os.PathLike[str] | StaticModel | None = None,
        *,
        token: str | None = None,
        model_name: str | os.PathLike[str] | None = None,
        max_length: int | Any | None = UNSET,
        n_layers: int = 1,
        hidden_dim: int = 512,
        out_dim: int | None = None,
        freeze: bool | None = None,
        normalize: bool = True,
        freeze_weights: bool | None = None,
        train_embeddings: bool | None = None,
        train_weights: bool | None = None,
        revision: str | None = None,
    ) -> StaticModelForClassification:
        """Start from a static model folder or hub id (resolved as ``m2v encode`` does:
        a local folder, else the Hugging Face hub, ``HF_HUB_OFFLINE`` respected), or an
        ``m2v_infer.StaticModel``.

        Args:
            path: the base model; ``None``: model2vec's default, the hub id
                ``minishlab/potion-base-32m``.
            token, revision: passed to the hub for a hub id.
            model_name: model2vec's deprecated name for ``path``.
            max_length: token limit per text for training and inference (default: the
                model's own ``max_length``); ``None``: no truncation.
            n_layers: hidden layers of the head (0: a linear head).
            hidden_dim: width of the hidden layers.
            out_dim: accepted for model2vec compatibility and ignored: ``fit`` sets the
                classes from the labels (as model2vec resets it).
            freeze: model2vec's name for ``not train_embeddings``.
            normalize: unit-normalize the pooled embedding before the head.
            freeze_weights: model2vec's name for ``not train_weights`` (``None``: not
                given).
            train_embeddings: fine-tune the embedding table (default; else frozen).
            train_weights: learn a weight per token (default), initialised from the
                model's weights, else 1.

        Raises:
            InvalidParameterError: an option is out of range, or both spellings of one
                option were given with different values.
            FormatError: the model cannot be found or read (``model-not-found``, ...).
        """
        if model_name is not None:
            warnings.warn(
                "model_name is model2vec's deprecated name for path; pass path",
                DeprecationWarning,
                stacklevel=2,
            )
        if isinstance(path, StaticModel):
            if model_name is not None:
                raise InvalidParameterError("pass a StaticModel as path or model_name, not both")
            model = path
            if max_length is not UNSET:
                model = StaticModel.from_data(path.data, max_length=max_length)
        else:
            source = _compat.model_path(path, model_name)
            model = StaticModel.from_pretrained(
                source if isinstance(source, str) else Path(source),  # a str may be a hub id
                max_length=max_length,
                token=token,
                revision=revision,
            )
        return cls.from_static_model(
            model=model,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            out_dim=out_dim,
            freeze=freeze,
            normalize=normalize,
            freeze_weights=freeze_weights,
            train_embeddings=train_embeddings,
            train_weights=train_weights,
        )

    @classmethod
    def from_static_model(
        cls,
        *,
        model: StaticModel | Any,
        max_length: int | Any | None = UNSET,
        n_layers: int = 1,
        hidden_dim: int = 512,
        out_dim: int | None = None,
        freeze: bool | None = None,
        normalize: bool = True,
        freeze_weights: bool | None = None,
        train_embeddings: bool | None = None,
        train_weights: bool | None = None,
    ) -> StaticModelForClassification:
        """Start from a loaded static model: an ``m2v_infer.StaticModel`` or a model2vec
        ``StaticModel`` (converted through its own saved folder).  The options are those of
        :meth:`from_pretrained`."""
        del out_dim  # set by fit, from the labels
        static = _compat.as_static_model(model)
        if max_length is not UNSET:
            static = StaticModel.from_data(static.data, max_length=max_length)
        return cls(
            static,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            normalize=normalize,
            train_embeddings=_compat.pick_inverted(
                "train_embeddings", train_embeddings, "freeze", freeze
            ),
            train_weights=_compat.pick_inverted(
                "train_weights", train_weights, "freeze_weights", freeze_weights
            ),
        )

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
        if validation_steps is not None:
            raise InvalidParameterError(
                f"validation_steps={validation_steps!r} is not supported: m2v-train validates "
                "once per epoch (early_stopping_patience counts epochs); leave it None"
            )
        size = _compat.pick(
            "validation_size",
            validation_size,
            "test_size",
            test_size,
            _compat.DEFAULT_VALIDATION_SIZE,
        )
        seed_value = _compat.pick("seed", seed, "random_seed", random_seed, _compat.DEFAULT_SEED)
        epoch_cap, epoch_floor = _compat.epochs(max_epochs, min_epochs)
        texts = _check_texts(X, "X")
        labels = _labels(y)
        if len(texts) != len(labels):
            raise InvalidParameterError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        if (X_val is None) != (y_val is None):
            raise InvalidParameterError("pass both X_val and y_val, or neither")
        generator = seed_everything(seed_value)
        space, counts = label_space(labels)
        targets = space.encode(labels)
        if X_val is not None and y_val is not None:
            val_texts = _check_texts(X_val, "X_val")
            val_labels = _labels(y_val)
            if len(val_texts) != len(val_labels):
                raise InvalidParameterError("X_val and y_val differ in length")
            val_targets = space.encode(val_labels, "y_val")
            train_texts, train_targets = texts, targets
        else:
            strata = None if space.multilabel else targets
            train_rows, val_rows = split(len(texts), size, seed=seed_value, strata=strata)
            train_texts = [texts[i] for i in train_rows]
            val_texts = [texts[i] for i in val_rows]
            train_targets, val_targets = targets[train_rows], targets[val_rows]
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
            min_epochs=epoch_floor,
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

    def _batches(
        self, texts_in: str | Sequence[str], batch_size: int, show_progress_bar: bool
    ) -> Any:
        """Token batches of the texts (one string: one text), with a progress bar if asked."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be an int >= 1, got {batch_size!r}")
        texts = (
            [texts_in]
            if isinstance(texts_in, str)
            else _check_texts(texts_in, "X", allow_empty=True)
        )
        batches = tqdm(
            iterate(self.tokenize(texts), batch_size),
            total=-(-len(texts) // batch_size),
            unit="batches",
            disable=not show_progress_bar,
        )
        return batches

    @torch.no_grad()
    def _logits(
        self, texts_in: str | Sequence[str], batch_size: int, show_progress_bar: bool = False
    ) -> np.ndarray[Any, Any]:
        space, net = self._fitted()
        batches = self._batches(texts_in, batch_size, show_progress_bar)
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

    def _head(self) -> ClassifierHead:
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

    def to_static_model(self) -> StaticModel:
        """The fine-tuned embedding model (no head): encodes exactly the head's input."""
        model = StaticModel.from_data(self._trained_data())
        model.base_model_name = self.base_model.base_model_name
        return model

    def to_pipeline(self) -> StaticClassifier:
        """The trained classifier as an ``m2v_infer.StaticClassifier`` (numpy only, no
        torch): what :meth:`save_pretrained` writes, without the round trip to disk."""
        return StaticClassifier(self.to_static_model(), self._head())

    def save_pretrained(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Export to a classifier folder (spec/classifier.md) that m2v-infer loads, and
        model2vec 0.10.0's ``StaticModelPipeline.from_pretrained`` too (rule M6).

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false.
        """
        card = ModelCard(base_model=self.base_model.base_model_name)
        return save_classifier(
            path, self._trained_data(), self._head(), overwrite=overwrite, card=card
        )

    def __repr__(self) -> str:
        state = "unfitted" if self._space is None else f"{len(self._space.classes)} classes"
        return f"StaticModelForClassification(dim={self.base_model.dim}, {state})"
