"""Typed errors of m2v-distill: the :class:`DistillError` family of the project's error model.

Every error derives from :class:`m2v_format.M2VError` and carries a stable ``code`` (never
renamed once released).  A class that refines a kind of failure lists the kind first and
keeps its code: :class:`InvalidParameterError` is an :class:`m2v_format.InvalidArgumentError`
(``"invalid-argument"``, also a ``ValueError``), :class:`DeviceUnavailableError` an
:class:`m2v_format.DeviceUnavailableError`.  Errors about a model folder on disk (reading or
writing it) come from m2v-format as ``FormatError``.
"""

from __future__ import annotations

from m2v_format import DeviceUnavailableError as _DeviceUnavailable
from m2v_format import InvalidArgumentError, M2VError


class DistillError(M2VError):
    """Base class of every error m2v-distill raises for bad input or an unusable teacher."""

    code = "distill-error"


class InvalidParameterError(InvalidArgumentError, DistillError):
    """An option has a wrong type or a value outside its range (pca_dims, sif_coefficient, ...)."""


class InvalidPatternError(InvalidParameterError):
    """``token_remove_pattern`` is not a valid regular expression."""

    code = "invalid-pattern"


class TeacherNotFoundError(DistillError):
    """The teacher is neither a local model folder nor a hub id that can be resolved."""

    code = "teacher-not-found"


class TeacherLoadError(DistillError):
    """The teacher exists but transformers cannot load it as a model."""

    code = "teacher-load-failed"


class SlowTokenizerError(DistillError):
    """The teacher has no fast (``tokenizers``-backed) tokenizer, which distillation needs."""

    code = "no-fast-tokenizer"


class UnsupportedTokenizerError(DistillError):
    """The teacher's tokenizer model is not WordPiece, BPE, Unigram or WordLevel."""

    code = "unsupported-tokenizer"


class EmptyVocabularyError(DistillError):
    """No token is left to embed (an empty vocabulary file, or a pattern that removes all)."""

    code = "empty-vocabulary"


class DeviceUnavailableError(_DeviceUnavailable, DistillError):
    """The requested torch device (cuda, mps) is not available on this machine."""


class PoolingUnavailableError(DistillError):
    """``pooling="pooler"`` was requested but the teacher has no pooler output."""

    code = "pooling-unavailable"


class EvaluationDataError(DistillError):
    """A data set the evaluation suite needs is missing or malformed."""

    code = "evaluation-data"


ALL_ERRORS: tuple[type[DistillError], ...] = (
    InvalidParameterError,
    InvalidPatternError,
    TeacherNotFoundError,
    TeacherLoadError,
    SlowTokenizerError,
    UnsupportedTokenizerError,
    EmptyVocabularyError,
    DeviceUnavailableError,
    PoolingUnavailableError,
    EvaluationDataError,
)
"""Every concrete error class of m2v-distill."""
