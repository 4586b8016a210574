"""The EmbedService implementation on ``grpc.aio``.

The event loop only does I/O and bookkeeping: every request's CPU work (UTF-8 decoding,
tokenization, pooling, packing, building the response) runs on a worker thread through
``loop.run_in_executor`` (see ``m2v_grpc._work``).  Each call takes an admission slot
first (refused at once when full or draining).  Failures of a whole call end with the
mapped gRPC status plus the trailing metadata ``m2v-error-code`` (and ``m2v-error-index``
when one text is at fault).
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
    EmbedServiceError,
    InternalServerError,
    OverloadedError,
    UnavailableError,
    code_from_proto_enum_name,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._logging import log_event
from m2v_grpc._metrics import Metrics
from m2v_grpc._models import ModelRegistry
from m2v_grpc._stream import StreamSession

_Response = TypeVar("_Response")
_Context: TypeAlias = Any  # grpc.aio.ServicerContext (grpc ships no type stubs)


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
    ) -> None:
        self._limits = limits
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

    async def _admit(self, method: str, context: _Context) -> None:
        try:
            self._admission.acquire()
        except EmbedServiceError as error:
            reason = "overloaded" if isinstance(error, OverloadedError) else "unavailable"
            self._metrics.rejections.labels(reason).inc()
            self._metrics.finished(method, error.status)
            await self._abort(context, error)

    async def _unary(
        self,
        method: str,
        context: _Context,
        work: Callable[[], _Response],
        count: int,
    ) -> _Response:
        await self._admit(method, context)
        started = time.perf_counter()
        status = "OK"
        in_flight = self._metrics.in_flight.labels(method)
        in_flight.inc()
        try:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self._executor, work)
        except EmbedServiceError as error:
            status = error.status
            await self._abort(context, error)
            raise  # unreachable: abort raises
        except asyncio.CancelledError:
            status = _cancel_status(context)
            raise
        except Exception as error:  # a bug or a model fault: keep serving, report INTERNAL
            status = "INTERNAL"
            log_event("rpc.internal_error", logging.ERROR, method=method, error=repr(error))
            await self._abort(
                context, InternalServerError("internal error while processing the request")
            )
            raise
        finally:
            in_flight.dec()
            self._admission.release()
            self._metrics.finished(method, status)
            self._metrics.latency.labels(method).observe(time.perf_counter() - started)
        self._metrics.items.labels(method, getattr(response, "model", "")).inc(count)
        return response

    # -- RPCs ------------------------------------------------------------------------------

    async def Embed(  # noqa: N802
        self, request: embed_pb2.EmbedRequest, context: _Context
    ) -> embed_pb2.EmbedResponse:
        """Unary Embed: every text or none."""
        work = partial(_work.embed, request, self._registry, self._limits)
        return await self._unary("Embed", context, work, len(request.texts))

    async def Tokenize(  # noqa: N802
        self, request: embed_pb2.TokenizeRequest, context: _Context
    ) -> embed_pb2.TokenizeResponse:
        """Token ids per text."""
        work = partial(_work.tokenize, request, self._registry, self._limits)
        return await self._unary("Tokenize", context, work, len(request.texts))

    async def GetInfo(  # noqa: N802
        self, request: embed_pb2.GetInfoRequest, context: _Context
    ) -> embed_pb2.GetInfoResponse:
        """Version, limits and models (needs no admission slot)."""
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
        await self._admit(method, context)
        session = StreamSession(
            context, self._submit_stream_message, self._limits.max_in_flight_per_stream
        )
        handle = self._admission.add_stream(session.stop_reading)
        self.sessions.add(session)
        self._metrics.open_streams.inc()
        status = "OK"
        try:
            await session.run()
        except asyncio.CancelledError:
            status = _cancel_status(context)
            raise
        except Exception as error:
            status = "INTERNAL"
            log_event("rpc.internal_error", logging.ERROR, method=method, error=repr(error))
            raise
        finally:
            self.sessions.discard(session)
            self._admission.remove_stream(handle)
            self._admission.release()
            self._metrics.open_streams.dec()
            self._metrics.finished(method, status)

    def _submit_stream_message(
        self, request: embed_pb2.EmbedStreamRequest, sequence: int
    ) -> asyncio.Future[embed_pb2.EmbedStreamResponse]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, self._stream_message, request, sequence)

    def _stream_message(
        self, request: embed_pb2.EmbedStreamRequest, sequence: int
    ) -> embed_pb2.EmbedStreamResponse:
        """Worker thread: one stream message, with metrics; never raises."""
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
        elapsed = time.perf_counter() - started
        metrics.compute.labels("EmbedStream").observe(elapsed)
        metrics.latency.labels("EmbedStream").observe(elapsed)
        if response.ids:
            metrics.items.labels("EmbedStream", response.model).inc(len(response.ids))
        for item_error in response.errors:
            metrics.item_errors.labels(_code_name(item_error.error.code)).inc()
        if response.HasField("error"):
            metrics.item_errors.labels(_code_name(response.error.code)).inc()
        return response


def _cancel_status(context: _Context) -> str:
    """Status name for a handler cancelled by gRPC: its deadline passed, or the client left."""
    remaining = context.time_remaining()
    return "DEADLINE_EXCEEDED" if remaining is not None and remaining <= 0 else "CANCELLED"


def _code_name(value: int) -> str:
    return code_from_proto_enum_name(embed_pb2.ErrorCode.Name(value))  # type: ignore[arg-type]
