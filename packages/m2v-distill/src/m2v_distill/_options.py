"""Validation of distillation options, before any model is loaded.

Each ``check_*`` function returns the value in its canonical form or raises an
:class:`~m2v_distill.InvalidParameterError` naming the option and the accepted values.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from m2v_distill._errors import EmptyVocabularyError, InvalidParameterError, InvalidPatternError

PCADims: TypeAlias = int | float | Literal["auto"] | None
"""``pca_dims``: an int (components), a float in (0, 1) (explained variance), "auto", None."""


class PoolingMode(enum.StrEnum):
    """How the teacher's output for one token's input sequence becomes one vector."""

    MEAN = "mean"
    """Mean of the last hidden states over every position, special tokens included."""
    FIRST = "first"
    """The last hidden state at the first position ([CLS] in BERT-style models)."""
    LAST = "last"
    """The last hidden state at the last position (often the end-of-sequence token)."""
    POOLER = "pooler"
    """The model's ``pooler_output`` (BERT: a dense layer and tanh over [CLS])."""


QUANTIZE_DTYPES = ("float32", "float16", "int8")
COMPUTE_DTYPES = ("auto", "float32", "bfloat16")
DEVICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_TOKEN_REMOVE_PATTERN = r"\[unused\d+\]"


def check_sif_coefficient(value: float | None) -> float | None:
    """``sif_coefficient``: None (no weighting) or a number strictly between 0 and 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(
            f"sif_coefficient must be a number or None, got {type(value).__name__}"
        )
    if not 0.0 < float(value) < 1.0:
        raise InvalidParameterError(
            f"sif_coefficient must be > 0 and < 1 (1e-4 is a good default), got {value!r}"
        )
    return float(value)


def check_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """``token_remove_pattern``: None or a regular expression that compiles."""
    if pattern is None:
        return None
    if not isinstance(pattern, str):
        raise InvalidPatternError(
            f"token_remove_pattern must be a string or None, got {type(pattern).__name__}"
        )
    try:
        return re.compile(pattern)
    except re.error as error:
        raise InvalidPatternError(
            f"token_remove_pattern {pattern!r} is not a valid regular expression: {error}"
        ) from error


def check_pca_dims(value: PCADims) -> PCADims:
    """``pca_dims``: None, "auto", an int >= 1, or a float in (0, 1) (explained variance)."""
    if value is None or value == "auto":
        return value
    if isinstance(value, bool):
        raise InvalidParameterError("pca_dims must be an int, a float, 'auto' or None, not a bool")
    if isinstance(value, int):
        if value < 1:
            raise InvalidParameterError(f"pca_dims must be >= 1, got {value}")
        return value
    if isinstance(value, float):
        if not 0.0 < value < 1.0:
            raise InvalidParameterError(
                "a float pca_dims is the fraction of variance to keep and must be in (0, 1), "
                f"got {value}"
            )
        return value
    raise InvalidParameterError(
        f"pca_dims must be an int, a float in (0, 1), 'auto' or None, got {value!r}"
    )


def check_pooling(value: PoolingMode | str) -> PoolingMode:
    """``pooling``: one of mean, first, last, pooler."""
    try:
        return PoolingMode(value)
    except ValueError:
        accepted = ", ".join(mode.value for mode in PoolingMode)
        raise InvalidParameterError(f"pooling must be one of {accepted}, got {value!r}") from None


def check_quantize_to(value: str) -> Literal["float32", "float16", "int8"]:
    """``quantize_to``: the stored dtype of the embeddings (float32, float16 or int8)."""
    text = getattr(value, "value", value)  # accept enum members with a string value
    if text == "float32":
        return "float32"
    if text == "float16":
        return "float16"
    if text == "int8":
        return "int8"
    raise InvalidParameterError(
        f"quantize_to must be one of {', '.join(QUANTIZE_DTYPES)}, got {value!r}"
    )


def check_vocabulary_quantization(value: int | None) -> int | None:
    """``vocabulary_quantization``: None (off) or a number of clusters >= 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(
            f"vocabulary_quantization must be a number of clusters >= 1 or None, got {value!r}"
        )
    return value


def check_compute_dtype(value: str) -> Literal["auto", "float32", "bfloat16"]:
    """``compute_dtype``: precision of the teacher's forward passes (auto, float32, bfloat16)."""
    if value == "auto":
        return "auto"
    if value == "float32":
        return "float32"
    if value == "bfloat16":
        return "bfloat16"
    raise InvalidParameterError(
        f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {value!r}"
    )


def check_batch_size(value: int) -> int:
    """``batch_size``: sequences per forward pass, >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(f"batch_size must be an int >= 1, got {value!r}")
    return value


def check_device(value: str | None) -> str:
    """``device``: auto (or None), cpu, cuda, cuda:N or mps."""
    if value is None:
        return "auto"
    if not isinstance(value, str) or not (
        value in DEVICES or re.fullmatch(r"cuda:\d+", value) is not None
    ):
        raise InvalidParameterError(
            f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class DistillOptions:
    """Every distillation option, validated and in canonical form."""

    vocabulary: tuple[str, ...]
    device: str
    pca_dims: PCADims
    sif_coefficient: float | None
    token_remove_pattern: str | None
    quantize_to: Literal["float32", "float16", "int8"]
    vocabulary_quantization: int | None
    pooling: PoolingMode
    batch_size: int
    show_progress: bool
    compute_dtype: Literal["auto", "float32", "bfloat16"] = "auto"


def check_options(
    *,
    vocabulary: Sequence[str] | None,
    device: str | None,
    pca_dims: PCADims,
    sif_coefficient: float | None,
    token_remove_pattern: str | None,
    quantize_to: str,
    vocabulary_quantization: int | None,
    pooling: PoolingMode | str,
    batch_size: int,
    show_progress: bool,
    compute_dtype: str = "auto",
) -> DistillOptions:
    """Validate every option (raising typed errors) and return them in canonical form."""
    words = () if vocabulary is None else tuple(vocabulary)
    if vocabulary is not None and not any(word.strip() for word in words):
        raise EmptyVocabularyError(
            "the vocabulary is empty (no non-blank word); pass None to use the teacher's "
            "own vocabulary"
        )
    check_pattern(token_remove_pattern)
    return DistillOptions(
        vocabulary=words,
        device=check_device(device),
        pca_dims=check_pca_dims(pca_dims),
        sif_coefficient=check_sif_coefficient(sif_coefficient),
        token_remove_pattern=token_remove_pattern,
        quantize_to=check_quantize_to(quantize_to),
        vocabulary_quantization=check_vocabulary_quantization(vocabulary_quantization),
        pooling=check_pooling(pooling),
        batch_size=check_batch_size(batch_size),
        show_progress=bool(show_progress),
        compute_dtype=check_compute_dtype(compute_dtype),
    )
