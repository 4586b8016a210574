"""m2v-train: fine-tune classifiers on static models and pre-train static models.

* ``StaticModelForClassification.from_pretrained(model).fit(texts, labels)`` fine-tunes
  the embedding table, per-token weights and an MLP head; ``save_pretrained`` exports a
  folder that ``m2v_infer.StaticClassifier`` runs with numpy alone (spec/classifier.md).
* ``StaticModelForRegression`` (texts to vectors of numbers, mean squared error) and
  ``StaticModelForPairSimilarity`` (paired texts embedded close together, InfoNCE) export
  value heads that ``m2v_infer.StaticRegressor`` / ``m2v_infer.StaticEmbedder`` run.
* ``featurize(texts, work_dir, teacher=...)`` stores a teacher's vectors of a corpus in
  resumable ``.npy`` shards; ``pretrain(start_model, load_features(work_dir))`` trains a
  distilled model to reproduce them (Tokenlearn-style), see docs/train.md.

Importing the package is light: torch loads with the first use of the classes or functions
that need it.  Errors are typed: every error derives from :class:`TrainError` and carries a
stable ``code``.
"""

from __future__ import annotations

from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from m2v_train._data import read_corpus, read_labelled, read_pairs, read_targets
from m2v_train._errors import (
    DataFileError,
    DeviceError,
    FeatureStoreError,
    InvalidLabelsError,
    InvalidParameterError,
    NotFittedError,
    TeacherError,
    TrainError,
)
from m2v_train._features import FeatureSet, load_features, merge_features, select_features
from m2v_train._featurize import default_work_dir, featurize

if TYPE_CHECKING:
    from m2v_train._classifier import StaticModelForClassification
    from m2v_train._pairs import StaticModelForPairSimilarity
    from m2v_train._pretrain import PretrainOptions, PretrainReport, pretrain
    from m2v_train._regression import StaticModelForRegression

__version__ = _version("m2v-train")
"""This package's version, read from its installed metadata (one source: pyproject.toml)."""

_LAZY = {
    "StaticModelForClassification": "m2v_train._classifier",
    "StaticModelForPairSimilarity": "m2v_train._pairs",
    "StaticModelForRegression": "m2v_train._regression",
    "PretrainOptions": "m2v_train._pretrain",
    "PretrainReport": "m2v_train._pretrain",
    "pretrain": "m2v_train._pretrain",
}


def __getattr__(name: str) -> Any:
    """Import the torch-backed names on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'm2v_train' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DataFileError",
    "DeviceError",
    "FeatureSet",
    "FeatureStoreError",
    "InvalidLabelsError",
    "InvalidParameterError",
    "NotFittedError",
    "PretrainOptions",
    "PretrainReport",
    "StaticModelForClassification",
    "StaticModelForPairSimilarity",
    "StaticModelForRegression",
    "TeacherError",
    "TrainError",
    "__version__",
    "default_work_dir",
    "featurize",
    "load_features",
    "merge_features",
    "pretrain",
    "read_corpus",
    "read_labelled",
    "read_pairs",
    "read_targets",
    "select_features",
]
