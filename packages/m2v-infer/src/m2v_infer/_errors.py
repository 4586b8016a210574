"""Typed errors of m2v-infer.

Every error m2v-infer raises for bad input derives from :class:`InferError`, which itself
derives from :class:`m2v_format.FormatError`: ``except FormatError`` catches every error
of both libraries (the ``m2v`` command does exactly that), and each class carries a
stable machine-readable ``code`` that is never renamed once released.  Errors about the
model folder itself (a missing file, a bad tensor, ...) are m2v-format's and keep their
codes (``missing-file``, ``vocab-size-mismatch``, ...).

Where Python has a natural built-in category the class also derives from it
(``InvalidArgumentError`` is a ``ValueError``, ``InvalidInputError`` a ``TypeError``) so
code written for model2vec that catches those keeps working.
"""

from __future__ import annotations

from m2v_format import FormatError


class InferError(FormatError):
    """Base class of every error m2v-infer raises for bad input or a bad environment."""

    code = "infer-error"


class DefaultModelMissingError(InferError):
    """No model path was given and no default model is bundled with this installation."""

    code = "default-model-missing"


class InvalidArgumentError(InferError, ValueError):
    """An argument is out of range or of the wrong type (max_length, dimensions, ...)."""

    code = "invalid-argument"


class InvalidInputError(InferError, TypeError):
    """A text to encode is not a string."""

    code = "invalid-input"


class UnreadableInputError(InferError):
    """An input file cannot be read or decoded (``m2v encode --file``)."""

    code = "unreadable-input"


class UnsupportedOutputError(InferError):
    """``m2v encode --output`` names a file type it cannot write."""

    code = "unsupported-output"


class UnwritableOutputError(InferError):
    """The output file cannot be written (``m2v encode --output``)."""

    code = "unwritable-output"


class MissingDependencyError(InferError):
    """An optional dependency needed for the requested feature is not installed."""

    code = "missing-dependency"


ALL_ERRORS: tuple[type[InferError], ...] = (
    DefaultModelMissingError,
    InvalidArgumentError,
    InvalidInputError,
    UnreadableInputError,
    UnsupportedOutputError,
    UnwritableOutputError,
    MissingDependencyError,
)
"""Every concrete m2v-infer error class (a test checks the codes are unique)."""
