"""What the sync and asyncio clients share: connection settings (TLS, token, channel
options), the retry policy, request options, decoding vectors and mapping failures to the
typed errors.  Batching lives in ``_batching``.

Nothing here does I/O; ``_client`` and ``_aio_client`` only add the calls.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt

from m2v_grpc._codec import DTYPE_NAMES, DTYPE_NUMBERS, OutputDtypeName, unpack
from m2v_grpc._errors import (
    ERROR_CODE_METADATA_KEY,
    ERROR_INDEX_METADATA_KEY,
    STATUS_NUMBERS,
    CodecError,
    EmbedServiceError,
    InternalServerError,
    InvalidRequestError,
    OverloadedError,
    code_from_proto_enum_name,
    error_from_code,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2

DEFAULT_MAX_RECEIVE_BYTES = 256 * 1024 * 1024
"""Largest response a client accepts (responses grow with items x dims)."""

_STATUS_NAMES = {number: name for name, number in STATUS_NUMBERS.items()}

Vector = npt.NDArray[Any]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for calls that failed with a retryable status.

    Retried: UNAVAILABLE (server draining, restarting or unreachable) and
    RESOURCE_EXHAUSTED with code ``overloaded``.  ``max_attempts`` counts the first try.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.05
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` >= 1)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return random.uniform(0.0, ceiling)


class RetryBudget:
    """The retry decisions of one call (or one stream) under a policy and a deadline.

    Shared by the blocking and the asyncio client, which differ only in how they sleep::

        budget = RetryBudget(policy, timeout)
        while True:
            try:
                return call(timeout=budget.remaining())
            except grpc.RpcError as rpc_error:
                time.sleep(budget.pause(error_from_rpc(rpc_error)))  # or raises it
    """

    def __init__(self, policy: RetryPolicy, timeout: float | None) -> None:
        self.policy = policy
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.failures = 0

    def remaining(self) -> float | None:
        """Seconds left before the deadline (at least 1 ms), or ``None``: no deadline."""
        return None if self.deadline is None else max(0.001, self.deadline - time.monotonic())

    def pause(self, error: EmbedServiceError) -> float:
        """Seconds to wait before retrying after ``error``; raises it when out of budget
        (not retryable, too many failures in a row, or the deadline would pass)."""
        self.failures += 1
        if not error.retryable or self.failures >= self.policy.max_attempts:
            raise error from None
        pause = self.policy.delay(self.failures)
        if self.deadline is not None and time.monotonic() + pause >= self.deadline:
            raise error from None
        return pause

    def progressed(self) -> None:
        """A stream got an answer: failures are counted afresh."""
        self.failures = 0


@dataclass(frozen=True)
class TLSOptions:
    """Client-side TLS: trusted roots (PEM; None: system roots), optional client cert (mTLS)."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None
    server_name_override: str | None = None

    @classmethod
    def from_files(
        cls,
        ca: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        server_name_override: str | None = None,
    ) -> TLSOptions:
        """Read PEM files: ``ca`` to trust, ``cert``/``key`` to present (mTLS)."""

        def read(path: str | Path | None) -> bytes | None:
            return None if path is None else Path(path).read_bytes()

        return cls(read(ca), read(key), read(cert), server_name_override)

    def credentials(self) -> grpc.ChannelCredentials:
        """The gRPC channel credentials."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )


@dataclass(frozen=True)
class ClientSettings:
    """Connection settings shared by :class:`EmbedClient` and :class:`AsyncEmbedClient`."""

    target: str
    token: str | None = None
    tls: TLSOptions | None = None
    timeout: float | None = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_receive_bytes: int = DEFAULT_MAX_RECEIVE_BYTES
    channel_options: tuple[tuple[str, Any], ...] = ()

    def options(self) -> list[tuple[str, Any]]:
        """gRPC channel options."""
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", self.max_receive_bytes),
            ("grpc.max_send_message_length", -1),
        ]
        if self.tls is not None and self.tls.server_name_override:
            options.append(("grpc.ssl_target_name_override", self.tls.server_name_override))
        return options + list(self.channel_options)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata: the bearer token, if any."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


def build_options(
    model: str | None,
    normalize: bool | None,
    dimensions: int | None,
    dtype: OutputDtypeName,
    max_length: int | None,
) -> embed_pb2.EmbedOptions:
    """Request options; ``None`` leaves a field unset (the server's per-model default)."""
    if dtype not in DTYPE_NUMBERS:
        raise InvalidRequestError(f"dtype must be one of {sorted(DTYPE_NUMBERS)}, got {dtype!r}")
    options = embed_pb2.EmbedOptions(model=model or "", dtype=DTYPE_NUMBERS[dtype])  # type: ignore[arg-type]
    if normalize is not None:
        options.normalize = bool(normalize)
    if dimensions is not None:
        options.dimensions = int(dimensions)
    if max_length is not None:
        options.max_length = int(max_length)
    return options


def output_shape(rows: int, dims: int, dtype: OutputDtypeName) -> tuple[int, int]:
    """Shape of the array a client returns for ``rows`` vectors of ``dims`` values."""
    return (rows, (dims + 7) // 8 if dtype == "binary" else dims)


def empty_result(dims: int, dtype: OutputDtypeName) -> Vector:
    """The array ``embed([])`` returns."""
    numpy_dtype = {
        "float32": np.float32,
        "float16": np.float16,
        "int8": np.float32,
        "binary": np.uint8,
    }
    return np.empty(output_shape(0, dims, dtype), dtype=numpy_dtype[dtype])


def decode_embeddings(message: embed_pb2.Embeddings, expected_rows: int | None = None) -> Vector:
    """Unpack an ``Embeddings`` message (int8 dequantized to float32, binary kept packed)."""
    dtype = DTYPE_NAMES.get(int(message.dtype))
    if dtype is None:
        raise InternalServerError(f"server sent unknown dtype {int(message.dtype)}")
    if expected_rows is not None and message.rows != expected_rows:
        raise InternalServerError(f"server sent {message.rows} rows for {expected_rows} texts")
    try:
        return unpack(message.rows, message.dims, dtype, message.data, message.scales)
    except CodecError as error:
        raise InternalServerError(f"malformed embeddings from the server: {error}") from error


def _metadata_value(metadata: Any, key: str) -> str | None:
    for item in metadata or ():
        k, v = (item.key, item.value) if hasattr(item, "key") else item
        if k == key:
            return v if isinstance(v, str) else bytes(v).decode("utf-8", "replace")
    return None


def error_from_rpc(error: grpc.RpcError, *, index_offset: int = 0) -> EmbedServiceError:
    """Map a failed call to the typed error (code from ``m2v-error-code`` when present)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else None) or ""
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    stable = _metadata_value(trailers, ERROR_CODE_METADATA_KEY)
    raw_index = _metadata_value(trailers, ERROR_INDEX_METADATA_KEY)
    index = int(raw_index) + index_offset if raw_index and raw_index.isdigit() else None
    status = code.name if isinstance(code, grpc.StatusCode) else str(code)
    if stable is None and status == "RESOURCE_EXHAUSTED" and "concurrent" in details.lower():
        stable = OverloadedError.code  # gRPC's own maximum_concurrent_rpcs refusal
    message = details.split(": ", 1)[1] if stable and details.startswith(stable + ": ") else details
    if index is not None and message.endswith(f" (text {index - index_offset})"):
        message = message.rsplit(" (text ", 1)[0]
    return error_from_code(stable, status, message or status, index=index)


def error_from_proto(error: embed_pb2.Error, index: int | None) -> EmbedServiceError:
    """The typed error of a proto ``Error`` (stream responses)."""
    known = int(error.code) in embed_pb2.ErrorCode.values()
    code = code_from_proto_enum_name(embed_pb2.ErrorCode.Name(error.code)) if known else None
    status = _STATUS_NAMES.get(error.status, "UNKNOWN")
    return error_from_code(code, status, error.message, index=index)


def check_texts_type(texts: Any) -> None:
    """Reject a bare string where a list of texts is expected (a common slip)."""
    if isinstance(texts, str | bytes):
        raise InvalidRequestError("texts must be a list of strings, not a single string")
