"""Request validation: options -> resolved settings, raw ``bytes`` texts -> ``str``.

Texts travel as ``bytes`` so that invalid UTF-8 is caught here, per item, instead of by
the protobuf runtime (which would end the call with status UNKNOWN).
"""

from __future__ import annotations

from dataclasses import dataclass

from m2v_grpc._codec import DTYPE_NAMES, OutputDtypeName
from m2v_grpc._config import Limits
from m2v_grpc._errors import (
    EmptyBatchError,
    InvalidDimensionsError,
    InvalidDtypeError,
    InvalidMaxLengthError,
    InvalidUTF8Error,
    TextTooLongError,
    TooManyItemsError,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2
from m2v_grpc._models import ModelRegistry, ServedModel


@dataclass(frozen=True)
class EncodeSettings:
    """Fully resolved options of one request (or stream message)."""

    model: ServedModel
    normalize: bool
    dimensions: int
    dtype: OutputDtypeName
    max_length: int | None


def resolve_max_length(model: ServedModel, has_value: bool, value: int) -> int | None:
    """``max_length``: unset -> the model's ``max_tokens``; 0 -> InvalidMaxLengthError."""
    if not has_value:
        return model.max_tokens
    if value < 1:
        raise InvalidMaxLengthError(
            "max_length must be at least 1 (leave it unset for the default)"
        )
    return value


def resolve_options(options: embed_pb2.EmbedOptions, registry: ModelRegistry) -> EncodeSettings:
    """Check ``EmbedOptions`` against the served models; raise a typed error if invalid."""
    model = registry.get(options.model)
    dtype = DTYPE_NAMES.get(int(options.dtype))
    if dtype is None:
        raise InvalidDtypeError(f"unknown output dtype value {int(options.dtype)}")
    dimensions = model.dims
    if options.HasField("dimensions"):
        dimensions = int(options.dimensions)
        if not 1 <= dimensions <= model.dims:
            raise InvalidDimensionsError(
                f"dimensions must be in [1, {model.dims}] for model {model.name!r}, got {dimensions}"
            )
    normalize = options.normalize if options.HasField("normalize") else model.normalize_default
    max_length = resolve_max_length(model, options.HasField("max_length"), int(options.max_length))
    return EncodeSettings(model, bool(normalize), dimensions, dtype, max_length)


def check_count(count: int, limits: Limits) -> None:
    """Reject an empty batch or one over ``max_items_per_message``."""
    if count == 0:
        raise EmptyBatchError("the request carries no texts")
    if count > limits.max_items_per_message:
        raise TooManyItemsError(
            f"{count} texts in one message; the limit is {limits.max_items_per_message}"
        )


def decode_text(raw: bytes, limits: Limits, index: int | None = None) -> str:
    """Decode one UTF-8 text; raise InvalidUTF8Error or TextTooLongError."""
    if len(raw) > limits.max_text_bytes:
        raise TextTooLongError(
            f"text of {len(raw)} bytes; the limit is {limits.max_text_bytes}", index=index
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidUTF8Error(
            f"not valid UTF-8 at byte {error.start}: {error.reason}", index=index
        ) from None


def decode_texts(raws: list[bytes], limits: Limits) -> list[str]:
    """Decode every text; the first bad one raises (its ``index`` names it)."""
    return [decode_text(raw, limits, index) for index, raw in enumerate(raws)]
