"""StaticModelForRegression: fine-tune a static model and a dense head to predict numbers.

The API is model2vec 0.10.0's ``model2vec.train.StaticModelForRegression`` (its argument
names, positions and defaults; mean squared error; early stopping on the validation loss),
next to m2v-train's own keyword-only options.  ``y`` is 2-D: one vector of targets per text
(``[[v], ...]`` for a single target).  The export is a regression head (spec/classifier.md
R1-R5) that ``m2v_infer.StaticRegressor`` runs with numpy alone and model2vec's
``StaticModelPipeline`` loads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import torch
from m2v_infer import UNSET, StaticModel, StaticRegressor

from m2v_train._device import seed_everything
from m2v_train._errors import InvalidParameterError
from m2v_train._loop import train_loop
from m2v_train._net import ClassifierNet
from m2v_train._split import split
from m2v_train._trainer import check_texts, fit_plan
from m2v_train._value_base import ValueTrainer


def as_targets(values: Any, name: str) -> np.ndarray[Any, Any]:
    """Regression targets as float32 ``[n, outputs]``: a 2-D array, tensor or list of lists
    of finite numbers."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    elif not isinstance(values, np.ndarray) and hasattr(values, "to_numpy"):
        values = values.to_numpy()  # pandas
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"{name} must be vectors of numbers of one length ([n, outputs])"
        ) from None
    if array.ndim != 2:
        raise InvalidParameterError(
            f"{name} must be 2-dimensional [n, outputs], got shape {array.shape}; for one "
            "target per text pass [[v] for v in values] (as model2vec)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidParameterError(f"{name} is empty (shape {array.shape})")
    if not np.isfinite(array).all():
        raise InvalidParameterError(f"{name} holds NaN or infinite values")
    return array


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.mse_loss(outputs, targets.to(outputs.device, outputs.dtype))


def _negative_mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return -float(_mse(outputs, targets))


class StaticModelForRegression(ValueTrainer):
    """A regression model on a static model: embedding bag (+ per-token weights) and an MLP.

    ``fit(X, y)`` fine-tunes the table, the token weights and the head with mean squared
    error and early stopping on the validation loss; ``predict`` / ``encode`` return the
    head's outputs; ``evaluate`` reports MSE, R², Pearson and Spearman per output;
    ``save_pretrained`` exports a folder that ``m2v_infer.StaticRegressor`` runs.
    """

    task = "regression"

    def __init__(
        self,
        model: StaticModel,
        *,
        n_layers: int = 1,
        hidden_dim: int = 512,
        out_dim: int | None = 2,
        normalize: bool = True,
        train_embeddings: bool = True,
        train_weights: bool = True,
    ) -> None:
        """Wrap ``model``; ``fit`` builds the head, its width set from ``y``."""
        super().__init__(
            model,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            out_dim=out_dim,
            normalize=normalize,
            train_embeddings=train_embeddings,
            train_weights=train_weights,
        )
        self.output_names: tuple[str, ...] | None = None

    # model2vec's signatures: out_dim is an int defaulting to 2 here (the base's int | None)
    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        path: str | os.PathLike[str] | StaticModel | None = None,
        *,
        token: str | None = None,
        model_name: str | os.PathLike[str] | None = None,
        max_length: int | Any | None = UNSET,
        n_layers: int = 1,
        hidden_dim: int = 512,
        out_dim: int = 2,
        freeze: bool | None = None,
        normalize: bool = True,
        freeze_weights: bool | None = None,
        train_embeddings: bool | None = None,
        train_weights: bool | None = None,
        revision: str | None = None,
    ) -> Self:
        """``StaticModelForClassification.from_pretrained`` with model2vec's ``out_dim``
        default of 2 (reset by :meth:`fit` from ``y``, as in model2vec); ``n_layers=0``
        gives a single linear layer (no head at all when ``y`` has the embedding's width).

        Raises:
            InvalidParameterError: an option is out of range, or both spellings of one
                option were given with different values.
            FormatError: the model cannot be found or read.
        """
        return super().from_pretrained(
            path,
            token=token,
            model_name=model_name,
            max_length=max_length,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            out_dim=out_dim,
            freeze=freeze,
            normalize=normalize,
            freeze_weights=freeze_weights,
            train_embeddings=train_embeddings,
            train_weights=train_weights,
            revision=revision,
        )

    @classmethod
    def from_static_model(  # type: ignore[override]
        cls,
        *,
        model: StaticModel | Any,
        max_length: int | Any | None = UNSET,
        n_layers: int = 1,
        hidden_dim: int = 512,
        out_dim: int = 2,
        freeze: bool | None = None,
        normalize: bool = True,
        freeze_weights: bool | None = None,
        train_embeddings: bool | None = None,
        train_weights: bool | None = None,
    ) -> Self:
        """Start from a loaded ``m2v_infer.StaticModel`` or model2vec ``StaticModel``; the
        options are :meth:`from_pretrained`'s."""
        return super().from_static_model(
            model=model,
            max_length=max_length,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            out_dim=out_dim,
            freeze=freeze,
            normalize=normalize,
            freeze_weights=freeze_weights,
            train_embeddings=train_embeddings,
            train_weights=train_weights,
        )

    def fit(
        self,
        X: Sequence[str],  # noqa: N803 - scikit-learn / model2vec naming
        y: Any,
        learning_rate: float = 1e-3,
        batch_size: int | None = None,
        min_epochs: int | None = None,
        max_epochs: int | None = -1,
        early_stopping_patience: int | None = 5,
        test_size: float | int | None = None,
        device: str | None = "auto",
        X_val: Sequence[str] | None = None,  # noqa: N803
        y_val: Any = None,
        validation_steps: int | None = None,
        random_seed: int | None = None,
        token_dropout: float = 0.0,
        *,
        validation_size: float | int | None = None,
        seed: int | None = None,
        lr_schedule: str = "plateau",
        weight_decay: float = 0.0,
        output_names: Sequence[str] | None = None,
        show_progress: bool = True,
    ) -> StaticModelForRegression:
        """Train on texts ``X`` and target vectors ``y`` ``[n, outputs]``; return ``self``.

        The positional order and defaults are model2vec's; m2v-train's own options are
        keyword-only.  Mean squared error; the epoch of lowest validation loss is kept.

        Args:
            X, y: training texts and their targets (2-D array, tensor or list of lists).
            learning_rate, batch_size, min_epochs, max_epochs, early_stopping_patience,
            test_size, device, validation_steps, random_seed, token_dropout,
            validation_size, seed, lr_schedule, weight_decay, show_progress: as
                ``StaticModelForClassification.fit`` (``max_epochs`` -1: until early
                stopping; the validation split is not stratified).
            X_val, y_val: a validation set; without it ``validation_size`` of the data is
                split off with ``seed``.
            output_names: a name per output, stored in the export (rule R3).

        Raises:
            InvalidParameterError: an option is out of range, ``y`` is not 2-D numbers of
                the texts' count, or ``y_val``'s width differs from ``y``'s.
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
        targets = as_targets(y, "y")
        if len(texts) != len(targets):
            raise InvalidParameterError(f"X has {len(texts)} texts but y has {len(targets)} rows")
        if (X_val is None) != (y_val is None):
            raise InvalidParameterError("pass both X_val and y_val, or neither")
        names = None
        if output_names is not None:
            names = tuple(str(name) for name in output_names)
            if len(names) != targets.shape[1] or len(set(names)) != len(names):
                raise InvalidParameterError(
                    f"output_names must be {targets.shape[1]} distinct names, got {names!r}"
                )
        if X_val is not None:
            val_texts = check_texts(X_val, "X_val")
            val_targets = as_targets(y_val, "y_val")
            if len(val_texts) != len(val_targets):
                raise InvalidParameterError("X_val and y_val differ in length")
            if val_targets.shape[1] != targets.shape[1]:
                raise InvalidParameterError(
                    f"y_val has {val_targets.shape[1]} outputs but y has {targets.shape[1]}"
                )
            train_texts, train_targets = texts, targets
        else:
            train_rows, val_rows = split(len(texts), plan.validation_size, seed=plan.seed)
            train_texts = [texts[i] for i in train_rows]
            val_texts = [texts[i] for i in val_rows]
            train_targets, val_targets = targets[train_rows], targets[val_rows]
        generator = seed_everything(plan.seed)
        options = self._loop_options(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            n_train=len(train_texts),
            n_val=len(val_texts),
            plan=plan,
            patience=early_stopping_patience,
            lr_schedule=lr_schedule,
            token_dropout=token_dropout,
            device=device,
            show_progress=show_progress,
        )
        encoder = self._encoder()
        self.out_dim = int(targets.shape[1])
        net = ClassifierNet(encoder, self._head(encoder.dim, self.out_dim))
        self.history = train_loop(
            net,
            self.tokenize(train_texts),
            train_targets,
            self.tokenize(val_texts),
            val_targets,
            loss_fn=_mse,
            score_fn=_negative_mse,
            options=options,
            generator=generator,
        )
        self._net, self.output_names = net, names
        return self

    def _output_names(self) -> tuple[str, ...] | None:
        return self.output_names

    def predict(
        self,
        X: str | Sequence[str],  # noqa: N803
        show_progress_bar: bool = False,
        batch_size: int = 1024,
    ) -> np.ndarray[Any, Any]:
        """Predicted values, float32 ``[n, outputs]`` (``[1, outputs]`` for one string, as
        model2vec's pipeline; ``(0, outputs)`` for no texts)."""
        return self._outputs(X, batch_size, show_progress_bar)

    def encode(
        self,
        X: str | Sequence[str],  # noqa: N803
        batch_size: int = 1024,
        show_progress_bar: bool = False,
    ) -> np.ndarray[Any, Any]:
        """The head's outputs, as model2vec's ``encode``: float32 ``[n, outputs]``
        (``[outputs]`` for one string).  Before :meth:`fit`: :class:`NotFittedError`."""
        outputs = self._outputs(X, batch_size, show_progress_bar)
        return outputs[0] if isinstance(X, str) else outputs

    def evaluate(
        self,
        X: Sequence[str],  # noqa: N803
        y: Any,
        batch_size: int = 1024,
    ) -> dict[str, Any]:
        """``mse`` (over every value), ``r2``, ``pearson`` and ``spearman`` (means over the
        outputs), ``outputs`` (the four per output, by name) and ``support``: the exported
        model's predictions (numpy, ``m2v_infer.StaticRegressor.evaluate``) against ``y``."""
        return self.to_pipeline().evaluate(
            check_texts(X, "X"), as_targets(y, "y"), batch_size=batch_size
        )

    def to_pipeline(self) -> StaticRegressor:
        """The trained model as an ``m2v_infer.StaticRegressor`` (numpy only, no torch):
        what :meth:`save_pretrained` writes, without the round trip to disk."""
        return StaticRegressor(self.to_static_model(), self._export_head())
