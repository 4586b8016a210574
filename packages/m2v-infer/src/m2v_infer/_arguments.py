"""Checking the arguments of the public API: one function per kind of argument.

Each raises :class:`~m2v_infer.InvalidArgumentError` (or ``InvalidInputError`` for texts)
naming the argument and the value it got.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import numpy as np

from m2v_infer._errors import InvalidArgumentError, InvalidInputError


class _Unset:
    """Type of :data:`UNSET`: "argument not passed" where ``None`` is a meaningful value."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unset>"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"  # pickles as the module-level singleton


UNSET: Final = _Unset()
"""Sentinel for ``max_length``: not passed (``None`` means "no truncation")."""

QUANTIZE_TARGETS: Final = ("float32", "float16", "int8")
"""The dtypes ``quantize_to`` accepts."""


def check_max_length(value: object, name: str = "max_length") -> int | None:
    """An integer >= 1, or ``None`` (no truncation)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise InvalidArgumentError(f"{name} must be an integer >= 1 or None, got {value!r}")
    return int(value)


def check_positive(value: object, name: str) -> int:
    """An integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise InvalidArgumentError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_workers(value: object, name: str = "num_workers") -> int | str:
    """A count of worker processes (an integer >= 1) or ``"auto"``."""
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise InvalidArgumentError(f"{name} must be an integer >= 1 or 'auto', got {value!r}")
    return int(value)


def check_dimensions(value: object, dim: int, name: str) -> int | None:
    """``None`` (all dimensions) or an integer in ``1..dim``."""
    if value is None:
        return None
    count = check_positive(value, name)
    if count > dim:
        raise InvalidArgumentError(f"{name}={count} is larger than the model's dimension {dim}")
    return count


def check_flag(value: object, name: str) -> bool:
    """``True`` or ``False`` (numpy booleans accepted)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise InvalidArgumentError(f"{name} must be True or False, got {value!r}")


def check_normalize(value: object, name: str = "normalize") -> bool | None:
    """``True``, ``False`` or ``None`` (the model's setting)."""
    if value is None or isinstance(value, bool | np.bool_):
        return None if value is None else bool(value)
    raise InvalidArgumentError(f"{name} must be True, False or None, got {value!r}")


def dtype_name(value: object) -> str:
    """The name of a ``quantize_to`` target: model2vec's DType enum, a numpy dtype or a string."""
    name = getattr(value, "value", value)
    if isinstance(name, type) and issubclass(name, np.generic):
        name = np.dtype(name).name
    elif isinstance(name, np.dtype):
        name = name.name
    text = str(name).lower()
    if text not in QUANTIZE_TARGETS:
        raise InvalidArgumentError(
            f"quantize_to must be one of {', '.join(QUANTIZE_TARGETS)}, got {value!r}"
        )
    return text


def as_texts(sentences: object) -> tuple[Iterable[Any], bool]:
    """The texts to encode and whether a single string was passed."""
    if isinstance(sentences, str):
        return [sentences], True
    if isinstance(sentences, bytes | bytearray):
        raise InvalidInputError("texts must be str, not bytes: decode them first")
    if not isinstance(sentences, Iterable):
        raise InvalidInputError(
            f"expected a string or an iterable of strings, got {type(sentences).__name__}"
        )
    return sentences, False


def checked_texts(batch: list[Any], offset: int) -> list[str]:
    """``batch`` itself when every item is a ``str``; ``offset`` is its first text's index."""
    for index, text in enumerate(batch):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"text is a {type(text).__name__}, not a str", index=offset + index
            )
    return batch
