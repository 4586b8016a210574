"""Typed errors of the embedding service, shared by server and clients.

Every failure has a stable machine-readable ``code`` (never renamed once released) that
mirrors the proto enum ``m2v.embed.v1.ErrorCode`` (``ERROR_CODE_INVALID_UTF8`` is
``"invalid-utf8"``), and the gRPC status it travels with.  A call that fails as a whole
carries the code in the trailing metadata key :data:`ERROR_CODE_METADATA_KEY`; inside
EmbedStream the code travels in the response message.  Clients turn both back into the
same exception classes with :func:`error_from_code`.

Every class derives from :class:`m2v_format.M2VError`, the root of the project's error
model.  Besides the errors that travel on the wire (:data:`ALL_ERRORS`), three are local:
:class:`ConfigError` (bad server options, a usage error), :class:`ServerStartError` and
:class:`CodecError`.

This module imports only the standard library and m2v-format, so the CLI and the server can
use it without pulling in grpc before they need it.
"""

from __future__ import annotations

from typing import ClassVar

from m2v_format import InvalidArgumentError, M2VError

ERROR_CODE_METADATA_KEY = "m2v-error-code"
"""Trailing metadata key carrying the stable error code of a failed call."""

ERROR_INDEX_METADATA_KEY = "m2v-error-index"
"""Trailing metadata key naming the 0-based index of the text at fault, when there is one."""

# gRPC status code numbers (google.rpc.Code); kept here so this module needs no grpc import.
STATUS_NUMBERS: dict[str, int] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


class EmbedServiceError(M2VError):
    """Base class of every error of the embedding service (server- or client-side).

    Attributes:
        code: stable machine-readable reason, e.g. ``"invalid-utf8"``.
        status: name of the gRPC status code it travels with, e.g. ``"INVALID_ARGUMENT"``.
        retryable: whether sending the same request again (later, or to another replica)
            may succeed.
        message: human-readable explanation.
        index: position of the offending text in the caller's input, when one is at fault.
    """

    code: ClassVar[str] = "service-error"
    status: ClassVar[str] = "UNKNOWN"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message, index=index)

    @property
    def status_number(self) -> int:
        """The gRPC status code number (google.rpc.Code) of :attr:`status`."""
        return STATUS_NUMBERS[self.status]


class InvalidRequestError(EmbedServiceError):
    """The request is malformed: INVALID_ARGUMENT; sending it again cannot succeed."""

    code = "invalid-request"
    status = "INVALID_ARGUMENT"


class EmptyBatchError(InvalidRequestError):
    """A request or stream message carried no texts."""

    code = "empty-batch"


class TooManyItemsError(InvalidRequestError):
    """A message carried more texts than ``Limits.max_items_per_message``."""

    code = "too-many-items"


class InvalidUTF8Error(InvalidRequestError):
    """A text is not valid UTF-8."""

    code = "invalid-utf8"


class TextTooLongError(InvalidRequestError):
    """A text is longer than ``Limits.max_text_bytes``."""

    code = "text-too-long"


class MalformedRequestError(InvalidRequestError):
    """The bytes of a request (or stream message) do not parse as the request message:
    a corrupt wire format, or invalid UTF-8 in a ``string`` field."""

    code = "malformed-request"


class InvalidDimensionsError(InvalidRequestError):
    """``dimensions`` is 0 or larger than the model's dimensions."""

    code = "invalid-dimensions"


class InvalidMaxLengthError(InvalidRequestError):
    """``max_length`` is 0."""

    code = "invalid-max-length"


class InvalidDtypeError(InvalidRequestError):
    """``dtype`` is not a known output dtype."""

    code = "invalid-dtype"


class UnknownModelError(EmbedServiceError):
    """The requested model is not served: NOT_FOUND."""

    code = "unknown-model"
    status = "NOT_FOUND"


class OverloadedError(EmbedServiceError):
    """The server is at its concurrency limit: RESOURCE_EXHAUSTED; retry with backoff."""

    code = "overloaded"
    status = "RESOURCE_EXHAUSTED"
    retryable = True


class MessageTooLargeError(EmbedServiceError):
    """A message exceeds the gRPC size limit (RESOURCE_EXHAUSTED from the transport)."""

    code = "message-too-large"
    status = "RESOURCE_EXHAUSTED"


class UnavailableError(EmbedServiceError):
    """The server is draining, not ready or unreachable: UNAVAILABLE; retry (elsewhere)."""

    code = "unavailable"
    status = "UNAVAILABLE"
    retryable = True


class AuthenticationError(EmbedServiceError):
    """Missing or wrong bearer token: UNAUTHENTICATED."""

    code = "unauthenticated"
    status = "UNAUTHENTICATED"


class DeadlineExceededError(EmbedServiceError):
    """The deadline passed before the work was done: DEADLINE_EXCEEDED."""

    code = "deadline-exceeded"
    status = "DEADLINE_EXCEEDED"


class CallCancelledError(EmbedServiceError):
    """The call was cancelled by the other side (e.g. a server shutting down): CANCELLED.

    Retryable: every call of the service is idempotent.  (A caller that cancels its own
    call gets ``asyncio.CancelledError`` or stops iterating, never this error.)
    """

    code = "cancelled"
    status = "CANCELLED"
    retryable = True


class InternalServerError(EmbedServiceError):
    """An unexpected fault (INTERNAL, UNKNOWN or an unmapped status)."""

    code = "internal"
    status = "INTERNAL"


class ConfigError(InvalidArgumentError, EmbedServiceError):
    """A server option is malformed (bad ``NAME=PATH``, unreadable token file, ...)."""

    code = "invalid-server-config"


class ServerStartError(EmbedServiceError, RuntimeError):
    """The server could not start: the port is taken, a certificate is unreadable, ..."""

    code = "server-start-failed"


class CodecError(EmbedServiceError, ValueError):
    """Packed bytes do not match their declared rows, dims and dtype."""

    code = "invalid-packed-embeddings"
    status = "INTERNAL"


ALL_ERRORS: tuple[type[EmbedServiceError], ...] = (
    InvalidRequestError,
    EmptyBatchError,
    TooManyItemsError,
    InvalidUTF8Error,
    TextTooLongError,
    MalformedRequestError,
    InvalidDimensionsError,
    InvalidMaxLengthError,
    InvalidDtypeError,
    UnknownModelError,
    OverloadedError,
    MessageTooLargeError,
    UnavailableError,
    AuthenticationError,
    DeadlineExceededError,
    CallCancelledError,
    InternalServerError,
)
"""Every error that travels on the wire, each with an ``ErrorCode`` enum value in the proto."""

_BY_CODE: dict[str, type[EmbedServiceError]] = {cls.code: cls for cls in ALL_ERRORS}

# Fallback class per gRPC status when no (known) m2v error code came with it.
_BY_STATUS: dict[str, type[EmbedServiceError]] = {
    "INVALID_ARGUMENT": InvalidRequestError,
    "NOT_FOUND": UnknownModelError,
    "RESOURCE_EXHAUSTED": MessageTooLargeError,
    "UNAVAILABLE": UnavailableError,
    "UNAUTHENTICATED": AuthenticationError,
    "DEADLINE_EXCEEDED": DeadlineExceededError,
    "CANCELLED": CallCancelledError,
}


def proto_enum_name(code: str) -> str:
    """The ``ErrorCode`` enum name of a stable code: ``"invalid-utf8"`` → ``ERROR_CODE_INVALID_UTF8``."""
    return "ERROR_CODE_" + code.upper().replace("-", "_")


def code_from_proto_enum_name(name: str) -> str:
    """The stable code of an ``ErrorCode`` enum name (inverse of :func:`proto_enum_name`)."""
    return name.removeprefix("ERROR_CODE_").lower().replace("_", "-")


def error_from_code(
    code: str | None, status: str, message: str, *, index: int | None = None
) -> EmbedServiceError:
    """Rebuild the typed error for a stable ``code`` (or, failing that, a status name)."""
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status, InternalServerError)
    error = cls(message, index=index)
    return error
