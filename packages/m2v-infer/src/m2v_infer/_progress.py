"""A tiny progress bar on stderr: done/total, percentage, rate and ETA (no tqdm dependency)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

_BAR_WIDTH = 24


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _count(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


class ProgressBar:
    """Draw ``desc: 45%|#####     | 25000/55814 [00:01<00:01, 21.3k texts/s]`` on a stream.

    ``total`` may be ``None`` (a stream of unknown length): the bar then shows the count,
    elapsed time and rate only.  Nothing is drawn when ``enabled`` is false, nor before
    ``delay`` seconds have passed (short jobs stay silent); redraws are at most every
    ``min_interval`` seconds.  ``initial`` items count as already done (a resumed job) but
    not towards the rate; ``postfix`` (set directly or through :meth:`update`) is a status
    text shown after the rate, e.g. ``loss=0.31``.  Call :meth:`update` from one thread.
    """

    def __init__(
        self,
        total: int | None,
        *,
        enabled: bool = True,
        desc: str = "Encoding",
        unit: str = "texts",
        stream: TextIO | None = None,
        delay: float = 0.0,
        min_interval: float = 0.1,
        initial: int = 0,
    ) -> None:
        self.total = total
        self.enabled = enabled
        self.desc = desc
        self.unit = unit
        self.stream = stream
        self.delay = delay
        self.min_interval = min_interval
        self.done = initial
        self._initial = initial
        self.postfix = ""
        self._start = time.perf_counter()
        self._last_draw = float("-inf")
        self._drawn = False
        self._width = 0

    def update(self, count: int = 1, *, postfix: str | None = None) -> None:
        """Record ``count`` more items done (and an optional status text); redraw when due."""
        self.done += count
        if postfix is not None:
            self.postfix = postfix
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._start >= self.delay and now - self._last_draw >= self.min_interval:
            self._draw(now)

    def render(self, now: float | None = None) -> str:
        """The bar's text for the current state (without the carriage return)."""
        elapsed = (time.perf_counter() if now is None else now) - self._start
        rate = (self.done - self._initial) / elapsed if elapsed > 0 else 0.0
        speed = f"{_count(rate)} {self.unit}/s"
        tail = f" {self.postfix}" if self.postfix else ""
        if self.total is None or self.total <= 0:
            return f"{self.desc}: {self.done} {self.unit} [{_clock(elapsed)}, {speed}]{tail}"
        fraction = min(1.0, self.done / self.total)
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + " " * (_BAR_WIDTH - filled)
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return (
            f"{self.desc}: {fraction * 100:3.0f}%|{bar}| {self.done}/{self.total} "
            f"[{_clock(elapsed)}<{_clock(eta)}, {speed}]{tail}"
        )

    def _draw(self, now: float) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        text = self.render(now)
        stream.write("\r" + text + " " * max(0, self._width - len(text)))
        self._width = len(text)
        stream.flush()
        self._last_draw = now
        self._drawn = True

    def close(self) -> None:
        """Draw the final state (when anything was drawn or the delay passed) and end the line."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._drawn or now - self._start >= self.delay:
            self._draw(now)
            stream = self.stream if self.stream is not None else sys.stderr
            stream.write("\n")
            stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
