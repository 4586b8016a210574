"""Typed errors of m2v-infer: the :class:`InferError` family of the project's error model.

A class that refines a kind of failure lists the kind first, so it keeps the kind's code
(``InvalidArgumentError.code == "invalid-argument"``).  Every error derives from :class:`m2v_format.M2VError` and carries a stable ``code`` (see
``m2v_format._errors`` for the model).  Caller mistakes are also
:class:`m2v_format.UsageError` (and ``ValueError`` / ``TypeError``, so code written for
model2vec that catches those keeps working); a bad model folder raises m2v-format's own
:class:`m2v_format.FormatError` subclasses (``missing-file``, ``vocab-size-mismatch``, ...).
"""

from __future__ import annotations

from pathlib import Path

from m2v_format import InvalidArgumentError as _InvalidArgument
from m2v_format import InvalidInputError as _InvalidInput
from m2v_format import M2VError, MissingDependencyError, UsageError


class InferError(M2VError):
    """Base class of every error m2v-infer itself raises."""

    code = "infer-error"


class DefaultModelMissingError(InferError):
    """No model path was given and no default model is bundled with this installation."""

    code = "default-model-missing"


class InvalidArgumentError(_InvalidArgument, InferError):
    """An argument is out of range or of the wrong type (max_length, dimensions, ...)."""


class InvalidInputError(_InvalidInput, InferError):
    """A text to encode is not a string (``index`` names which)."""


class UnreadableInputError(InferError):
    """An input file cannot be read or decoded (``m2v encode --file``)."""

    code = "unreadable-input"


class UnsupportedOutputError(UsageError, InferError):
    """``m2v encode --output`` names a file type it cannot write."""

    code = "unsupported-output"


class UnwritableOutputError(InferError):
    """The output file cannot be written (``m2v encode --output``)."""

    code = "unwritable-output"


class HubUploadError(InferError):
    """``push_to_hub`` could not reach the Hugging Face hub, or the hub refused the upload."""

    code = "hub-upload-failed"


class WorkerError(InferError):
    """A worker process failed or died while encoding (``index``: the batch's first text)."""

    code = "worker-failed"


class WrongHeadTaskError(UsageError, InferError):
    """A head folder is loaded with the runtime of another task (a regression folder with
    ``StaticClassifier``, ...); the message names the class that runs it (``runtime``)."""

    code = "wrong-head-task"

    def __init__(self, message: str, *, runtime: str = "", path: str | Path | None = None) -> None:
        super().__init__(message, path=path)
        self.runtime = runtime


ALL_ERRORS: tuple[type[M2VError], ...] = (
    DefaultModelMissingError,
    InvalidArgumentError,
    InvalidInputError,
    UnreadableInputError,
    UnsupportedOutputError,
    UnwritableOutputError,
    HubUploadError,
    WorkerError,
    WrongHeadTaskError,
    MissingDependencyError,
)
"""Every error class m2v-infer raises of its own (``MissingDependencyError`` is m2v-format's)."""
