"""Typed errors: one base class, one subclass per rule of ``spec/format.md``.

Every error carries a stable machine-readable ``code`` (never renamed once released), the
``rule`` of the spec it enforces, and the ``path`` of the file or folder at fault, when
there is one.  Messages name what was wrong and, where it helps, what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar


class FormatError(Exception):
    """Base class of every error m2v-format raises for bad input."""

    code: ClassVar[str] = "format-error"
    rule: ClassVar[str] = ""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.message = message
        self.path = None if path is None else Path(path)
        where = f" ({self.path})" if self.path is not None else ""
        rule = f" [rule {self.rule}]" if self.rule else ""
        super().__init__(f"{self.code}{rule}: {message}{where}")


class ModelNotFoundError(FormatError):
    """The model path does not exist, is not a folder, or the hub id cannot be resolved."""

    code = "model-not-found"
    rule = "L1"


class MissingFileError(FormatError):
    """The folder matches no accepted layout: a required file is missing."""

    code = "missing-file"
    rule = "L2"


class SubfolderEscapeError(FormatError):
    """A subfolder (or symbolic link) resolves outside the model folder."""

    code = "subfolder-escape"
    rule = "L6"


class HubUnavailableError(FormatError):
    """A hub id was given but the optional ``huggingface_hub`` dependency is not installed."""

    code = "hub-extra-missing"
    rule = "L7"


class InvalidJSONError(FormatError):
    """A JSON file (config.json, modules.json, ...) is not UTF-8 JSON of the right shape."""

    code = "invalid-json"
    rule = "C1"


class InvalidConfigValueError(FormatError):
    """A known config.json key has a value of the wrong type or outside its range."""

    code = "invalid-config-value"
    rule = "C2"


class InvalidFormatVersionError(FormatError):
    """``format_version`` is not a "MAJOR.MINOR" string."""

    code = "invalid-format-version"
    rule = "V1"


class UnsupportedFormatVersionError(FormatError):
    """``format_version`` has a major version this reader does not implement."""

    code = "unsupported-format-version"
    rule = "V3"


class InvalidTokenizerError(FormatError):
    """tokenizer.json is not valid JSON or not a tokenizer the ``tokenizers`` library loads."""

    code = "invalid-tokenizer"
    rule = "K1"


class SafetensorsHeaderError(FormatError):
    """The safetensors header is malformed (length, JSON, dtype names, offsets, overlaps)."""

    code = "invalid-safetensors"
    rule = "S1"


class HeaderTooLargeError(FormatError):
    """The safetensors header is larger than the 100 MB limit."""

    code = "header-too-large"
    rule = "S2"


class TruncatedFileError(FormatError):
    """The safetensors file is shorter than its header says."""

    code = "truncated-file"
    rule = "S3"


class MissingTensorError(FormatError):
    """The embedding tensor is absent (``embeddings`` or ``embedding.weight``)."""

    code = "missing-tensor"
    rule = "T1"


class TensorShapeError(FormatError):
    """A tensor has the wrong rank or an empty dimension."""

    code = "invalid-tensor-shape"
    rule = "T2"


class UnsupportedDtypeError(FormatError):
    """A tensor has a dtype the spec does not allow for it."""

    code = "unsupported-dtype"
    rule = "T3"


class NonFiniteValueError(FormatError):
    """A floating-point tensor holds NaN or infinity."""

    code = "non-finite-values"
    rule = "T4"


class VocabularySizeMismatchError(FormatError):
    """Tensor lengths disagree with the tokenizer's vocabulary size."""

    code = "vocab-size-mismatch"
    rule = "T5"


class MappingOutOfRangeError(FormatError):
    """A ``mapping`` entry points outside the rows of ``embeddings``."""

    code = "mapping-out-of-range"
    rule = "T6"


class InvalidScaleError(FormatError):
    """``embeddings_scale`` has the wrong shape or dtype, or is not finite and positive."""

    code = "invalid-scale"
    rule = "T7"


class OutputExistsError(FormatError):
    """The writer's destination exists and overwriting was not requested."""

    code = "output-exists"
    rule = "W1"


ALL_ERRORS: tuple[type[FormatError], ...] = (
    ModelNotFoundError,
    MissingFileError,
    SubfolderEscapeError,
    HubUnavailableError,
    InvalidJSONError,
    InvalidConfigValueError,
    InvalidFormatVersionError,
    UnsupportedFormatVersionError,
    InvalidTokenizerError,
    SafetensorsHeaderError,
    HeaderTooLargeError,
    TruncatedFileError,
    MissingTensorError,
    TensorShapeError,
    UnsupportedDtypeError,
    NonFiniteValueError,
    VocabularySizeMismatchError,
    MappingOutOfRangeError,
    InvalidScaleError,
    OutputExistsError,
)
"""Every concrete error class, in spec order (a test checks codes are unique)."""
