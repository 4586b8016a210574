"""A small progress line on stderr: done/total, percent, rate and ETA (no dependency)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """Report progress of ``total`` units of work on one line of a text stream.

    On a terminal the line is redrawn in place at most every ``interval`` seconds; on a
    pipe or file a new line is written at most every 10% of the work, so logs stay short.
    A disabled progress bar does nothing.  Use it as a context manager so the line is
    finished even when the work fails.
    """

    def __init__(
        self,
        total: int,
        description: str,
        *,
        unit: str = "items",
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 0.25,
    ) -> None:
        self.total = max(0, total)
        self.description = description
        self.unit = unit
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = float("-inf")
        self._last_decile = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __enter__(self) -> Progress:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def line(self) -> str:
        """The current progress text, e.g. ``tokens  1,024/29,525  3% 2,310 tokens/s ETA 0:12``."""
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        percent = 100.0 * self.done / self.total if self.total else 100.0
        remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = _clock(remaining) if remaining == remaining else "?"
        return (
            f"{self.description}  {self.done:,}/{self.total:,}  {percent:3.0f}%  "
            f"{rate:,.0f} {self.unit}/s  elapsed {_clock(elapsed)}  ETA {eta}"
        )

    def update(self, amount: int) -> None:
        """Record ``amount`` more units done and redraw when due."""
        self.done = min(self.total, self.done + amount)
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._tty:
            if now - self._last_draw >= self.interval or self.done == self.total:
                self._last_draw = now
                self.stream.write("\r" + self.line() + "\x1b[K")
                self.stream.flush()
            return
        decile = (10 * self.done) // self.total if self.total else 10
        if decile > self._last_decile:
            self._last_decile = decile
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Finish the line (terminals only; pipes already end each line)."""
        if self.enabled and self._tty and self._last_draw != float("-inf"):
            self.stream.write("\n")
            self.stream.flush()
            self._last_draw = float("-inf")
