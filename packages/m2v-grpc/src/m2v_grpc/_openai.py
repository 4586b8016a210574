"""The OpenAI embeddings API as data: request parsing, response bodies, error shapes.

No web framework here: ``m2v_grpc._http`` routes the requests and runs
:func:`parse_embeddings_request` and :func:`embeddings_body` on the server's worker
threads (JSON parsing and rendering are CPU work, kept off the event loop).

Request (``POST /v1/embeddings``): ``input`` (a string or an array of strings), ``model``
(a served name; omitted or empty: the default model), ``encoding_format`` (``"float"``,
the default, or ``"base64"``: little-endian float32 bytes), ``dimensions`` (1 .. the
model's dims: truncate, then normalise, as the gRPC service does), ``user`` (ignored).
Other fields are ignored.  Errors travel as ``{"error": {"message", "type", "param",
"code"}}``; ``code`` is the service's stable error code (``too-many-items``, ...) except
where OpenAI clients expect OpenAI's own (``model_not_found``, ``invalid_api_key``).

Needs orjson (extra ``m2v-grpc[http]``): it writes a 1,024 x 256 float response in about
10 ms where the standard ``json`` module needs about 250 ms.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from m2v_grpc._config import Limits
from m2v_grpc._errors import (
    AuthenticationError,
    EmbedServiceError,
    InvalidDimensionsError,
    InvalidRequestError,
    MessageTooLargeError,
    OverloadedError,
    TextTooLongError,
    UnavailableError,
    UnknownModelError,
)
from m2v_grpc._models import ModelRegistry, ServedModel
from m2v_grpc._validation import check_count

TOKEN_ARRAYS_HINT = (
    "'input' holds token ids; this server takes texts only (a string or an array of "
    "strings). LangChain users: create OpenAIEmbeddings(..., check_embedding_ctx_length=False)"
)
"""The message for token-id arrays, which LangChain sends unless told not to."""

_PARAMS: dict[str, str] = {
    "empty-batch": "input",
    "too-many-items": "input",
    "text-too-long": "input",
    "invalid-utf8": "input",
    "invalid-dimensions": "dimensions",
    "unknown-model": "model",
}
"""The request field each stable error code is about (OpenAI's ``param``)."""


class RequestFieldError(InvalidRequestError):
    """A malformed HTTP request body or field (code ``invalid-request``, HTTP 400).

    ``param`` names the field at fault (None: the body as a whole).
    """

    def __init__(self, message: str, *, param: str | None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ErrorReply:
    """An error as OpenAI answers it: HTTP status and the ``error`` object's fields."""

    status: int
    type: str
    code: str | None
    message: str
    param: str | None = None

    def fields(self) -> dict[str, str | None]:
        """The ``error`` object: ``message``, ``type``, ``param``, ``code``."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}

    def body(self) -> bytes:
        """``{"error": {"message", "type", "param", "code"}}`` as JSON bytes."""
        return orjson.dumps({"error": self.fields()})


def error_reply(error: EmbedServiceError) -> ErrorReply:
    """The HTTP status and OpenAI error fields of a typed service error."""
    message = error.message
    param = getattr(error, "param", None) or _PARAMS.get(error.code)
    if isinstance(error, InvalidRequestError):
        return ErrorReply(400, "invalid_request_error", error.code, message, param)
    if isinstance(error, UnknownModelError):
        return ErrorReply(404, "invalid_request_error", "model_not_found", message, param)
    if isinstance(error, AuthenticationError):
        return ErrorReply(401, "invalid_request_error", "invalid_api_key", message)
    if isinstance(error, MessageTooLargeError):
        return ErrorReply(413, "invalid_request_error", error.code, message)
    if isinstance(error, OverloadedError):
        return ErrorReply(429, "rate_limit_error", error.code, message)
    if isinstance(error, UnavailableError):
        return ErrorReply(503, "server_error", error.code, message)
    return ErrorReply(500, "server_error", "internal", message)


@dataclass(frozen=True)
class EmbeddingsRequest:
    """A checked ``POST /v1/embeddings`` request."""

    model: ServedModel
    texts: list[str]
    dimensions: int
    base64: bool


def parse_embeddings_request(
    body: bytes, registry: ModelRegistry, limits: Limits
) -> EmbeddingsRequest:
    """Parse and check a request body against the served models and the limits.

    Raises the typed error of the first problem: :class:`RequestFieldError` (malformed
    JSON, wrong types, token arrays, bad ``encoding_format``), ``EmptyBatchError``,
    ``TooManyItemsError``, ``TextTooLongError``, ``InvalidDimensionsError``,
    ``UnknownModelError``.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestFieldError(
            f"the request body is not valid JSON: {error}", param=None
        ) from None
    if not isinstance(payload, dict):
        raise RequestFieldError("the request body must be a JSON object", param=None)
    texts = _texts(payload.get("input"), limits)
    model = _model(payload.get("model"), registry)
    encoding = payload.get("encoding_format")
    if encoding not in (None, "float", "base64"):
        raise RequestFieldError(
            f"encoding_format must be 'float' or 'base64', got {encoding!r}",
            param="encoding_format",
        )
    return EmbeddingsRequest(
        model=model,
        texts=texts,
        dimensions=_dimensions(payload.get("dimensions"), model),
        base64=encoding == "base64",
    )


def _texts(value: Any, limits: Limits) -> list[str]:
    if value is None:
        raise RequestFieldError(
            "'input' is required: a string or an array of strings", param="input"
        )
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list):
        if value and not all(isinstance(text, str) for text in value):
            if all(isinstance(item, int) or _is_int_list(item) for item in value):
                raise RequestFieldError(TOKEN_ARRAYS_HINT, param="input")
            raise RequestFieldError(
                "'input' must be a string or an array of strings", param="input"
            )
        texts = value
    else:
        raise RequestFieldError("'input' must be a string or an array of strings", param="input")
    check_count(len(texts), limits)
    limit = limits.max_text_bytes
    for index, text in enumerate(texts):
        # A character is at most 4 UTF-8 bytes: encode only texts that might be too long.
        if len(text) * 4 > limit and len(text.encode("utf-8")) > limit:
            raise TextTooLongError(
                f"text {index} has {len(text.encode('utf-8'))} UTF-8 bytes; the limit is {limit}",
                index=index,
            )
    return texts


def _is_int_list(item: Any) -> bool:
    return isinstance(item, list) and all(isinstance(token, int) for token in item)


def _model(value: Any, registry: ModelRegistry) -> ServedModel:
    if value is not None and not isinstance(value, str):
        raise RequestFieldError("'model' must be a string", param="model")
    return registry.get(value or "")


def _dimensions(value: Any, model: ServedModel) -> int:
    if value is None:
        return model.dims
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= model.dims:
        raise InvalidDimensionsError(
            f"dimensions must be an integer in [1, {model.dims}] for model {model.name!r}, "
            f"got {value!r}"
        )
    return value


def embeddings_body(
    vectors: npt.NDArray[np.float32], *, base64_format: bool, model: str, tokens: int
) -> bytes:
    """The JSON response of ``POST /v1/embeddings`` for ``vectors`` (one row per input)."""
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    if base64_format:
        encode = base64.b64encode
        data: list[dict[str, Any]] = [
            {"object": "embedding", "index": index, "embedding": encode(row.tobytes()).decode()}
            for index, row in enumerate(rows)
        ]
    else:  # orjson writes each float32 row directly, in its shortest exact form
        data = [
            {"object": "embedding", "index": index, "embedding": row}
            for index, row in enumerate(rows)
        ]
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return orjson.dumps(
        {"object": "list", "data": data, "model": model, "usage": usage},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def model_object(served: ServedModel, *, created: int, default: bool) -> dict[str, Any]:
    """OpenAI's model object for a served model, with its dimensions and dtype besides."""
    return {
        "id": served.name,
        "object": "model",
        "created": created,
        "owned_by": "m2v",
        "dims": served.dims,
        "dtype": served.dtype,
        "default": default,
    }


def models_body(registry: ModelRegistry, *, created: int) -> bytes:
    """The JSON response of ``GET /v1/models``."""
    data = [
        model_object(served, created=created, default=served is registry.default)
        for served in registry
    ]
    return orjson.dumps({"object": "list", "data": data})


def json_bytes(value: Any) -> bytes:
    """``value`` as compact JSON bytes."""
    return orjson.dumps(value)
