"""Typed errors of m2v-distill: one base class, one subclass per kind of failure.

Every error carries a stable machine-readable ``code`` (never renamed once released) and a
message that says what was wrong and, where it helps, what to do about it.  Errors about a
model folder on disk (reading or writing it) come from m2v-format as ``FormatError``.
"""

from __future__ import annotations

from typing import ClassVar


class DistillError(Exception):
    """Base class of every error m2v-distill raises for bad input or an unusable teacher."""

    code: ClassVar[str] = "distill-error"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.code}: {message}")


class InvalidParameterError(DistillError, ValueError):
    """An option has a wrong type or a value outside its range (pca_dims, sif_coefficient, ...)."""

    code = "invalid-parameter"


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


class DeviceUnavailableError(DistillError):
    """The requested torch device (cuda, mps) is not available on this machine."""

    code = "device-unavailable"


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
"""Every concrete error class (a test checks the codes are unique)."""
