"""Admission control: a hard cap on open calls, answered at once, and the drain switch.

Every Embed, Tokenize and EmbedStream call takes a slot when it starts and gives it back
when it ends.  With every slot taken a new call is refused immediately with
RESOURCE_EXHAUSTED (:class:`OverloadedError`), never queued; while draining, new calls
are refused with UNAVAILABLE.  Open streams register a stop callback so that a drain can
tell them to stop reading.  Everything here runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from m2v_grpc._errors import OverloadedError, UnavailableError


class Admission:
    """Slot accounting for one server."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.in_flight = 0
        self.ready = False
        self.draining = False
        self.rejected = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._streams: dict[int, Callable[[], None]] = {}
        self._next_stream = 0

    def acquire(self) -> None:
        """Take a slot or raise UnavailableError (loading, draining) / OverloadedError (full)."""
        if not self.ready:
            self.rejected += 1
            raise UnavailableError("the server is still loading its models; retry shortly")
        if self.draining:
            self.rejected += 1
            raise UnavailableError("the server is shutting down; retry on another replica")
        if self.in_flight >= self.limit:
            self.rejected += 1
            raise OverloadedError(
                f"the server is at its limit of {self.limit} concurrent requests; retry later"
            )
        self.in_flight += 1
        self._idle.clear()

    def release(self) -> None:
        """Give a slot back."""
        self.in_flight -= 1
        if self.in_flight <= 0:
            self.in_flight = 0
            self._idle.set()

    def add_stream(self, stop_reading: Callable[[], None]) -> int:
        """Register an open stream's stop callback; returns a handle for :meth:`remove_stream`."""
        handle = self._next_stream
        self._next_stream += 1
        self._streams[handle] = stop_reading
        if self.draining:
            stop_reading()
        return handle

    def remove_stream(self, handle: int) -> None:
        """Forget a stream that ended."""
        self._streams.pop(handle, None)

    @property
    def open_streams(self) -> int:
        """Streams currently open."""
        return len(self._streams)

    def start_draining(self) -> None:
        """Refuse new calls from now on and tell every open stream to stop reading."""
        self.draining = True
        for stop_reading in list(self._streams.values()):
            stop_reading()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no call holds a slot; False if ``timeout`` seconds passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
