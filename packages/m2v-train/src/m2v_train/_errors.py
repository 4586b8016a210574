"""Typed errors of m2v-train: the :class:`TrainError` family of the project's error model.

Every error derives from :class:`m2v_format.M2VError` and carries a stable ``code`` (never
renamed once released).  A class that refines a kind of failure lists the kind first and
keeps its code: :class:`InvalidParameterError` is an :class:`m2v_format.InvalidArgumentError`
(``"invalid-argument"``), :class:`DeviceError` an :class:`m2v_format.DeviceUnavailableError`.
Errors about a model folder on disk come from m2v-format as ``FormatError``.
"""

from __future__ import annotations

from m2v_format import DeviceUnavailableError, InvalidArgumentError, M2VError, UsageError


class TrainError(M2VError):
    """Base class of every error m2v-train raises for bad input, data or state."""

    code = "train-error"


class InvalidParameterError(InvalidArgumentError, TrainError):
    """An option has the wrong type or a value outside its range."""


class InvalidLabelsError(UsageError, TrainError):
    """Labels are empty, inconsistent (mixed single/multi-label), or unknown to the model."""

    code = "invalid-labels"


class DataFileError(TrainError):
    """A data file (CSV / JSONL) cannot be read, or lacks the named columns."""

    code = "invalid-data-file"


class NotFittedError(UsageError, TrainError):
    """The classifier is used for prediction or export before ``fit``."""

    code = "not-fitted"


class FeatureStoreError(TrainError):
    """A feature work folder is corrupt, incomplete, or was made from another corpus/teacher."""

    code = "invalid-feature-store"


class TeacherError(TrainError):
    """The teacher model cannot be found or loaded (needs a local Hugging Face folder)."""

    code = "teacher-unavailable"


class DeviceError(DeviceUnavailableError, TrainError):
    """The requested torch device is not available (e.g. ``cuda`` without a GPU)."""


ALL_ERRORS: tuple[type[TrainError], ...] = (
    InvalidParameterError,
    InvalidLabelsError,
    DataFileError,
    NotFittedError,
    FeatureStoreError,
    TeacherError,
    DeviceError,
)
"""Every concrete error class of m2v-train."""
