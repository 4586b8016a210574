"""m2v-infer: the numpy-only runtime for static embedding models.

``from m2v_infer import StaticModel`` is a drop-in replacement for model2vec's
``StaticModel`` (same API, same outputs within 1e-6) that is faster, streams inputs of any
length with bounded memory (:meth:`StaticModel.encode_iter`) and truncates output
dimensions (``dimensions=``).  :class:`StaticClassifier` runs exported classifiers.

Errors are typed: every error derives from :class:`m2v_format.M2VError` and carries a
stable ``code``; m2v-infer's own derive from :class:`InferError`.
"""

from importlib.metadata import version as _version

from m2v_format import (
    ClassifierError,
    ClassifierNotFoundError,
    MissingDependencyError,
    UnsupportedClassifierVersionError,
)

from m2v_infer._classifier import StaticClassifier
from m2v_infer._default import DEFAULT_MODEL_DIR, default_model_path
from m2v_infer._errors import (
    DefaultModelMissingError,
    HubUploadError,
    InferError,
    InvalidArgumentError,
    InvalidInputError,
    UnreadableInputError,
    UnsupportedOutputError,
    UnwritableOutputError,
    WorkerError,
)
from m2v_infer._model import UNSET, StaticModel, WorkerPool

__version__ = _version("m2v-infer")
"""This package's version, read from its installed metadata (one source: pyproject.toml)."""

__all__ = [
    "DEFAULT_MODEL_DIR",
    "UNSET",
    "ClassifierError",
    "ClassifierNotFoundError",
    "DefaultModelMissingError",
    "HubUploadError",
    "InferError",
    "InvalidArgumentError",
    "InvalidInputError",
    "MissingDependencyError",
    "StaticClassifier",
    "StaticModel",
    "UnreadableInputError",
    "UnsupportedClassifierVersionError",
    "UnsupportedOutputError",
    "UnwritableOutputError",
    "WorkerError",
    "WorkerPool",
    "__version__",
    "default_model_path",
]
