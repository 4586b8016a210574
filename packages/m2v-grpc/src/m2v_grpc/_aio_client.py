"""The asyncio client: :class:`AsyncEmbedClient`, the twin of :class:`EmbedClient`.

Same methods, same arguments, same results and errors; every method is a coroutine and
``embed_stream`` is an async generator that accepts a sync or an async iterable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import grpc
import numpy as np
from grpc import aio

from m2v_grpc._batching import (
    Batch,
    Batcher,
    StreamResult,
    batch_results,
    embed_requests,
    encode_texts,
    iter_outputs,
    tokenize_requests,
)
from m2v_grpc._client_core import (
    ClientSettings,
    RetryBudget,
    RetryPolicy,
    TLSOptions,
    Vector,
    build_options,
    check_texts_type,
    decode_embeddings,
    empty_result,
    error_from_rpc,
)
from m2v_grpc._codec import OutputDtypeName
from m2v_grpc._errors import (
    EmbedServiceError,
    InternalServerError,
    UnavailableError,
    UnknownModelError,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._info import ServerInfo

_T = TypeVar("_T")


class AsyncEmbedClient:
    """asyncio client of the m2v embedding service; the API of :class:`EmbedClient`.

    Create it inside a running event loop; use ``async with`` or ``await close()``.
    """

    def __init__(
        self,
        target: str,
        token: str | None = None,
        *,
        tls: TLSOptions | None = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._settings = ClientSettings(
            target=target,
            token=token,
            tls=tls,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            channel_options=tuple(channel_options),
        )
        options = self._settings.options()
        if tls is not None:
            self._channel = aio.secure_channel(target, tls.credentials(), options=options)
        else:
            self._channel = aio.insecure_channel(target, options=options)
        self._stub = embed_pb2_grpc.EmbedServiceStub(self._channel)
        self._metadata = self._settings.metadata()
        self._info: ServerInfo | None = None

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncEmbedClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _retrying(
        self, call: Callable[..., Awaitable[_T]], timeout: float | None, offset: int = 0
    ) -> _T:
        budget = RetryBudget(self._settings.retry, timeout)
        while True:
            try:
                return await call(timeout=budget.remaining())
            except grpc.RpcError as rpc_error:
                await asyncio.sleep(budget.pause(error_from_rpc(rpc_error, index_offset=offset)))

    def _timeout(self, timeout: float | None) -> float | None:
        return self._settings.timeout if timeout is None else timeout

    async def info(self, *, refresh: bool = False, timeout: float | None = None) -> ServerInfo:
        """Server version, limits and models (cached after the first call)."""
        if self._info is None or refresh:
            response = await self._retrying(
                partial(self._stub.GetInfo, embed_pb2.GetInfoRequest(), metadata=self._metadata),
                self._timeout(timeout),
            )
            self._info = ServerInfo.from_proto(response)
        return self._info

    async def embed(
        self,
        texts: Sequence[str],
        model: str | None = None,
        *,
        normalize: bool | None = None,
        dimensions: int | None = None,
        dtype: OutputDtypeName = "float32",
        max_length: int | None = None,
        timeout: float | None = None,
    ) -> Vector:
        """Embed ``texts``; see :meth:`EmbedClient.embed`."""
        check_texts_type(texts)
        info = await self.info()
        options = build_options(model, normalize, dimensions, dtype, max_length)
        payloads = encode_texts(texts, info.limits)
        if not payloads:
            try:
                dims = dimensions or info.model(model).dims
            except KeyError:
                raise UnknownModelError(f"no model named {model!r} is served") from None
            return empty_result(dims, dtype)
        parts: list[Vector] = []
        for begin, stop, request in embed_requests(payloads, info.limits, options):
            response = await self._retrying(
                partial(self._stub.Embed, request, metadata=self._metadata),
                self._timeout(timeout),
                offset=begin,
            )
            parts.append(decode_embeddings(response.embeddings, expected_rows=stop - begin))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    async def tokenize(
        self,
        texts: Sequence[str],
        model: str | None = None,
        *,
        max_length: int | None = None,
        timeout: float | None = None,
    ) -> list[list[int]]:
        """The token ids the model averages for each text."""
        check_texts_type(texts)
        info = await self.info()
        payloads = encode_texts(texts, info.limits)
        result: list[list[int]] = []
        for begin, request in tokenize_requests(payloads, info.limits, model, max_length):
            response = await self._retrying(
                partial(self._stub.Tokenize, request, metadata=self._metadata),
                self._timeout(timeout),
                offset=begin,
            )
            result.extend(list(entry.ids) for entry in response.tokens)
        return result

    async def embed_stream(
        self,
        texts: Iterable[str] | AsyncIterable[str],
        model: str | None = None,
        *,
        normalize: bool | None = None,
        dimensions: int | None = None,
        dtype: OutputDtypeName = "float32",
        max_length: int | None = None,
        batch_size: int | None = None,
        max_in_flight: int | None = None,
        return_errors: bool = False,
        timeout: float | None = None,
    ) -> AsyncIterator[StreamResult]:
        """Embed an iterable over one stream; see :meth:`EmbedClient.embed_stream`.

        To stop early and free the stream at once, close the generator (for example with
        ``contextlib.aclosing``); a bare ``break`` leaves that to garbage collection.
        """
        check_texts_type(texts)
        info = await self.info()
        options = build_options(model, normalize, dimensions, dtype, max_length)
        window = max(1, max_in_flight or info.limits.max_in_flight_per_stream)
        run = _AsyncStreamRun(texts, Batcher(info.limits, batch_size), options, window)
        budget = RetryBudget(self._settings.retry, timeout)
        while True:
            remaining = budget.remaining()
            call = self._stub.EmbedStream(timeout=remaining, metadata=self._metadata)
            writer = asyncio.create_task(run.write_all(call))
            error: EmbedServiceError | None = None
            try:
                while (response := await call.read()) is not aio.EOF:
                    results = run.answered(response)
                    budget.progressed()
                    for result in iter_outputs(results, return_errors):
                        yield result
            except grpc.RpcError as rpc_error:
                error = _stream_error(rpc_error)
            finally:
                writer.cancel()
                with contextlib.suppress(BaseException):
                    await writer
                call.cancel()
            run.raise_source_error()
            if run.finished():
                return
            if error is None:
                error = UnavailableError("the stream ended before every message was answered")
            await asyncio.sleep(budget.pause(error))
            run.requeue()


_CORE_WRITE_RACE = "Internal error from Core"


def _stream_error(rpc_error: grpc.RpcError) -> EmbedServiceError:
    """Map a broken stream; the asyncio API's write race is treated as retryable.

    When the server ends a stream (a drain) while a write is in flight, grpc.aio reports
    INTERNAL "Internal error from Core" instead of the server's status (grpc/grpc#36066;
    the blocking API reports it correctly).  Unanswered messages of a stream were never
    processed, so resending them is safe: the stream is retried like UNAVAILABLE.
    """
    error = error_from_rpc(rpc_error)
    details = rpc_error.details() if hasattr(rpc_error, "details") else ""
    if isinstance(error, InternalServerError) and details == _CORE_WRITE_RACE:
        return UnavailableError("the stream ended while a message was being sent")
    return error


class _AsyncStreamRun:
    """State of one async ``embed_stream`` across stream attempts (event-loop only)."""

    def __init__(
        self,
        texts: Iterable[str] | AsyncIterable[str],
        batcher: Batcher,
        options: embed_pb2.EmbedOptions,
        window: int,
    ) -> None:
        self._sync_source = iter(texts) if not isinstance(texts, AsyncIterable) else None
        self._async_source = texts.__aiter__() if isinstance(texts, AsyncIterable) else None
        self._batcher = batcher
        self._options = options
        self._window = window
        self._unsent: deque[Batch] = deque()
        self._pending: deque[Batch] = deque()
        self._exhausted = False
        self._source_error: BaseException | None = None
        self._slots = asyncio.Semaphore(window)

    async def _pull(self) -> Batch | None:
        if self._sync_source is not None:
            return self._batcher.next_batch(self._sync_source)
        assert self._async_source is not None
        return await self._batcher.next_batch_async(self._async_source)

    async def _next_batch(self) -> Batch | None:
        if self._unsent:
            return self._unsent.popleft()
        if self._exhausted:
            return None
        try:
            batch = await self._pull()
        except Exception as error:
            self._source_error = error
            batch = None
        if batch is None:
            self._exhausted = True
        return batch

    async def write_all(self, call: Any) -> None:
        """Write batches while the window allows; half-close when the input ends."""
        self._slots = slots = asyncio.Semaphore(self._window)
        try:
            while True:
                await slots.acquire()
                batch = await self._next_batch()
                if batch is None:
                    await call.done_writing()
                    return
                self._pending.append(batch)
                await call.write(batch.message(self._options))
        except (grpc.RpcError, asyncio.InvalidStateError):
            return  # the call ended; the reader sees why

    def answered(self, response: embed_pb2.EmbedStreamResponse) -> list[StreamResult]:
        """Match a response to the oldest pending batch and free a window slot."""
        if not self._pending:
            raise InternalServerError("the server sent more responses than messages")
        batch = self._pending.popleft()
        self._slots.release()
        return batch_results(batch, response)

    def requeue(self) -> None:
        """Put unanswered batches back in front of the input for the next attempt."""
        self._unsent.extendleft(reversed(self._pending))
        self._pending.clear()

    def finished(self) -> bool:
        """Every input was read and every batch answered."""
        return self._exhausted and not self._pending and not self._unsent

    def raise_source_error(self) -> None:
        """Re-raise an exception the caller's iterable raised."""
        if self._source_error is not None:
            raise self._source_error
