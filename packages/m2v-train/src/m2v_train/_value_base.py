"""What the regression and pair-similarity trainers share (value heads, spec/classifier.md R1-R7).

Both fine-tune a static model's embedding table and token weights with a dense head whose
output is used as is (no classes): :class:`m2v_train.StaticModelForRegression` regresses
vectors of numbers, :class:`m2v_train.StaticModelForPairSimilarity` embeds paired texts close
together.  This module holds the model loading (model2vec's ``from_pretrained`` /
``from_static_model`` arguments, resolved as the classifier resolves them), the option
plumbing of ``fit``, the head construction and the export to a value-head folder.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from m2v_format import ClassifierHead, ModelCard, StaticModelData, save_classifier
from m2v_infer import UNSET, StaticModel
from torch import nn
from tqdm import tqdm

from m2v_train import _compat
from m2v_train._batches import iterate
from m2v_train._classifier import auto_batch_size
from m2v_train._device import resolve_device
from m2v_train._errors import InvalidParameterError, NotFittedError
from m2v_train._loop import EpochRecord, LoopOptions
from m2v_train._net import ClassifierNet, StaticEncoder, dense_head


def load_base_model(
    path: str | os.PathLike[str] | StaticModel | None,
    *,
    token: str | None,
    model_name: str | os.PathLike[str] | None,
    max_length: int | Any | None,
    revision: str | None,
) -> StaticModel:
    """The base model of ``from_pretrained``: a folder or hub id (model2vec's default hub id
    when ``None``; ``model_name`` is model2vec's deprecated alias) or a loaded model."""
    if model_name is not None:
        warnings.warn(
            "model_name is model2vec's deprecated name for path; pass path",
            DeprecationWarning,
            stacklevel=3,
        )
    if isinstance(path, StaticModel):
        if model_name is not None:
            raise InvalidParameterError("pass a StaticModel as path or model_name, not both")
        if max_length is UNSET:
            return path
        return StaticModel.from_data(path.data, max_length=max_length)
    source = _compat.model_path(path, model_name)
    return StaticModel.from_pretrained(
        source if isinstance(source, str) else Path(source),  # a str may be a hub id
        max_length=max_length,
        token=token,
        revision=revision,
    )


def check_texts(texts: Sequence[str], name: str, *, allow_empty: bool = False) -> list[str]:
    """``texts`` as a list of strings (a single string is refused)."""
    if isinstance(texts, str):
        raise InvalidParameterError(f"{name} must be a sequence of strings, not a single string")
    try:
        items = list(texts)
    except TypeError:
        raise InvalidParameterError(f"{name} must be a sequence of strings") from None
    if not items and not allow_empty:
        raise InvalidParameterError(f"{name} is empty")
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidParameterError(f"{name}[{index}] is a {type(text).__name__}, not a str")
    return items


@dataclasses.dataclass(frozen=True)
class FitPlan:
    """``fit``'s options resolved from model2vec's and m2v-train's spellings."""

    validation_size: float | int
    seed: int
    max_epochs: int | None
    min_epochs: int


def fit_plan(
    *,
    validation_steps: int | None,
    validation_size: float | int | None,
    test_size: float | int | None,
    seed: int | None,
    random_seed: int | None,
    max_epochs: int | None,
    min_epochs: int | None,
) -> FitPlan:
    """Resolve the shared options of ``fit`` (see ``StaticModelForClassification.fit``)."""
    if validation_steps is not None:
        raise InvalidParameterError(
            f"validation_steps={validation_steps!r} is not supported: m2v-train validates "
            "once per epoch (early_stopping_patience counts epochs); leave it None"
        )
    size = _compat.pick(
        "validation_size", validation_size, "test_size", test_size, _compat.DEFAULT_VALIDATION_SIZE
    )
    seed_value = _compat.pick("seed", seed, "random_seed", random_seed, _compat.DEFAULT_SEED)
    cap, floor = _compat.epochs(max_epochs, min_epochs)
    return FitPlan(validation_size=size, seed=seed_value, max_epochs=cap, min_epochs=floor)


class ValueTrainer:
    """Base of the value-head trainers: a static encoder, an optional dense head, export."""

    task: ClassVar[str] = ""
    """The head task written to classifier.json (R1)."""

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
        """Wrap ``model``; the head is built (and re-initialised) by ``fit``."""
        for name, value, low in (("n_layers", n_layers, 0), ("hidden_dim", hidden_dim, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(f"{name} must be an int >= {low}, got {value!r}")
        if out_dim is not None and (
            isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1
        ):
            raise InvalidParameterError(f"out_dim must be None or an int >= 1, got {out_dim!r}")
        self.base_model = model
        self.n_layers = n_layers
        self.hidden_dim = hidden_dim
        self.out_dim = out_dim
        self.normalize = bool(normalize)
        self.train_embeddings = bool(train_embeddings)
        self.train_weights = bool(train_weights)
        self.history: list[EpochRecord] = []
        self._net: ClassifierNet | None = None

    @classmethod
    def _build(
        cls,
        model: StaticModel | Any,
        *,
        max_length: int | Any | None,
        n_layers: int,
        hidden_dim: int,
        out_dim: int | None,
        freeze: bool | None,
        normalize: bool,
        freeze_weights: bool | None,
        train_embeddings: bool | None,
        train_weights: bool | None,
    ) -> Any:
        static = _compat.as_static_model(model)
        if max_length is not UNSET:
            static = StaticModel.from_data(static.data, max_length=max_length)
        return cls(
            static,
            n_layers=n_layers,
            hidden_dim=hidden_dim,
            out_dim=out_dim,
            normalize=normalize,
            train_embeddings=_compat.pick_inverted(
                "train_embeddings", train_embeddings, "freeze", freeze
            ),
            train_weights=_compat.pick_inverted(
                "train_weights", train_weights, "freeze_weights", freeze_weights
            ),
        )

    # ------------------------------------------------------------------ building

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

    def _fitted(self) -> ClassifierNet:
        if self._net is None:
            raise NotFittedError(
                "call fit() first (before fit there is no head; base_model.encode(X) gives the "
                "embeddings)"
            )
        return self._net

    @torch.no_grad()
    def _outputs(
        self, texts_in: str | Sequence[str], batch_size: int, show_progress_bar: bool
    ) -> np.ndarray[Any, Any]:
        """The head's outputs for single texts, float32 ``[n, out]``."""
        net = self._fitted()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be an int >= 1, got {batch_size!r}")
        texts = (
            [texts_in]
            if isinstance(texts_in, str)
            else check_texts(texts_in, "X", allow_empty=True)
        )
        net.eval()
        parts = [
            net.head(net.encoder(batch)).numpy()
            for _, batch in tqdm(
                iterate(self.tokenize(texts), batch_size),
                total=-(-len(texts) // batch_size),
                unit="batches",
                disable=not show_progress_bar,
            )
        ]
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

    def _trained_data(self) -> StaticModelData:
        net = self._fitted()
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

    def _output_names(self) -> tuple[str, ...] | None:
        return None

    def _value_head(self) -> ClassifierHead:
        layers = self._fitted().layers()
        return ClassifierHead(
            task=self.task,  # type: ignore[arg-type]
            classes=(),
            weights=tuple(np.asarray(weight, dtype=np.float32) for weight, _ in layers),
            biases=tuple(np.asarray(bias, dtype=np.float32) for _, bias in layers),
            version="1.1",
            extra={"trained_with": "m2v-train"},
            outputs=self._output_names(),
        )

    def to_static_model(self) -> StaticModel:
        """The fine-tuned embedding model without the head (model2vec's
        ``to_static_model``): the trained table and token weights, encoding the head's
        input."""
        model = StaticModel.from_data(self._trained_data())
        model.base_model_name = self.base_model.base_model_name
        return model

    def save_pretrained(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Export the model and head as a folder (spec/classifier.md 1.1) that m2v-infer
        runs with numpy alone, and model2vec 0.10.0's ``StaticModelPipeline`` loads (an
        ``identity`` head, rule M6).

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false.
            NotFittedError: before :meth:`fit`.
        """
        card = ModelCard(base_model=self.base_model.base_model_name)
        return save_classifier(
            path, self._trained_data(), self._value_head(), overwrite=overwrite, card=card
        )

    def __repr__(self) -> str:
        state = "unfitted" if self._net is None else f"{self.output_dim} outputs"
        return f"{type(self).__name__}(dim={self.base_model.dim}, {state})"
