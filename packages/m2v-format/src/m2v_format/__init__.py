"""m2v-format: reference reader, writer and validator for the m2v model format.

A model is a folder (``config.json``, ``model.safetensors``, ``tokenizer.json``) that
model2vec and sentence-transformers also load.  ``load_model`` memory-maps it after
checking every rule of ``spec/format.md``; ``save_model`` writes one atomically;
``validate_model`` reports every rule a folder breaks; ``reference_encode`` is the plain
implementation of the inference rules that faster readers are measured against.
Errors are typed: each ``FormatError`` subclass carries a stable ``code`` and its ``rule``.
"""

from m2v_format._card import ModelCard
from m2v_format._config import FORMAT_VERSION, SUPPORTED_MAJOR, ModelConfig
from m2v_format._errors import (
    FormatError,
    HeaderTooLargeError,
    HubUnavailableError,
    InvalidConfigValueError,
    InvalidFormatVersionError,
    InvalidJSONError,
    InvalidScaleError,
    InvalidTokenizerError,
    MappingOutOfRangeError,
    MissingFileError,
    MissingTensorError,
    ModelNotFoundError,
    NonFiniteValueError,
    OutputExistsError,
    SafetensorsHeaderError,
    SubfolderEscapeError,
    TensorShapeError,
    TruncatedFileError,
    UnsupportedDtypeError,
    UnsupportedFormatVersionError,
    VocabularySizeMismatchError,
)
from m2v_format._layout import Layout
from m2v_format._load import load_model, resolve_model_path
from m2v_format._model import StaticModelData
from m2v_format._quantize import quantize
from m2v_format._reference import reference_encode, reference_tokenize
from m2v_format._safetensors import read_safetensors
from m2v_format._validate import ValidationReport, Violation, validate_model
from m2v_format._write import save_model

__all__ = [  # noqa: RUF022 - grouped by topic, sorted within each group
    # Format versions
    "FORMAT_VERSION",
    "SUPPORTED_MAJOR",
    # Data model
    "Layout",
    "ModelCard",
    "ModelConfig",
    "StaticModelData",
    # Reading, writing, validating
    "ValidationReport",
    "Violation",
    "load_model",
    "quantize",
    "read_safetensors",
    "resolve_model_path",
    "save_model",
    "validate_model",
    # Reference inference (rules I1-I8)
    "reference_encode",
    "reference_tokenize",
    # Errors
    "FormatError",
    "HeaderTooLargeError",
    "HubUnavailableError",
    "InvalidConfigValueError",
    "InvalidFormatVersionError",
    "InvalidJSONError",
    "InvalidScaleError",
    "InvalidTokenizerError",
    "MappingOutOfRangeError",
    "MissingFileError",
    "MissingTensorError",
    "ModelNotFoundError",
    "NonFiniteValueError",
    "OutputExistsError",
    "SafetensorsHeaderError",
    "SubfolderEscapeError",
    "TensorShapeError",
    "TruncatedFileError",
    "UnsupportedDtypeError",
    "UnsupportedFormatVersionError",
    "VocabularySizeMismatchError",
]
