"""The EmbedService implementation on ``grpc.aio``.

The event loop only does I/O and bookkeeping: every request's CPU work (UTF-8 decoding,
tokenization, pooling, packing, building the response) runs on a worker thread through
``loop.run_in_executor`` (see ``m2v_grpc._work``).  Each call takes an admission slot
first (refused at once when full or draining).  Failures of a whole call end with the
mapped gRPC status plus the trailing metadata ``m2v-error-code`` (and ``m2v-error-index``
when one text is at fault).

Request messages arrive as raw bytes (see :func:`add_to_server`) and are parsed on the
worker thread: bytes that do not parse are the client's fault, INVALID_ARGUMENT with
``malformed-request`` (unary) or that message's error (EmbedStream), logged at WARNING as
``rpc.malformed_request``.  A client that cancels (or whose deadline passes) is logged at
INFO as ``rpc.client_cancelled`` and counted as CANCELLED (DEADLINE_EXCEEDED), whether it
left while its work waited, ran or was being written.  Only the server's own faults are
``rpc.internal_error`` / INTERNAL.  Successful unary calls carry timing trailers and
stream responses a ``Timing`` (``m2v_grpc._timing``); spans go through
``m2v_grpc._tracing`` when enabled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeAlias, TypeVar

import grpc

from m2v_grpc import _work
from m2v_grpc._admission import Admission
from m2v_grpc._config import Limits
from m2v_grpc._errors import (
    ERROR_CODE_METADATA_KEY,
    ERROR_INDEX_METADATA_KEY,
    STATUS_NUMBERS,
    EmbedServiceError,
    InternalServerError,
    MalformedRequestError,
    OverloadedError,
    UnavailableError,
    code_from_proto_enum_name,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._logging import log_event
from m2v_grpc._metrics import Metrics
from m2v_grpc._models import ModelRegistry
from m2v_grpc._stream import ClientGoneError, StreamSession
from m2v_grpc._timing import trailers as timing_trailers
from m2v_grpc._tracing import Span, Tracing

_Response = TypeVar("_Response")
_Context: TypeAlias = Any  # grpc.aio.ServicerContext (grpc ships no type stubs)

SERVICE = "m2v.embed.v1.EmbedService"
SPAN_NAMES = {
    "Embed": "m2v.embed",
    "Tokenize": "m2v.tokenize",
    "EmbedStream": "m2v.embed_stream",
}
"""Span name per RPC; each EmbedStream message is a child span ``m2v.embed_stream.message``."""
MESSAGE_SPAN = "m2v.embed_stream.message"

_SERVER_FAULTS = frozenset(
    {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}
)
"""Statuses that mark a server span as failed (OpenTelemetry's RPC conventions)."""
_MALFORMED = embed_pb2.ErrorCode.ERROR_CODE_MALFORMED_REQUEST


def _rpc_attributes(method: str) -> dict[str, str]:
    return {"rpc.system": "grpc", "rpc.service": SERVICE, "rpc.method": method}


def _timed(work: Callable[[], _Response]) -> tuple[_Response, float, float]:
    """Worker thread: run ``work``; return its result and perf_counter start and end."""
    started = time.perf_counter()
    result = work()
    return result, started, time.perf_counter()


class EmbedServicer(embed_pb2_grpc.EmbedServiceServicer):
    """Embed, EmbedStream, Tokenize and GetInfo over a :class:`ModelRegistry`."""

    def __init__(
        self,
        registry: ModelRegistry | None,
        limits: Limits,
        executor: concurrent.futures.Executor,
        admission: Admission,
        metrics: Metrics,
        server_version: str,
        tracing: Tracing | None = None,
    ) -> None:
        self._limits = limits
        self._tracing = tracing or Tracing(enabled=False)
        self._executor = executor
        self._admission = admission
        self._metrics = metrics
        self._server_version = server_version
        self._registry = ModelRegistry.empty()
        self._info: embed_pb2.GetInfoResponse | None = None
        self.sessions: set[StreamSession] = set()
        if registry is not None:
            self.set_registry(registry)

    def set_registry(self, registry: ModelRegistry) -> None:
        """Serve the models of ``registry`` (called once they are loaded)."""
        self._registry = registry
        self._info = self._build_info(self._server_version)

    def _build_info(self, server_version: str) -> embed_pb2.GetInfoResponse:
        limits = self._limits
        info = embed_pb2.GetInfoResponse(
            server_version=server_version,
            limits=embed_pb2.Limits(
                max_items_per_message=limits.max_items_per_message,
                max_message_bytes=limits.max_message_bytes,
                max_concurrent_requests=limits.max_concurrent_requests,
                max_in_flight_per_stream=limits.max_in_flight_per_stream,
                max_text_bytes=limits.max_text_bytes,
            ),
        )
        for served in self._registry:
            info.models.add(
                name=served.name,
                dims=served.dims,
                dtype=served.dtype,
                vocabulary_size=served.vocabulary_size,
                normalize_default=served.normalize_default,
                max_tokens=served.max_tokens or 0,
                is_default=served is self._registry.default,
            )
        return info

    # -- helpers -------------------------------------------------------------------------

    async def _abort(self, context: _Context, error: EmbedServiceError) -> None:
        trailers: list[tuple[str, str]] = [(ERROR_CODE_METADATA_KEY, error.code)]
        if error.index is not None:
            trailers.append((ERROR_INDEX_METADATA_KEY, str(error.index)))
        self._metrics.item_errors.labels(error.code).inc()
        await context.abort(grpc.StatusCode[error.status], str(error), tuple(trailers))

    async def _admit(self, method: str, context: _Context, span: Span) -> None:
        try:
            self._admission.acquire()
        except EmbedServiceError as error:
            reason = "overloaded" if isinstance(error, OverloadedError) else "unavailable"
            self._metrics.rejections.labels(reason).inc()
            self._metrics.finished(method, error.status)
            _span_status(span, error.status, error.code)
            await self._abort(context, error)

    def _carrier(self, context: _Context) -> Any:
        """The call's metadata, for a ``traceparent`` (only looked up when tracing)."""
        return context.invocation_metadata() if self._tracing.enabled else None

    def _client_left(self, method: str, status: str, span: Span, **fields: Any) -> None:
        """The client cancelled, or its deadline passed: INFO, never an internal error."""
        code = "deadline-exceeded" if status == "DEADLINE_EXCEEDED" else "cancelled"
        event = "rpc.deadline_exceeded" if code == "deadline-exceeded" else "rpc.client_cancelled"
        log_event(event, logging.INFO, method=method, **fields)
        _span_status(span, status, code)

    async def _unary(
        self,
        method: str,
        context: _Context,
        work: Callable[[], _Response],
        items: Callable[[_Response], int],
    ) -> _Response:
        received = time.perf_counter()
        attributes = _rpc_attributes(method) if self._tracing.enabled else None
        with self._tracing.span(
            SPAN_NAMES[method], attributes, carrier=self._carrier(context)
        ) as span:
            await self._admit(method, context, span)
            admitted = time.perf_counter()
            status = "OK"
            in_flight = self._metrics.in_flight.labels(method)
            in_flight.inc()
            try:
                loop = asyncio.get_running_loop()
                response, started, finished = await loop.run_in_executor(
                    self._executor, _timed, work
                )
            except EmbedServiceError as error:
                status = error.status
                if isinstance(error, MalformedRequestError):
                    log_event(
                        "rpc.malformed_request", logging.WARNING, method=method, error=str(error)
                    )
                _span_status(span, status, error.code)
                await self._abort(context, error)
                raise  # unreachable: abort raises
            except asyncio.CancelledError:
                status = _cancel_status(context)
                self._client_left(method, status, span)
                raise
            except Exception as error:  # a bug or a model fault: keep serving, report INTERNAL
                status = "INTERNAL"
                log_event("rpc.internal_error", logging.ERROR, method=method, error=repr(error))
                _span_status(span, status, InternalServerError.code)
                await self._abort(
                    context, InternalServerError("internal error while processing the request")
                )
                raise
            finally:
                in_flight.dec()
                self._admission.release()
                self._metrics.finished(method, status)
                self._metrics.latency.labels(method).observe(time.perf_counter() - admitted)
            count = items(response)
            model = getattr(response, "model", "")
            self._metrics.items.labels(method, model).inc(count)
            self._metrics.compute.labels(method).observe(finished - started)
            context.set_trailing_metadata(
                timing_trailers(
                    started - admitted, finished - started, time.perf_counter() - received
                )
            )
            if span.recording:
                span.set_many({"m2v.model": model, "m2v.items": count, "rpc.grpc.status_code": 0})
                span.phase("m2v.queue", admitted, started)
                span.phase("m2v.compute", started, finished)
            return response

    # -- RPCs ------------------------------------------------------------------------------

    async def Embed(  # noqa: N802
        self, request: embed_pb2.EmbedRequest | bytes, context: _Context
    ) -> embed_pb2.EmbedResponse:
        """Unary Embed: every text or none (``request``: the message or its raw bytes)."""
        work = partial(_work.embed, request, self._registry, self._limits)
        return await self._unary("Embed", context, work, _embedded_rows)

    async def Tokenize(  # noqa: N802
        self, request: embed_pb2.TokenizeRequest | bytes, context: _Context
    ) -> embed_pb2.TokenizeResponse:
        """Token ids per text (``request``: the message or its raw bytes)."""
        work = partial(_work.tokenize, request, self._registry, self._limits)
        return await self._unary("Tokenize", context, work, _tokenized_texts)

    async def GetInfo(  # noqa: N802
        self, request: embed_pb2.GetInfoRequest | bytes, context: _Context
    ) -> embed_pb2.GetInfoResponse:
        """Version, limits and models (needs no admission slot)."""
        try:
            _work.parse(embed_pb2.GetInfoRequest, request)  # tiny: parsed on the event loop
        except MalformedRequestError as error:
            log_event("rpc.malformed_request", logging.WARNING, method="GetInfo", error=str(error))
            self._metrics.finished("GetInfo", error.status)
            await self._abort(context, error)
        if self._info is None:
            self._metrics.finished("GetInfo", "UNAVAILABLE")
            await self._abort(context, UnavailableError("the server is still loading its models"))
            raise AssertionError("unreachable")
        self._metrics.finished("GetInfo", "OK")
        return self._info

    async def EmbedStream(  # type: ignore[override]  # noqa: N802
        self, request_iterator: Any, context: _Context
    ) -> None:
        """Bidirectional batches; one response per request message, in order."""
        method = "EmbedStream"
        with self._tracing.span(
            SPAN_NAMES[method], _rpc_attributes(method), carrier=self._carrier(context)
        ) as span:
            await self._admit(method, context, span)
            session = StreamSession(
                context,
                partial(self._submit_stream_message, span),
                self._limits.max_in_flight_per_stream,
            )
            handle = self._admission.add_stream(session.stop_reading)
            self.sessions.add(session)
            self._metrics.open_streams.inc()
            status = "OK"
            try:
                await session.run()
            except ClientGoneError as gone:  # a read or write failed: the client left mid-call
                status = _cancel_status(context)
                self._client_left(method, status, span, answered=session.answered, error=str(gone))
            except asyncio.CancelledError:
                status = _cancel_status(context)
                self._client_left(method, status, span, answered=session.answered)
                raise
            except Exception as error:
                status = "INTERNAL"
                log_event("rpc.internal_error", logging.ERROR, method=method, error=repr(error))
                _span_status(span, status, InternalServerError.code)
                raise
            finally:
                self.sessions.discard(session)
                self._admission.remove_stream(handle)
                self._admission.release()
                self._metrics.open_streams.dec()
                self._metrics.finished(method, status)
                if span.recording:
                    span.set_many(
                        {
                            "m2v.messages": session.answered,
                            "rpc.grpc.status_code": STATUS_NUMBERS[status],
                        }
                    )

    def _submit_stream_message(
        self, span: Span, request: embed_pb2.EmbedStreamRequest | bytes, sequence: int
    ) -> asyncio.Future[embed_pb2.EmbedStreamResponse]:
        loop = asyncio.get_running_loop()
        read = time.perf_counter()
        return loop.run_in_executor(
            self._executor, self._stream_message, request, sequence, span, read
        )

    def _stream_message(
        self,
        request: embed_pb2.EmbedStreamRequest | bytes,
        sequence: int,
        call_span: Span,
        read: float,
    ) -> embed_pb2.EmbedStreamResponse:
        """Worker thread: one stream message, with metrics and timing; never raises.

        ``read``: when the message was read (perf_counter), the start of its queue time.
        """
        started = time.perf_counter()
        metrics = self._metrics
        in_flight = metrics.in_flight.labels("EmbedStream")
        in_flight.inc()
        try:
            response = _work.embed_stream_message(request, sequence, self._registry, self._limits)
        except Exception as error:  # keep the stream alive; report the message as failed
            log_event("rpc.internal_error", logging.ERROR, method="EmbedStream", error=repr(error))
            response = embed_pb2.EmbedStreamResponse(
                sequence=sequence,
                error=_work.error_message(
                    InternalServerError("internal error while processing the message")
                ),
            )
        finally:
            in_flight.dec()
        finished = time.perf_counter()
        elapsed = finished - started
        response.timing.queue_ms = (started - read) * 1000
        response.timing.compute_ms = elapsed * 1000
        metrics.compute.labels("EmbedStream").observe(elapsed)
        metrics.latency.labels("EmbedStream").observe(elapsed)
        if response.ids:
            metrics.items.labels("EmbedStream", response.model).inc(len(response.ids))
        for item_error in response.errors:
            metrics.item_errors.labels(_code_name(item_error.error.code)).inc()
        has_error = response.HasField("error")
        if has_error:
            metrics.item_errors.labels(_code_name(response.error.code)).inc()
            if response.error.code == _MALFORMED:
                log_event(
                    "rpc.malformed_request",
                    logging.WARNING,
                    method="EmbedStream",
                    sequence=sequence,
                    error=response.error.message,
                )
        if call_span.recording:
            self._message_span(call_span, response, read, started, finished)
        return response

    def _message_span(
        self,
        call_span: Span,
        response: embed_pb2.EmbedStreamResponse,
        read: float,
        started: float,
        finished: float,
    ) -> None:
        """Record one stream message as a child span of its call (with queue and compute)."""
        attributes: dict[str, str | int] = {
            "m2v.sequence": response.sequence,
            "m2v.items": len(response.ids),
            "m2v.item_errors": len(response.errors),
        }
        if response.model:
            attributes["m2v.model"] = response.model
        with self._tracing.span(MESSAGE_SPAN, attributes, parent=call_span, start=read) as span:
            if response.HasField("error"):
                status = _status_name(response.error.status)
                _span_status(span, status, _code_name(response.error.code))
            span.phase("m2v.queue", read, started)
            span.phase("m2v.compute", started, finished)


def _embedded_rows(response: embed_pb2.EmbedResponse) -> int:
    return int(response.embeddings.rows)


def _tokenized_texts(response: embed_pb2.TokenizeResponse) -> int:
    return len(response.tokens)


def _status_name(number: int) -> str:
    return next((name for name, value in STATUS_NUMBERS.items() if value == number), "UNKNOWN")


def _span_status(span: Span, status: str, code: str) -> None:
    """Record a failed call on its span: the stable code, and ERROR for a server fault."""
    span.set("rpc.grpc.status_code", STATUS_NUMBERS.get(status, 2))
    span.fail(code, server_fault=status in _SERVER_FAULTS)


def _cancel_status(context: _Context) -> str:
    """Status name for a handler cancelled by gRPC: its deadline passed, or the client left."""
    remaining = context.time_remaining()
    return "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"


def _code_name(value: int) -> str:
    return code_from_proto_enum_name(embed_pb2.ErrorCode.Name(value))  # type: ignore[arg-type]


def add_to_server(servicer: EmbedServicer, server: Any) -> None:
    """Register ``servicer`` on a ``grpc.aio`` server, reading requests as raw bytes.

    Like the generated ``add_EmbedServiceServicer_to_server`` but without request
    deserializers: the handlers parse the bytes themselves (on a worker thread), so a
    request that does not parse is answered INVALID_ARGUMENT ``malformed-request`` (or, in
    EmbedStream, that message's error) instead of grpc's UNKNOWN.
    """
    handlers = {
        "Embed": grpc.unary_unary_rpc_method_handler(
            servicer.Embed, response_serializer=embed_pb2.EmbedResponse.SerializeToString
        ),
        "EmbedStream": grpc.stream_stream_rpc_method_handler(
            servicer.EmbedStream,
            response_serializer=embed_pb2.EmbedStreamResponse.SerializeToString,
        ),
        "Tokenize": grpc.unary_unary_rpc_method_handler(
            servicer.Tokenize, response_serializer=embed_pb2.TokenizeResponse.SerializeToString
        ),
        "GetInfo": grpc.unary_unary_rpc_method_handler(
            servicer.GetInfo, response_serializer=embed_pb2.GetInfoResponse.SerializeToString
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
