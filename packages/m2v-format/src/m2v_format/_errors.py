"""The project's one error model: a root class, kinds of failure, and the format's rules.

Every error any m2v package raises for bad input derives from :class:`M2VError` and carries
a stable machine-readable ``code`` (never renamed or reused once released), the ``rule`` of
a spec it enforces (``""`` when none), the ``path`` of the file at fault and the ``index``
of the text at fault, when there is one.  Messages say what was wrong and, where it helps,
what to do.

Kinds, each a subclass of :class:`M2VError`:

* :class:`UsageError` - the caller's mistake (an argument, option or input of the wrong
  type or value).  It is also a ``ValueError`` (inputs of the wrong type also a
  ``TypeError``), so code written for model2vec that catches those keeps working.
* :class:`FormatError` - a model or classifier folder breaks a rule of ``spec/format.md``
  or ``spec/classifier.md`` (this package's family: one subclass per rule).
* :class:`MissingDependencyError` - an optional extra is not installed (also an
  ``ImportError``).
* :class:`DeviceUnavailableError` - a requested compute device is absent.

Each other package has one family of its own (``InferError``, ``DistillError``,
``TrainError``, ``EmbedServiceError``, ``ConformanceError``).  A code names exactly one
class: a package's refinement of a kind (``m2v_distill.InvalidParameterError`` is an
:class:`InvalidArgumentError` raised by m2v-distill) inherits the kind's code instead of
inventing another.  ``tests/test_errors.py`` collects every class and checks this.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar


class M2VError(Exception):
    """Root of every error the m2v packages raise for bad input or a bad environment.

    Attributes:
        code: stable machine-readable reason, e.g. ``"vocab-size-mismatch"``.
        rule: the spec rule enforced (``"T5"``), or ``""``.
        message: what was wrong.
        path: the file or folder at fault, or ``None``.
        index: 0-based position of the text at fault in the caller's input, or ``None``.
    """

    code: ClassVar[str] = "m2v-error"
    rule: str = ""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        rule: str | None = None,
        index: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else Path(path)
        self.index = index
        if rule is not None:
            self.rule = rule

    def __str__(self) -> str:
        return f"{self.code}{self._rule_note()}: {self.describe()}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling __init__ (subclasses differ in their signatures), then
        # given every attribute back: errors cross process boundaries intact.
        return (_rebuild, (type(self), self.message), dict(self.__dict__))

    def _rule_note(self) -> str:
        return f" [rule {self.rule}]" if self.rule else ""

    def describe(self) -> str:
        """The message with the path and text index it concerns, without the code."""
        where = f" ({self.path})" if self.path is not None else ""
        text = f" (text {self.index})" if self.index is not None else ""
        return f"{self.message}{where}{text}"


def _rebuild(cls: type[M2VError], message: str) -> M2VError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


# --------------------------------------------------------------------------- kinds


class UsageError(M2VError, ValueError):
    """The caller's mistake: an argument, option or input of the wrong type or value.

    Also a ``ValueError`` (and :class:`InvalidInputError` a ``TypeError``), as Python's own
    argument errors are.
    """

    code = "usage-error"


class InvalidArgumentError(UsageError):
    """An argument or option is out of range or of the wrong type."""

    code = "invalid-argument"


class InvalidInputError(UsageError, TypeError):
    """An input to encode is of the wrong type (a text that is not a ``str``, ...)."""

    code = "invalid-input"


class MissingDependencyError(M2VError, ImportError):  # type: ignore[misc]  # path: Path, not str
    """An optional dependency needed for the requested feature is not installed.

    The message names the extra to install (``pip install "m2v-format[hub]"``).
    """

    code = "missing-dependency"

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        rule: str | None = None,
        index: int | None = None,
    ) -> None:
        super().__init__(message, path=path, rule=rule, index=index)
        # ImportError.__init__ resets its own ``path`` attribute: set ours again.
        self.path = None if path is None else Path(path)


HubUnavailableError = MissingDependencyError
"""Former name of :class:`MissingDependencyError` for the hub (rule L7), kept for ``except``."""


class DeviceUnavailableError(M2VError):
    """A requested compute device (``cuda``, ``mps``, ...) is not available here."""

    code = "device-unavailable"


# --------------------------------------------------------------------------- format


class FormatError(M2VError):
    """A model or classifier folder breaks a rule of the format specs (m2v-format's family)."""

    code = "format-error"


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


class ClassifierError(FormatError):
    """A classifier folder breaks a rule of spec/classifier.md (``rule`` names it, H2-H9)."""

    code = "invalid-classifier"

    @property
    def rule_id(self) -> str:
        """Former name of :attr:`rule`."""
        return self.rule


class ClassifierNotFoundError(ClassifierError):
    """The folder has no ``classifier.json`` / ``classifier.safetensors`` (rule H1)."""

    code = "classifier-missing"
    rule = "H1"


class UnsupportedClassifierVersionError(ClassifierError):
    """``classifier_version`` has a major version this runtime does not read (rule H3)."""

    code = "unsupported-classifier-version"
    rule = "H3"


class LegacyPipelineError(ClassifierError):
    """The folder's only head is model2vec's legacy ``pipeline.skops``, never opened (rule M5).

    The message names the fix: model2vec's ``convert_legacy_pipeline`` writes the
    ``head.safetensors`` that m2v reads.
    """

    code = "legacy-pipeline"
    rule = "M5"


# --------------------------------------------------------------------------- conformance


class ConformanceError(M2VError):
    """The conformance runner cannot do its job (m2v-conformance's family)."""

    code = "conformance-error"


class SuiteError(ConformanceError):
    """The suite folder, a case file or the known-failures list is invalid.

    Attributes:
        problems: every problem found, one line each (the message joins them).
    """

    code = "invalid-suite"

    def __init__(self, problems: Sequence[str], *, path: str | Path | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), path=path)


RULE_ERRORS: tuple[type[FormatError], ...] = (
    ModelNotFoundError,
    MissingFileError,
    SubfolderEscapeError,
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
    ClassifierNotFoundError,
    UnsupportedClassifierVersionError,
    LegacyPipelineError,
)
"""One class per rule of spec/format.md and spec/classifier.md that has an error, in spec order
(``ClassifierError`` itself covers H2-H9, its instances name the rule)."""

KIND_ERRORS: tuple[type[M2VError], ...] = (
    UsageError,
    InvalidArgumentError,
    InvalidInputError,
    MissingDependencyError,
    DeviceUnavailableError,
    FormatError,
    ClassifierError,
    ConformanceError,
    SuiteError,
)
"""The kinds of failure every package shares, the format families and the runner's."""

ALL_ERRORS: tuple[type[M2VError], ...] = (M2VError, *KIND_ERRORS, *RULE_ERRORS)
"""Every error class m2v-format defines."""
