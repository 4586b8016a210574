"""Encoding on worker processes: every core of one machine, bit-identical to one process.

The fast path is Python work under the GIL, so threads do not scale; processes do.

* **Start.** Workers start with ``forkserver`` (``spawn`` where the platform has no
  forkserver): a process that already runs threads - the tokenizers library's, grpc's -
  is never forked.  The forkserver preloads this module, so each worker starts with
  numpy, tokenizers and m2v already imported.
* **One table for all.** The parent writes the model's effective float32 table (rule I5)
  once to a temporary ``.npy`` file; every worker memory-maps that file, so the table's
  pages are shared (its proportional set size is divided among the workers), never copied
  per worker.  Each worker builds its own engine and keeps its own word memo, filled at
  start with the vocabulary's words (the common words every worker would otherwise learn
  separately in its first batches).
* **Texts out, vectors back without pickling them.** A task is a batch of texts (pickled,
  one message); the worker writes the batch's vectors straight into a slot of a shared
  memory block and answers with a few integers.  The parent copies the slot out and
  reuses it.  Slots bound the work in flight (two per worker), so an unbounded iterable
  streams in bounded memory.
* **Order and errors.** Results come back in input order whatever order workers finish
  in.  A worker's typed error (a text it cannot encode, with the text's index) is re-raised
  as is; any other failure, or a worker that dies, raises :class:`WorkerError` naming the
  texts it was encoding.
* **No orphans.** Each worker holds the only other end of its pipe: when the parent exits
  - normally, on Ctrl-C, or killed - the worker reads end-of-file and exits.  Closing the
  pool (``with``, ``close()``, garbage collection, interpreter exit) stops the workers and
  removes the temporary file and shared memory.  Workers ignore SIGINT: Ctrl-C is the
  parent's to handle.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing import connection, shared_memory
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import numpy as np
import numpy.typing as npt
from m2v_format import M2VError

from m2v_infer._arguments import checked_texts
from m2v_infer._engine import Engine, FloatMatrix, finish
from m2v_infer._errors import InvalidArgumentError, WorkerError
from m2v_infer._runner import batched, progress_bar

START_COST_TEXTS = 25_000
"""What starting a pool costs, in texts one process encodes meanwhile (measured on the
benchmark corpus: ~0.9 s for the first pool of a process, forkserver included, at ~27k
texts/s cold; see docs/scale.md)."""


def auto_threshold(cores: int) -> int:
    """The fewest texts for which ``num_workers="auto"`` starts ``cores`` workers: where the
    time saved, ``1 - 1/(0.95 cores)`` of one process's, pays for the start (2 cores: about
    53k texts; 16 cores: about 27k)."""
    gain = 1.0 - 1.0 / (0.95 * max(cores, 2))
    return int(START_COST_TEXTS / gain)


SLOTS_PER_WORKER = 2
"""Batches in flight per worker: one being encoded, one waiting (so no worker idles)."""

START_TIMEOUT_S = 120.0
"""How long the parent waits for every worker to load the model."""

STOP_TIMEOUT_S = 5.0
"""How long a stopping worker may take to exit before it is terminated."""


@dataclass(frozen=True)
class WorkerInit:
    """What a worker needs to build its engine: no model folder, no pickled arrays."""

    tokenizer_json: str
    rows_file: str
    unknown_id: int | None
    median_length: int


@dataclass(frozen=True)
class EncodeSettings:
    """The per-call options a worker applies to each batch."""

    max_length: int | None
    normalize: bool
    dimensions: int | None


# --------------------------------------------------------------------------- worker side


def _worker_main(conn: connection.Connection, init: WorkerInit) -> None:
    """A worker's whole life: build the engine, then answer tasks until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rows = np.load(init.rows_file, mmap_mode="r")
        engine = Engine(
            init.tokenizer_json,
            rows,
            unknown_id=init.unknown_id,
            median_length=init.median_length,
        )
        engine.warm_memo()
    except BaseException as error:
        with contextlib.suppress(OSError, ValueError):
            conn.send(("init-failed", _portable(error, None)))
        return
    conn.send(("ready", os.getpid()))
    blocks: dict[str, tuple[shared_memory.SharedMemory, npt.NDArray[np.float32]]] = {}
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if message[0] == "stop":
                return
            _, task, block_name, shape, slot, offset, texts, settings = message
            try:
                if block_name not in blocks:
                    for old, _array in blocks.values():
                        old.close()
                    blocks.clear()
                    blocks[block_name] = _attach(block_name, shape)
                target = blocks[block_name][1][slot]
                vectors = engine.pool(texts, settings.max_length, offset=offset)
                vectors = finish(
                    vectors, dimensions=settings.dimensions, normalize=settings.normalize
                )
                target[: vectors.shape[0], : vectors.shape[1]] = vectors
                reply: tuple[Any, ...] = ("done", task, vectors.shape[0], vectors.shape[1])
            except BaseException as error:
                reply = ("failed", task, _portable(error, offset))
            try:
                conn.send(reply)
            except (EOFError, OSError):
                return
    finally:
        for block, _array in blocks.values():
            with contextlib.suppress(BufferError):
                block.close()


def _attach(
    name: str, shape: tuple[int, int, int]
) -> tuple[shared_memory.SharedMemory, npt.NDArray[np.float32]]:
    # Workers share the parent's resource tracker (forkserver and spawn pass it on), so
    # attaching registers nothing new; the parent alone unlinks the block.
    block = shared_memory.SharedMemory(name=name)
    return block, np.ndarray(shape, dtype=np.float32, buffer=block.buf)


def _portable(error: BaseException, offset: int | None) -> M2VError:
    """An error that pickles and names the texts: typed ones as they are, others wrapped."""
    if isinstance(error, M2VError):
        return error
    where = "" if offset is None else " while encoding the batch that starts at this text"
    return WorkerError(
        f"a worker process failed{where}: {type(error).__name__}: {error}", index=offset
    )


# --------------------------------------------------------------------------- parent side


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


@dataclass
class _Worker:
    """One worker process, its pipe, and the thread that feeds the pipe.

    Writing a batch blocks while the worker is busy and the pipe is full; a feeder thread
    per worker does the writing, so the parent never waits on one worker while another
    has finished.  Messages are pickled by the caller, so a text that cannot be sent fails
    there, not silently in the thread.
    """

    process: Any
    conn: connection.Connection
    queue: SimpleQueue[bytes | None] = field(default_factory=SimpleQueue)
    thread: threading.Thread | None = None
    pid: int = 0
    outstanding: int = 0

    def start_feeding(self) -> None:
        self.thread = threading.Thread(
            target=_feed, args=(self.conn, self.queue), name="m2v-feed", daemon=True
        )
        self.thread.start()

    def send(self, message: tuple[Any, ...]) -> None:
        """Queue ``message`` for the worker (pickled here: a bad object fails the caller)."""
        self.queue.put(bytes(ForkingPickler.dumps(message)))


def _feed(conn: connection.Connection, queue: SimpleQueue[bytes | None]) -> None:
    while (data := queue.get()) is not None:
        try:
            conn.send_bytes(data)
        except (OSError, ValueError):
            return  # the worker is gone; the parent learns it from the process sentinel


class _Block:
    """One shared-memory block of result slots: ``[slots, rows, dim]`` float32."""

    def __init__(self, slots: int, rows: int, dim: int) -> None:
        self.shape = (slots, rows, dim)
        size = max(1, slots * rows * dim * 4)
        _check_shared_memory(size)
        self.memory = shared_memory.SharedMemory(
            create=True, size=size, name=f"m2v-{os.getpid()}-{secrets.token_hex(4)}"
        )
        self.array: npt.NDArray[np.float32] = np.ndarray(
            self.shape, dtype=np.float32, buffer=self.memory.buf
        )

    def fits(self, slots: int, rows: int, dim: int) -> bool:
        return self.shape[0] >= slots and self.shape[1] >= rows and self.shape[2] == dim

    def release(self) -> None:
        del self.array
        with contextlib.suppress(BufferError, OSError):
            self.memory.close()
        with contextlib.suppress(OSError):
            self.memory.unlink()


def _check_shared_memory(size: int) -> None:
    """Refuse, with a clear message, what /dev/shm cannot hold (writing past it is SIGBUS)."""
    try:
        stats = os.statvfs("/dev/shm")
    except (AttributeError, OSError):
        return  # not Linux: the platform manages shared memory differently
    free = stats.f_bavail * stats.f_frsize
    if size > free:
        raise InvalidArgumentError(
            f"the workers need {size / 2**20:.1f} MiB of shared memory for their results but "
            f"/dev/shm has {free / 2**20:.1f} MiB free; lower batch_size or num_workers (or "
            "give the container a larger /dev/shm)"
        )


def _stop(workers: list[_Worker], block: list[_Block | None], folder: str) -> None:
    """Stop every worker (politely, then by force), free the shared memory and temp file."""
    for worker in workers:
        if worker.thread is not None:
            worker.send(("stop",))
            worker.queue.put(None)
        else:  # never fed: tell it directly
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(("stop",))
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(1.0)
        if worker.process.is_alive():  # pragma: no cover - a worker that ignores SIGTERM
            worker.process.kill()
            worker.process.join()
        if worker.thread is not None:
            worker.thread.join(1.0)
        with contextlib.suppress(OSError):
            worker.conn.close()
    workers.clear()
    if block[0] is not None:
        block[0].release()
        block[0] = None
    shutil.rmtree(folder, ignore_errors=True)


class ProcessPool:
    """Worker processes that encode batches for one model; reusable across calls.

    ``m2v_infer.WorkerPool`` (what :meth:`StaticModel.workers` returns) wraps it with the
    model's API.  One call of :meth:`map` at a time.
    """

    def __init__(self, init: WorkerInit, folder: str, num_workers: int, *, dim: int) -> None:
        self.num_workers = num_workers
        self.dim = dim
        self._workers: list[_Worker] = []
        self._block: list[_Block | None] = [None]
        self._busy = threading.Lock()
        self._next_task = 0
        self._finalizer = weakref.finalize(self, _stop, self._workers, self._block, folder)
        context = _context()
        try:
            for _ in range(num_workers):
                parent_end, child_end = context.Pipe(duplex=True)
                process = context.Process(
                    target=_worker_main, args=(child_end, init), daemon=True, name="m2v-encode"
                )
                process.start()
                child_end.close()  # the worker holds the only other end: EOF when we go
                self._workers.append(_Worker(process, parent_end))
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [worker.pid for worker in self._workers]

    @property
    def closed(self) -> bool:
        """Whether the workers have been stopped."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Stop the workers and free their resources (idempotent)."""
        self._finalizer()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting = {worker.conn: worker for worker in self._workers}
        while waiting:
            ready = connection.wait(
                [*waiting, *(w.process.sentinel for w in waiting.values())],
                max(0.0, deadline - time.monotonic()),
            )
            if not ready:
                raise WorkerError(f"workers did not start within {START_TIMEOUT_S:g} s")
            for conn in [c for c in waiting if c in ready or waiting[c].process.sentinel in ready]:
                worker = waiting.pop(conn)
                try:
                    kind, value = conn.recv()
                except (EOFError, OSError):
                    code = worker.process.exitcode
                    raise WorkerError(
                        f"a worker exited while starting (exit code {code})"
                    ) from None
                if kind == "init-failed":
                    raise value
                worker.pid = int(value)
                worker.start_feeding()

    # ----------------------------------------------------------------- encoding

    def map(
        self,
        texts: Iterable[Any],
        settings: EncodeSettings,
        *,
        batch_size: int,
        total: int | None,
        show_progress: bool,
        views: bool = False,
    ) -> Iterator[FloatMatrix]:
        """Encode consecutive batches of ``texts`` on the workers; yield them in order.

        With ``views`` each result is a view of shared memory, valid until the next one
        is asked for (the caller copies it where it belongs: one copy instead of two).
        """
        if self.closed:
            raise InvalidArgumentError("this worker pool is closed")
        if not self._busy.acquire(blocking=False):
            raise InvalidArgumentError("this worker pool is already encoding (one call at a time)")
        try:
            yield from self._map(texts, settings, batch_size, total, show_progress, views)
        except (KeyboardInterrupt, WorkerError):
            self.close()  # workers may be mid-batch or gone: stop them all
            raise
        finally:
            self._busy.release()

    def _map(
        self,
        texts: Iterable[Any],
        settings: EncodeSettings,
        batch_size: int,
        total: int | None,
        show_progress: bool,
        views: bool,
    ) -> Iterator[FloatMatrix]:
        slots = SLOTS_PER_WORKER * len(self._workers)
        block = self._fresh_block(slots, batch_size)
        free = deque(range(slots))
        order: deque[int] = deque()  # task ids in input order
        tasks: dict[int, tuple[_Worker, int, int]] = {}  # task -> (worker, slot, offset)
        replies: dict[int, tuple[Any, ...]] = {}
        batches = enumerate(batched(texts, batch_size))
        exhausted = False
        with progress_bar(total, enabled=show_progress) as bar:
            while True:
                while not exhausted and free:
                    item = next(batches, None)
                    if item is None:
                        exhausted = True
                        break
                    index, batch = item
                    offset = index * batch_size
                    checked_texts(batch, offset)
                    worker = min(self._workers, key=lambda w: w.outstanding)
                    slot = free.popleft()
                    task = self._next_task
                    self._next_task += 1
                    worker.send(
                        (
                            "task",
                            task,
                            block.memory.name,
                            block.shape,
                            slot,
                            offset,
                            batch,
                            settings,
                        )
                    )
                    worker.outstanding += 1
                    tasks[task] = (worker, slot, offset)
                    order.append(task)
                if not order:
                    return
                head = order[0]
                while head not in replies:
                    self._receive(tasks, replies)
                reply = replies.pop(head)
                order.popleft()
                worker, slot, offset = tasks.pop(head)
                if reply[0] == "failed":
                    raise reply[2]
                rows, cols = int(reply[2]), int(reply[3])
                vectors = block.array[slot, :rows, :cols]
                bar.update(rows)
                yield vectors if views else vectors.copy()
                free.append(slot)  # only now: a view is read before the next result

    def _fresh_block(self, slots: int, rows: int) -> _Block:
        # A new block per call: a batch left running by an abandoned call writes into its
        # own call's block, never into this one's.
        old = self._block[0]
        if old is not None:
            old.release()
        block = _Block(slots, rows, self.dim)
        self._block[0] = block
        return block

    def _receive(
        self, tasks: dict[int, tuple[_Worker, int, int]], replies: dict[int, tuple[Any, ...]]
    ) -> None:
        """Wait for the next reply of any worker; raise WorkerError if a worker died."""
        by_conn = {worker.conn: worker for worker in self._workers}
        by_sentinel = {worker.process.sentinel: worker for worker in self._workers}
        ready = connection.wait([*by_conn, *by_sentinel])
        for item in ready:
            worker = by_conn.get(item)  # type: ignore[call-overload]
            if worker is None:
                worker = by_sentinel[item]
                if worker.conn.poll():
                    continue  # its last replies are still to be read
            try:
                reply = worker.conn.recv()
            except (EOFError, OSError):
                raise self._died(worker, tasks) from None
            worker.outstanding -= 1
            if reply[1] in tasks:  # else: a batch of an abandoned call
                replies[reply[1]] = reply

    def _died(self, worker: _Worker, tasks: dict[int, tuple[_Worker, int, int]]) -> WorkerError:
        worker.process.join(1.0)
        offsets = sorted(offset for w, _, offset in tasks.values() if w is worker)
        first = offsets[0] if offsets else None
        return WorkerError(
            f"worker process {worker.pid} died (exit code {worker.process.exitcode}) while "
            "encoding the batch that starts at this text",
            index=first,
        )


def export_rows(rows: npt.NDArray[Any]) -> tuple[str, str]:
    """Write the effective table once for every worker to map: ``(folder, file)``."""
    folder = tempfile.mkdtemp(prefix="m2v-workers-")
    path = str(Path(folder) / "rows.npy")
    np.save(path, np.ascontiguousarray(rows, dtype=np.float32), allow_pickle=False)
    return folder, path
