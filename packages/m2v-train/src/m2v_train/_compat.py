"""model2vec 0.10.0's argument names for the classifier, mapped onto m2v-train's own.

Code written for ``model2vec.train`` ports by changing the import: each of model2vec's
names is accepted with its meaning, and where m2v-train has its own name for the same
option (``test_size`` / ``validation_size``, ``random_seed`` / ``seed``, ``freeze`` /
``train_embeddings``, ``freeze_weights`` / ``train_weights``, ``model_name`` / ``path``),
passing both with different values is an :class:`InvalidParameterError`.  The table of
every call and how it maps is in docs/train.md ("Porting from model2vec").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from m2v_infer import StaticModel

from m2v_train._errors import InvalidParameterError

T = TypeVar("T")

DEFAULT_MODEL = "minishlab/potion-base-32m"
"""model2vec's default base model of ``from_pretrained()`` (a hub id)."""

DEFAULT_VALIDATION_SIZE = 0.1
DEFAULT_SEED = 42
DEFAULT_MAX_EPOCHS = 50
UNBOUNDED_EPOCHS = 9999
"""The cap model2vec puts on ``max_epochs=-1`` / ``None`` ("until early stopping")."""


def pick(ours: str, our_value: T | None, theirs: str, their_value: T | None, default: T) -> T:
    """The value of an option spelled ``ours`` here and ``theirs`` in model2vec.

    ``None`` means "not passed" for both spellings; both passed and different is an error.
    """
    if our_value is None:
        return default if their_value is None else their_value
    if their_value is not None and their_value != our_value:
        raise InvalidParameterError(
            f"{theirs}={their_value!r} and {ours}={our_value!r} disagree: {theirs} is "
            f"model2vec's name for {ours}; pass one of them"
        )
    return our_value


def pick_inverted(ours: str, our_value: bool | None, theirs: str, their_value: bool | None) -> bool:
    """``train_embeddings`` from ``freeze`` (and ``train_weights`` from ``freeze_weights``):
    model2vec's flag is the negation of ours; both default to training."""
    flipped = None if their_value is None else not their_value
    try:
        return bool(pick(ours, our_value, theirs, flipped, True))
    except InvalidParameterError:
        raise InvalidParameterError(
            f"{theirs}={their_value!r} and {ours}={our_value!r} disagree: {theirs}=X means "
            f"{ours}=not X; pass one of them"
        ) from None


def model_path(
    path: str | os.PathLike[str] | None, model_name: str | os.PathLike[str] | None
) -> str | os.PathLike[str]:
    """``from_pretrained``'s model: ``path``, or model2vec's deprecated ``model_name``, or
    model2vec's default hub id."""
    if model_name is None:
        return DEFAULT_MODEL if path is None else path
    if path is not None and os.fspath(path) != os.fspath(model_name):
        raise InvalidParameterError(
            f"path={os.fspath(path)!r} and model_name={os.fspath(model_name)!r} disagree: "
            "model_name is model2vec's deprecated name for path; pass path only"
        )
    return model_name


def epochs(max_epochs: int | None, min_epochs: int | None) -> tuple[int | None, int]:
    """``(max_epochs or None for "until early stopping", min_epochs)`` from model2vec's
    conventions: ``max_epochs`` ``-1`` or ``None`` is unbounded, ``min_epochs`` ``None`` is 1."""
    for name, value in (("max_epochs", max_epochs), ("min_epochs", min_epochs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidParameterError(f"{name} must be an int or None, got {value!r}")
    if max_epochs == 0:
        raise InvalidParameterError("max_epochs must be >= 1, or -1/None for no limit")
    unbounded = max_epochs is None or max_epochs < 0
    return (None if unbounded else max_epochs), (1 if min_epochs is None else min_epochs)


def as_static_model(model: Any) -> StaticModel:
    """An ``m2v_infer.StaticModel``, or model2vec's ``StaticModel`` converted through its own
    ``save_pretrained`` folder (read back with m2v-format's checks; nothing is pickled)."""
    if isinstance(model, StaticModel):
        return model
    if all(hasattr(model, name) for name in ("save_pretrained", "embedding", "tokenizer")):
        with tempfile.TemporaryDirectory(prefix="m2v-train-") as temp:
            folder = Path(temp) / "model"
            model.save_pretrained(str(folder))
            return StaticModel.from_pretrained(folder, memory_map=False)
    raise InvalidParameterError(
        f"model must be an m2v_infer.StaticModel (or a model2vec StaticModel), got "
        f"{type(model).__name__}; StaticModelForClassification.from_pretrained takes a folder "
        "or hub id"
    )
