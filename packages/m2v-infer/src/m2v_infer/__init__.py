"""m2v-infer: the numpy-only runtime for static embedding models.

``from m2v_infer import StaticModel`` is a drop-in replacement for model2vec's
``StaticModel`` (same API, same outputs within 1e-6) that is faster, streams inputs of any
length with bounded memory (:meth:`StaticModel.encode_iter`) and truncates output
dimensions (``dimensions=``).  :class:`StaticClassifier` runs exported classifiers.

Errors are typed: every error derives from :class:`m2v_format.M2VError` and carries a
stable ``code``; m2v-infer's own derive from :class:`InferError`.

:func:`embed_dataset` embeds a column of a Ray Dataset (the ``[ray]`` extra); it is
loaded on first use, so ``import m2v_infer`` never imports ray.
"""

import typing as _typing
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

if _typing.TYPE_CHECKING:
    from m2v_infer._ray import embed_dataset

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
    "embed_dataset",
]


def __getattr__(name: str) -> _typing.Any:
    """Load :func:`embed_dataset` (``m2v_infer._ray``) on first use."""
    if name == "embed_dataset":
        from m2v_infer._ray import embed_dataset

        return embed_dataset
    raise AttributeError(f"module 'm2v_infer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "embed_dataset"})
