"""A small progress line on stderr (no tqdm dependency).

``Progress(total, desc=...)`` draws ``desc: 40% 400/1000 [00:03<00:05, 120 it/s] loss=0.31``;
it redraws at most every ``min_interval`` seconds, stays silent when disabled, and
ends its line on ``close`` (or when used as a context manager).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """A progress line for ``total`` units of work (``None``: unknown total).

    ``initial`` units count as already done (a resumed job) but not towards the rate.
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        unit: str = "it",
        enabled: bool = True,
        stream: TextIO | None = None,
        min_interval: float = 0.2,
        initial: int = 0,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self.stream = stream
        self.min_interval = min_interval
        self.done = initial
        self._initial = initial
        self.postfix = ""
        self._start = time.perf_counter()
        self._last = float("-inf")
        self._width = 0
        self._drawn = False

    def update(self, count: int = 1, *, postfix: str | None = None) -> None:
        """Record ``count`` more units done (and an optional status text); redraw when due."""
        self.done += count
        if postfix is not None:
            self.postfix = postfix
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last >= self.min_interval:
            self._draw(now)

    def render(self, now: float | None = None) -> str:
        """The current line, without the carriage return."""
        elapsed = (time.perf_counter() if now is None else now) - self._start
        rate = (self.done - self._initial) / elapsed if elapsed > 0 else 0.0
        tail = f" {self.postfix}" if self.postfix else ""
        if not self.total:
            return f"{self.desc}: {self.done} {self.unit} [{_clock(elapsed)}, {rate:.1f} {self.unit}/s]{tail}"
        fraction = min(1.0, self.done / self.total)
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return (
            f"{self.desc}: {100 * fraction:3.0f}% {self.done}/{self.total} "
            f"[{_clock(elapsed)}<{_clock(eta)}, {rate:.1f} {self.unit}/s]{tail}"
        )

    def _draw(self, now: float) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        text = self.render(now)
        stream.write("\r" + text + " " * max(0, self._width - len(text)))
        stream.flush()
        self._width = len(text)
        self._last = now
        self._drawn = True

    def close(self) -> None:
        """Draw the final state and end the line (nothing when disabled)."""
        if not self.enabled:
            return
        self._draw(time.perf_counter())
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write("\n")
        stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
