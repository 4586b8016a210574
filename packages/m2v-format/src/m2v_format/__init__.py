"""m2v-format: reference reader, writer and validator for the m2v model format.

A model is a folder (``config.json``, ``model.safetensors``, ``tokenizer.json``) that
model2vec and sentence-transformers also load.  ``load_model`` memory-maps it (or, with
``memory_map=False``, copies it into memory) after checking every rule of
``spec/format.md``; ``save_model`` writes one atomically; ``validate_model`` reports every
rule a folder breaks; ``export_onnx`` writes ONNX graphs of a model (``spec/onnx.md``);
``reference_encode`` is the plain
composition of the inference rules, each implemented once here (``cut_texts``,
``kept_ids``, ``effective_rows``, ``mean_pool``, ``normalize_rows``) and shared by every
faster reader.  Classifier folders (``spec/classifier.md``) are read and written here too.

Errors are typed: every error of every m2v package derives from :class:`M2VError` and
carries a stable ``code``; :class:`FormatError` subclasses also name the spec ``rule``.
"""

import typing as _typing

from m2v_format._card import ModelCard
from m2v_format._classifier import (
    CLASSIFIER_FORMAT,
    CLASSIFIER_VERSION,
    ClassifierHead,
    load_classifier_head,
    save_classifier,
)
from m2v_format._clusters import quantize_vocabulary
from m2v_format._config import FORMAT_VERSION, SUPPORTED_MAJOR, ModelConfig
from m2v_format._errors import (
    ClassifierError,
    ClassifierNotFoundError,
    ConformanceError,
    DeviceUnavailableError,
    FormatError,
    HeaderTooLargeError,
    HubUnavailableError,
    InvalidArgumentError,
    InvalidConfigValueError,
    InvalidFormatVersionError,
    InvalidInputError,
    InvalidJSONError,
    InvalidScaleError,
    InvalidTokenizerError,
    LegacyPipelineError,
    M2VError,
    MappingOutOfRangeError,
    MissingDependencyError,
    MissingFileError,
    MissingTensorError,
    ModelNotFoundError,
    NonFiniteValueError,
    OutputExistsError,
    SafetensorsHeaderError,
    SubfolderEscapeError,
    SuiteError,
    TensorShapeError,
    TruncatedFileError,
    UnsupportedClassifierVersionError,
    UnsupportedDtypeError,
    UnsupportedFormatVersionError,
    UsageError,
    VocabularySizeMismatchError,
)
from m2v_format._inference import (
    NORM_EPSILON,
    cut_texts,
    effective_rows,
    id_lists,
    id_segments,
    kept_ids,
    mean_pool,
    normalize_rows,
)
from m2v_format._layout import Layout
from m2v_format._load import load_model, resolve_model_path
from m2v_format._model import StaticModelData
from m2v_format._quantize import quantize
from m2v_format._reference import reference_encode, reference_tokenize
from m2v_format._safetensors import read_safetensors
from m2v_format._tokenizer import median_token_length
from m2v_format._validate import ValidationReport, Violation, validate_model
from m2v_format._write import save_model

if _typing.TYPE_CHECKING:
    from m2v_format._onnx_export import export_onnx


def __getattr__(name: str) -> _typing.Any:
    """On first use: :func:`export_onnx` (``m2v_format._onnx_export``, so that importing the
    package does not load the ONNX writer) and ``__version__`` (read from the installed
    metadata, one source: pyproject.toml)."""
    if name == "export_onnx":
        from m2v_format._onnx_export import export_onnx

        return export_onnx
    if name == "__version__":
        from importlib.metadata import version

        return version("m2v-format")
    raise AttributeError(f"module 'm2v_format' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "export_onnx", "__version__"})


__all__ = [  # noqa: RUF022 - grouped by topic, sorted within each group
    "__version__",
    # Format versions
    "CLASSIFIER_FORMAT",
    "CLASSIFIER_VERSION",
    "FORMAT_VERSION",
    "SUPPORTED_MAJOR",
    # Data model
    "ClassifierHead",
    "Layout",
    "ModelCard",
    "ModelConfig",
    "StaticModelData",
    # Reading, writing, validating
    "ValidationReport",
    "Violation",
    "load_classifier_head",
    "load_model",
    "quantize",
    "quantize_vocabulary",
    "read_safetensors",
    "resolve_model_path",
    "save_classifier",
    "save_model",
    "validate_model",
    # Exporting to other runtimes
    "export_onnx",
    # Inference rules (I1-I8), each implemented once
    "NORM_EPSILON",
    "cut_texts",
    "effective_rows",
    "id_lists",
    "id_segments",
    "kept_ids",
    "mean_pool",
    "median_token_length",
    "normalize_rows",
    "reference_encode",
    "reference_tokenize",
    # Errors: the root and the kinds of failure
    "DeviceUnavailableError",
    "FormatError",
    "InvalidArgumentError",
    "InvalidInputError",
    "M2VError",
    "MissingDependencyError",
    "UsageError",
    # Errors: one per rule of spec/format.md and spec/classifier.md
    "ClassifierError",
    "ClassifierNotFoundError",
    "HeaderTooLargeError",
    "HubUnavailableError",
    "InvalidConfigValueError",
    "InvalidFormatVersionError",
    "InvalidJSONError",
    "InvalidScaleError",
    "InvalidTokenizerError",
    "LegacyPipelineError",
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
    "UnsupportedClassifierVersionError",
    "UnsupportedDtypeError",
    "UnsupportedFormatVersionError",
    "VocabularySizeMismatchError",
    # Errors: the conformance runner (m2v-conformance)
    "ConformanceError",
    "SuiteError",
]
