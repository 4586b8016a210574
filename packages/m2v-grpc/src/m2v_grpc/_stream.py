"""One EmbedStream call on the server: a bounded read -> compute -> write pipeline.

A reader task reads a request message only when it holds one of ``window`` slots, hands
it to the worker pool and queues the resulting future; the handler's own task awaits the
futures in order and writes each response, giving the slot back after the write.  So:

- at most ``window`` request messages per stream are held (read, not yet answered); a
  client that writes but never reads stalls its own writes (gRPC flow control) instead
  of growing server memory;
- responses leave in request order, exactly one per request message;
- :meth:`StreamSession.stop_reading` (drain) stops the reader; everything already read
  is still answered, then the call ends with OK.  Messages the server never read get no
  response: the client knows they were not processed and can resend them.

Cancellation (client gone, deadline) reaches the handler as ``CancelledError`` at its
next await, or, when it comes while a response is being written (or a message read),
as a failed write (read): :class:`ClientGoneError`.  ``finally`` cancels the reader and every
queued future (work not yet started on a worker is dropped, running work finishes and is
discarded).

Request messages are read as raw bytes (the handler is registered without a request
deserializer) and parsed on the worker thread with the rest of the message's work: a
message that does not parse fails alone (``ERROR_CODE_MALFORMED_REQUEST``) instead of
ending the stream with UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from grpc import aio

from m2v_grpc._generated.m2v.embed.v1 import embed_pb2

DRAINED_METADATA_KEY = "m2v-drained"
"""Trailing metadata set to ``"1"`` when the server ended the stream because it is draining."""

Submit = Callable[
    [embed_pb2.EmbedStreamRequest | bytes, int], "asyncio.Future[embed_pb2.EmbedStreamResponse]"
]


class ClientGoneError(Exception):
    """A read or write of the call failed under the server: the client cancelled, its
    deadline passed or the connection broke.  A client fault, not a server fault."""


class StreamSession:
    """Bounded pipeline of one EmbedStream call."""

    def __init__(self, context: aio.ServicerContext[Any, Any], submit: Submit, window: int) -> None:
        self._context = context
        self._submit = submit
        self._slots = asyncio.Semaphore(window)
        self._queue: asyncio.Queue[asyncio.Future[embed_pb2.EmbedStreamResponse] | None] = (
            asyncio.Queue()
        )
        self._reader: asyncio.Task[None] | None = None
        self.draining = False
        self.accepted = 0
        self.answered = 0

    @property
    def held(self) -> int:
        """Request messages read and not yet answered."""
        return self.accepted - self.answered

    def stop_reading(self) -> None:
        """Drain: read no further message; answer what was read, then end with OK."""
        self.draining = True
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()

    async def _read_loop(self) -> None:
        try:
            while True:
                await self._slots.acquire()
                if self.draining:  # set by stop_reading() while we waited
                    break
                try:
                    request = await self._context.read()
                except aio.InternalError as error:
                    raise ClientGoneError(f"reading the next message failed: {error!r}") from error
                if request is aio.EOF:  # half-close, or a client cancellation seen as one
                    break
                self._queue.put_nowait(self._submit(request, self.accepted))
                self.accepted += 1
        except asyncio.CancelledError:
            if not self.draining:
                raise
        finally:
            self._queue.put_nowait(None)

    async def run(self) -> None:
        """Serve the call until input ends (or a drain) and every accepted message is answered."""
        self._reader = asyncio.create_task(self._read_loop())
        try:
            while (future := await self._queue.get()) is not None:
                response = await future
                try:
                    await self._context.write(response)
                except aio.InternalError as error:
                    raise ClientGoneError(f"writing a response failed: {error!r}") from error
                self.answered += 1
                self._slots.release()
            await self._reader  # surfaces an unexpected reader failure
            if self.draining:
                self._context.set_trailing_metadata(((DRAINED_METADATA_KEY, "1"),))
        finally:
            await self._close()

    async def _close(self) -> None:
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        while not self._queue.empty():
            future = self._queue.get_nowait()
            if future is not None:
                future.cancel()
