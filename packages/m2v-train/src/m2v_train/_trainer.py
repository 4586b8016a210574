"""What every fine-tuning trainer shares: the base model, its loading, ``fit``'s options, export.

:class:`m2v_train.StaticModelForClassification`, :class:`m2v_train.StaticModelForRegression`
and :class:`m2v_train.StaticModelForPairSimilarity` each fine-tune a static model's embedding
table and token weights under a dense head.  This module holds, once for the three: model2vec
0.10.0's ``from_pretrained`` / ``from_static_model`` (loading the base model and mapping
model2vec's argument names through :mod:`m2v_train._compat`), the checks of the texts and of
``fit``'s shared options, the encoder, the token batches of inference and the export of the
fine-tuned model with its head.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from m2v_format import ClassifierHead, ModelCard, StaticModelData, save_classifier
from m2v_infer import UNSET, StaticModel
from tqdm import tqdm

from m2v_train import _compat
from m2v_train._batches import TokenBatch, iterate
from m2v_train._errors import InvalidParameterError, NotFittedError
from m2v_train._loop import EpochRecord
from m2v_train._net import ClassifierNet, StaticEncoder


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


class StaticTrainer:
    """Base of the trainers: a static model to fine-tune, the network ``fit`` builds, export.

    Subclasses set :meth:`_export_head` (the head written next to the model) and
    :meth:`_fitted_state` (``repr``'s description of the fitted model).
    """

    _not_fitted: ClassVar[str] = "call fit() first"
    """The :class:`NotFittedError` message of using the model before ``fit``."""

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
        """Wrap ``model``; the head is built (and re-initialised) by ``fit``."""
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
    ) -> Self:
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
            n_layers: hidden layers of the head (0: a linear head; for the pair and
                regression trainers, no head at all when the output has the embedding's
                width).
            hidden_dim: width of the hidden layers.
            out_dim: the head's output width.  The classifier accepts it for model2vec
                compatibility and ignores it, and the regressor resets it from ``y`` (both
                as model2vec): their ``fit`` sets it; for the pair trainer ``None`` is the
                embedding dimension.
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
        model = load_base_model(
            path, token=token, model_name=model_name, max_length=max_length, revision=revision
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
    ) -> Self:
        """Start from a loaded static model: an ``m2v_infer.StaticModel`` or a model2vec
        ``StaticModel`` (converted through its own saved folder).  The options are those of
        :meth:`from_pretrained`."""
        static = _compat.as_static_model(model)
        if max_length is not UNSET:
            static = StaticModel.from_data(static.data, max_length=max_length)
        return cls._new(
            static,
            out_dim,
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

    @classmethod
    def _new(cls, model: StaticModel, out_dim: int | None, **options: Any) -> Self:
        """The trainer of ``model``; ``out_dim`` is ignored here (set by ``fit``)."""
        del out_dim
        return cls(model, **options)

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

    # ------------------------------------------------------------------ inference

    def _fitted_net(self) -> ClassifierNet:
        if self._net is None:
            raise NotFittedError(self._not_fitted)
        return self._net

    def _token_batches(
        self, texts_in: str | Sequence[str], batch_size: int, show_progress_bar: bool
    ) -> Iterable[tuple[Any, TokenBatch]]:
        """Token batches of the texts (one string: one text), with a progress bar if asked."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"batch_size must be an int >= 1, got {batch_size!r}")
        texts = (
            [texts_in]
            if isinstance(texts_in, str)
            else check_texts(texts_in, "X", allow_empty=True)
        )
        return tqdm(
            iterate(self.tokenize(texts), batch_size),
            total=-(-len(texts) // batch_size),
            unit="batches",
            disable=not show_progress_bar,
        )

    # ------------------------------------------------------------------ export

    def _export_head(self) -> ClassifierHead:
        """The trained head as written to the exported folder."""
        raise NotImplementedError

    def _fitted_state(self) -> str:
        """``repr``'s description of the fitted model."""
        raise NotImplementedError

    def _trained_data(self) -> StaticModelData:
        table, weights = self._fitted_net().encoder.baked()
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
        """The fine-tuned embedding model without the head (model2vec's
        ``to_static_model``): the trained table and token weights, encoding exactly the
        head's input."""
        model = StaticModel.from_data(self._trained_data())
        model.base_model_name = self.base_model.base_model_name
        return model

    def save_pretrained(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Export the model and head as a folder (spec/classifier.md) that m2v-infer runs
        with numpy alone, and model2vec 0.10.0's ``StaticModelPipeline.from_pretrained``
        loads (rule M6; value heads as an ``identity`` head).

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false.
            NotFittedError: before ``fit``.
        """
        card = ModelCard(base_model=self.base_model.base_model_name)
        return save_classifier(
            path, self._trained_data(), self._export_head(), overwrite=overwrite, card=card
        )

    def __repr__(self) -> str:
        state = "unfitted" if self._net is None else self._fitted_state()
        return f"{type(self).__name__}(dim={self.base_model.dim}, {state})"
