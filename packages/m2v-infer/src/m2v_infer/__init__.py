"""m2v-infer: the numpy-only runtime for static embedding models.

``from m2v_infer import StaticModel`` is a drop-in replacement for model2vec's
``StaticModel`` (same API, same outputs within 1e-6) that is faster, streams inputs of any
length with bounded memory (:meth:`StaticModel.encode_iter`) and truncates output
dimensions (``dimensions=``).  :class:`StaticClassifier` runs exported classifiers,
:class:`StaticRegressor` regression heads and :class:`StaticEmbedder` pair-similarity
(embedding) heads (spec/classifier.md).

Errors are typed: every error derives from :class:`m2v_format.M2VError` and carries a
stable ``code``; m2v-infer's own derive from :class:`InferError`.

:func:`embed_dataset` embeds a column of a Ray Dataset (the ``[ray]`` extra); it is
loaded on first use, so ``import m2v_infer`` never imports ray.
"""

import typing as _typing

from m2v_format import (
    ClassifierError,
    ClassifierNotFoundError,
    LegacyPipelineError,
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
    WrongHeadTaskError,
)
from m2v_infer._heads import StaticEmbedder, StaticRegressor
from m2v_infer._model import UNSET, StaticModel, WorkerPool

if _typing.TYPE_CHECKING:
    from m2v_infer._ray import embed_dataset


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
    "LegacyPipelineError",
    "MissingDependencyError",
    "StaticClassifier",
    "StaticEmbedder",
    "StaticModel",
    "StaticRegressor",
    "UnreadableInputError",
    "UnsupportedClassifierVersionError",
    "UnsupportedOutputError",
    "UnwritableOutputError",
    "WorkerError",
    "WorkerPool",
    "WrongHeadTaskError",
    "__version__",
    "default_model_path",
    "embed_dataset",
    "langchain_embeddings",
]


def langchain_embeddings(model: _typing.Any = None, **options: _typing.Any) -> _typing.Any:
    """A LangChain ``Embeddings`` (``embed_documents``, ``embed_query``) over a static model.

    ``model``: a :class:`StaticModel`, a folder, a hub id, or ``None`` (the bundled default
    model); ``options``: ``normalize``, ``dimensions``, ``batch_size``, ``num_workers``.
    Needs the ``langchain`` extra (``pip install "m2v-infer[langchain]"``), imported only
    now.

    Raises:
        MissingDependencyError: langchain-core is not installed.
    """
    from m2v_infer._langchain import langchain_embeddings as build

    return build(model, **options)


def __getattr__(name: str) -> _typing.Any:
    """On first use: :func:`embed_dataset` (``m2v_infer._ray``) and ``__version__`` (read
    from the installed metadata, one source: pyproject.toml)."""
    if name == "embed_dataset":
        from m2v_infer._ray import embed_dataset

        return embed_dataset
    if name == "__version__":
        from importlib.metadata import version

        return version("m2v-infer")
    raise AttributeError(f"module 'm2v_infer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "embed_dataset", "__version__"})
