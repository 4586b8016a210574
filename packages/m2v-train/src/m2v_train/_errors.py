"""Typed errors of m2v-train: one base class, one subclass per kind of failure.

Every error carries a stable machine-readable ``code`` (never renamed once released) and a
message saying what was wrong and, where it helps, what to do.  Errors about a model folder
on disk (reading or writing it) come from m2v-format as ``FormatError`` and keep its codes.
"""

from __future__ import annotations

from typing import ClassVar


class TrainError(Exception):
    """Base class of every error m2v-train raises for bad input, data or state."""

    code: ClassVar[str] = "train-error"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.code}: {message}")


class InvalidParameterError(TrainError, ValueError):
    """An option has the wrong type or a value outside its range."""

    code = "invalid-parameter"


class InvalidLabelsError(TrainError, ValueError):
    """Labels are empty, inconsistent (mixed single/multi-label), or unknown to the model."""

    code = "invalid-labels"


class DataFileError(TrainError):
    """A data file (CSV / JSONL) cannot be read, or lacks the named columns."""

    code = "invalid-data-file"


class NotFittedError(TrainError):
    """The classifier is used for prediction or export before ``fit``."""

    code = "not-fitted"


class FeatureStoreError(TrainError):
    """A feature work folder is corrupt, incomplete, or was made from another corpus/teacher."""

    code = "invalid-feature-store"


class TeacherError(TrainError):
    """The teacher model cannot be found or loaded (needs a local Hugging Face folder)."""

    code = "teacher-unavailable"


class DeviceError(TrainError):
    """The requested torch device is not available (e.g. ``cuda`` without a GPU)."""

    code = "device-unavailable"


ALL_ERRORS: tuple[type[TrainError], ...] = (
    InvalidParameterError,
    InvalidLabelsError,
    DataFileError,
    NotFittedError,
    FeatureStoreError,
    TeacherError,
    DeviceError,
)
"""Every concrete error class (a test checks that their codes are unique)."""
