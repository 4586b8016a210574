"""Batching and threading: run one function over batches of an iterable, in order.

Batches are cut lazily from any iterable, so a generator is consumed a batch at a time
and at most ``window`` batches are in flight: memory stays bounded however long the
input is.  With more than one thread the batches go to a ``ThreadPoolExecutor``; results
always come back in input order.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain, islice
from typing import Any, TypeVar

from m2v_infer._arguments import check_workers

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """How many cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS and Windows
        return max(1, os.cpu_count() or 1)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter), read lazily."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def run_ordered(
    function: Callable[[T], R],
    batches: Iterable[T],
    *,
    num_threads: int,
    window: int | None = None,
) -> Iterator[R]:
    """Yield ``function(batch)`` for each batch, in order, using ``num_threads`` threads.

    At most ``window`` batches (default: twice the thread count) are submitted ahead of
    the one being yielded.  Closing the iterator early cancels the batches not started.
    An exception raised by ``function`` is re-raised here, in order.
    """
    if num_threads <= 1:
        for batch in batches:
            yield function(batch)
        return
    limit = window if window is not None else 2 * num_threads
    pending: deque[Future[R]] = deque()
    executor = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="m2v-encode")
    try:
        for batch in batches:
            pending.append(executor.submit(function, batch))
            while len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


class _NoProgress:
    """What :func:`progress_bar` returns when disabled: accepts updates, draws nothing."""

    def update(self, count: int = 1) -> None:
        """Ignore ``count``."""


def progress_bar(
    total: int | None, *, enabled: bool, desc: str = "Encoding", delay: float = 0.0
) -> contextlib.AbstractContextManager[Any]:
    """A tqdm bar counting texts on stderr (tqdm is imported only when it is enabled)."""
    if not enabled:
        return contextlib.nullcontext(_NoProgress())
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="texts", delay=delay, file=sys.stderr)


def plan_workers(
    workers: int | str, texts: Iterable[T], total: int | None, threshold: int | None
) -> tuple[int, Iterable[T]]:
    """How many worker processes to use for ``texts``, and the texts to encode.

    A count is used as given.  ``"auto"`` means every available core, but only for inputs
    of at least ``threshold`` texts (``None``: the measured break-even for this many
    cores): below that, starting processes costs more than it saves.  For an input of
    unknown length the first ``threshold`` texts are read ahead to find out; the returned
    iterable yields them again, then the rest.
    """
    from m2v_infer._workers import auto_threshold

    checked = check_workers(workers)
    if checked != "auto":
        return int(checked), texts
    cores = available_cores()
    if cores < 2:
        return 1, texts
    if threshold is None:
        threshold = auto_threshold(cores)
    if total is not None:
        return (cores if total >= threshold else 1), texts
    iterator = iter(texts)
    head = list(islice(iterator, threshold))
    if len(head) < threshold:
        return 1, head
    return cores, chain(head, iterator)


def map_batches(
    work: Callable[[int, list[Any]], R],
    texts: Iterable[Any],
    *,
    batch_size: int,
    threads: int,
    total: int | None,
    show_progress: bool,
    rows: Callable[[R], int],
) -> Iterator[R]:
    """``work(offset, batch)`` for consecutive batches of ``texts``, in order.

    ``offset`` is the index of the batch's first text; ``rows(result)`` says how many
    texts a result covers (for the progress bar).  An input that fits in one batch runs
    in the calling thread.
    """
    if total is not None and total <= batch_size:
        threads = 1
    numbered = (
        (index * batch_size, batch) for index, batch in enumerate(batched(texts, batch_size))
    )
    with progress_bar(total, enabled=show_progress) as bar:
        for result in run_ordered(lambda item: work(*item), numbered, num_threads=threads):
            bar.update(rows(result))
            yield result
