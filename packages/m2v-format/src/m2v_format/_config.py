"""config.json as a typed, immutable value: known keys checked (C2, V1-V3), unknown kept (C4)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2v_format._errors import (
    FormatError,
    InvalidConfigValueError,
    InvalidFormatVersionError,
    UnsupportedFormatVersionError,
)

FORMAT_VERSION = "1.1"
"""The newest format version this library reads and writes."""

SUPPORTED_MAJOR = 1
"""The one major format version this library implements (V3)."""

DEFAULT_MAX_LENGTH = 512
"""Rule I9: the encode default when config.json has no ``max_length`` key."""

_VERSION = re.compile(r"[0-9]+\.[0-9]+")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_Check = Callable[[Any], bool]

# key -> (accepts the value, description used in messages).  Order is also to_dict's order.
_KNOWN: dict[str, tuple[_Check, str]] = {
    "normalize": (lambda v: isinstance(v, bool), "a boolean"),
    "max_length": (lambda v: v is None or (_is_int(v) and v >= 1), "an integer >= 1 or null"),
    "embedding_dtype": (lambda v: isinstance(v, str), "a string"),
    "vocabulary_quantization": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "model_type": (lambda v: isinstance(v, str), "a string"),
    "architectures": (_is_str_list, "a list of strings"),
    "tokenizer_name": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "apply_pca": (
        lambda v: v is None or isinstance(v, (bool, str)) or _is_number(v),
        "an integer, number, string, boolean or null",
    ),
    "sif_coefficient": (lambda v: v is None or _is_number(v), "a finite number or null"),
    "apply_zipf": (lambda v: v is None or isinstance(v, bool), "a boolean or null"),
    "hidden_dim": (_is_int, "an integer"),
    "seq_length": (_is_int, "an integer"),
    "pooling": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "language": (
        lambda v: v is None or isinstance(v, str) or _is_str_list(v),
        "a string, a list of strings or null",
    ),
}


def parse_format_version(value: Any, path: Path | None = None) -> tuple[int, int]:
    """Parse a ``MAJOR.MINOR`` string (V1) and refuse majors above ``SUPPORTED_MAJOR`` (V3)."""
    if not isinstance(value, str) or _VERSION.fullmatch(value) is None:
        raise InvalidFormatVersionError(
            f'format_version must be a string like "1.0" (MAJOR.MINOR), got {_short(value)}',
            path=path,
        )
    major, minor = (int(part) for part in value.split("."))
    if major > SUPPORTED_MAJOR:
        raise UnsupportedFormatVersionError(
            f"format_version {value} has major version {major}; this reader implements "
            f"major version {SUPPORTED_MAJOR} only (upgrade m2v-format)",
            path=path,
        )
    return major, minor


@dataclass(frozen=True)
class ModelConfig:
    """The known keys of ``config.json``, typed, plus every unknown key in ``extra``.

    ``None`` means "absent" for every optional key.  ``max_length`` is the one key whose
    explicit ``null`` means something (no truncation, rule I9), so its presence is kept in
    ``has_max_length`` (set automatically when ``max_length`` is an integer).
    """

    format_version: str = "1.0"
    normalize: bool | None = None
    max_length: int | None = None
    has_max_length: bool = False
    embedding_dtype: str | None = None
    vocabulary_quantization: int | None = None
    model_type: str | None = None
    architectures: tuple[str, ...] | None = None
    tokenizer_name: str | None = None
    apply_pca: int | float | str | bool | None = None
    sif_coefficient: float | None = None
    apply_zipf: bool | None = None
    hidden_dim: int | None = None
    seq_length: int | None = None
    pooling: str | None = None
    language: tuple[str, ...] | str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_length is not None and not self.has_max_length:
            object.__setattr__(self, "has_max_length", True)
        for key in ("architectures", "language"):
            value = getattr(self, key)
            if isinstance(value, list):
                object.__setattr__(self, key, tuple(value))

    @property
    def default_max_length(self) -> int | None:
        """Rule I9: ``max_length`` when config.json has the key (even null), else 512."""
        return self.max_length if self.has_max_length else DEFAULT_MAX_LENGTH

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: Path | None = None) -> ModelConfig:
        """Build a config from parsed config.json, checking every known key.

        Raises:
            UnsupportedFormatVersionError: ``format_version`` has a major version above 1 (V3).
            InvalidFormatVersionError: ``format_version`` is not a ``MAJOR.MINOR`` string (V1).
            InvalidConfigValueError: a known key has the wrong type or range (C2).
        """
        config, errors = check_config(data, path=path)
        if errors:
            raise errors[0]
        assert config is not None
        return config

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to write: known keys that are set, then the unknown keys."""
        result: dict[str, Any] = {"format_version": self.format_version}
        for key in _KNOWN:
            value = getattr(self, key)
            if key == "max_length":
                if self.has_max_length:
                    result[key] = value
            elif value is not None:
                result[key] = list(value) if isinstance(value, tuple) else value
        for key, value in self.extra.items():
            if key not in result:
                result[key] = value
        return result


def check_config(
    data: Mapping[str, Any], *, path: Path | None = None
) -> tuple[ModelConfig | None, list[FormatError]]:
    """Check every known key of a parsed config.json; return the config and all problems.

    The config is ``None`` when the format version is unusable (later keys are then not
    judged: their meaning may differ in another major version) or any key is invalid.
    """
    errors: list[FormatError] = []
    version = data.get("format_version", "1.0")
    try:
        parse_format_version(version, path)
    except FormatError as error:
        return None, [error]
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key == "format_version":
            continue
        known = _KNOWN.get(key)
        if known is None:
            extra[key] = value
            continue
        accepts, description = known
        if not accepts(value):
            errors.append(
                InvalidConfigValueError(
                    f"config key {key!r} must be {description}, got {_short(value)}", path=path
                )
            )
            continue
        values[key] = value
    if errors:
        return None, errors
    return (
        ModelConfig(
            format_version=version,
            has_max_length="max_length" in values,
            extra=extra,
            **values,
        ),
        [],
    )
