"""The parent of a multi-process server: ``m2v serve --workers N``.

Encoding is Python work under the GIL, so one server process uses about one core for it.
N worker processes, each a complete server with every model, listen on one port with
``SO_REUSEPORT``: the kernel spreads new *connections* over them (all calls of one
connection go to one worker).

Lifecycle (:class:`Supervisor`):

1. Reserve the port (``m2v_grpc._ports``): a taken port fails here; port 0 becomes a
   concrete free port.  Log ``server.listening``.
2. Start N workers with the ``spawn`` context (never fork: grpc runs threads), each
   ``m2v_grpc._worker.run_worker``; log ``worker.started`` per worker.  Wait until every
   worker reports ready through its pipe.  If one fails to start, stop the others and
   raise :class:`~m2v_grpc.ServerStartError` (code ``server-start-failed``; the worker's
   own code is in the message and in its ``worker.failed`` log line).
3. With ``--metrics-port``, serve ``/metrics`` here, summed over the workers
   (prometheus_client multiprocess mode in a fresh temporary directory).  Log
   ``server.serving``.
4. On SIGTERM or SIGINT (``server.signal``), forward SIGTERM to every worker; each drains
   as a single-process server does (health NOT_SERVING, streams stop taking items,
   accepted work answered, streams end OK).  Log ``worker.exited`` per worker and then
   ``server.stopped``; exit status 0 when every worker drained cleanly, else 1.

A worker that dies unexpectedly is *not* restarted: the supervisor logs ``worker.died``
and shuts the whole server down (the other workers drain), exit status 1.  Restarting in
place would hide crash loops and serve at reduced capacity while reporting healthy; the
process manager (Kubernetes, systemd) restarts the server, and the draining workers turn
NOT_SERVING at once so load balancers move traffic away.

A worker still running ``grace + SHUTDOWN_MARGIN_SECONDS`` after the forwarded SIGTERM is
killed.  If the supervisor itself dies, each worker notices the closed pipe and drains.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING, Any

from m2v_grpc._config import ServerConfig
from m2v_grpc._errors import ServerStartError
from m2v_grpc._logging import log_event, logger
from m2v_grpc._ports import PortReservation, format_address, reserve_port
from m2v_grpc._worker import run_worker

if TYPE_CHECKING:
    from m2v_grpc._metrics import MetricsHTTP

SHUTDOWN_MARGIN_SECONDS = 5.0
"""Seconds beyond the drain grace before a worker that has not exited is killed."""

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Environment variable telling prometheus_client in the workers where to write."""

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_server(config: ServerConfig) -> int:
    """Run the server of ``config`` until SIGTERM/SIGINT; returns the exit status.

    One process when ``config.processes`` is 1 (:func:`m2v_grpc.serve`), else a
    :class:`Supervisor` and its workers.  Call it from the main thread; with several
    processes, guard the calling script with ``if __name__ == "__main__":`` (the workers
    are started with ``spawn``, which imports the main module again).
    """
    if config.processes == 1:
        import asyncio

        from m2v_grpc._server import serve

        return asyncio.run(serve(config))
    return Supervisor(config).run()


@dataclass
class _Worker:
    """A worker process and the supervisor's end of its pipe."""

    index: int
    process: BaseProcess
    conn: Connection
    ready: bool = False

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)


class Supervisor:
    """Start ``config.processes`` workers on one port, forward signals, collect exits."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.workers: list[_Worker] = []
        self.port = 0
        self.metrics_port: int | None = None
        self.http_port: int | None = None
        """The HTTP endpoint's port every worker shares (``config.http_port``; 0 made concrete)."""
        self.health_port: int | None = None
        """The health-only port every worker shares (``config.health_port``; 0 made concrete)."""
        self._extra_reservations: list[PortReservation] = []
        self._signals: list[str] = []
        self._wake_read, self._wake_write = socket.socketpair()
        self._previous_handlers: dict[int, Any] = {}
        self._previous_wakeup_fd = -1
        self._metrics_dir: str | None = None
        self._exporter: MetricsHTTP | None = None

    # -- the whole run -----------------------------------------------------------------

    def run(self) -> int:
        """Serve until a signal or a worker's death, then drain; returns the exit status."""
        config = self.config
        reservation = reserve_port(config.host, config.port)
        self.port = reservation.port
        try:  # the HTTP and health ports are reserved like the gRPC one, held until the end
            if config.http_port is not None:
                self.http_port = self._reserve(config.http_host, config.http_port)
            if config.health_port is not None:
                self.health_port = self._reserve(config.health_host, config.health_port)
        except BaseException:
            reservation.close()
            self._release_extra_ports()
            raise
        address = format_address(config.host, self.port)
        log_event(
            "server.listening",
            address=address,
            workers=config.processes,
            http_port=self.http_port,
            health_port=self.health_port,
        )
        self._install_signal_handlers()
        try:
            self._start_workers()
            failure = self._wait_ready()
            if failure is not None and not self._signals:
                self._stop_workers()
                raise ServerStartError(failure)
            reservation.close()
            if not self._signals:
                self._serve_metrics()
                log_event(
                    "server.serving",
                    address=address,
                    workers=len(self.workers),
                    pids=[w.pid for w in self.workers],
                    metrics_port=self.metrics_port,
                    http_port=self.http_port,
                    health_port=self.health_port,
                )
                self._wait_stop()
            return self._shutdown()
        finally:
            reservation.close()
            self._kill_leftovers()
            self._restore_signal_handlers()
            self._cleanup()

    def _reserve(self, host: str | None, port: int) -> int:
        """Reserve one more port the workers share (on ``host``, default the gRPC host)."""
        reservation = reserve_port(host or self.config.host, port)
        self._extra_reservations.append(reservation)
        return reservation.port

    def _release_extra_ports(self) -> None:
        for reservation in self._extra_reservations:
            reservation.close()
        self._extra_reservations.clear()

    # -- signals -----------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        # The C-level handler writes to the socket, which wakes up _wait(); the Python
        # handler records the signal.
        self._wake_write.setblocking(False)
        self._wake_read.setblocking(False)
        self._previous_wakeup_fd = signal.set_wakeup_fd(
            self._wake_write.fileno(), warn_on_full_buffer=False
        )
        for sig in _SIGNALS:
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals.append(signal.Signals(signum).name)

    def _restore_signal_handlers(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_wakeup_fd)

    def _wait(self, objects: list[Any], timeout: float | None = None) -> list[Any]:
        """Wait for any of ``objects`` or a signal; returns the ready ones."""
        ready = wait([*objects, self._wake_read], timeout)
        if self._wake_read in ready:
            with contextlib.suppress(BlockingIOError):
                self._wake_read.recv(4096)
        return [obj for obj in ready if obj is not self._wake_read]

    # -- start-up ----------------------------------------------------------------------

    def _start_workers(self) -> None:
        worker_config = replace(
            self.config,
            port=self.port,
            metrics_port=None,
            processes=1,
            http_port=self.http_port,
            health_port=self.health_port,
        )
        context = multiprocessing.get_context("spawn")
        saved = os.environ.get(MULTIPROC_ENV)
        # The HTTP endpoint's /metrics (in every worker) sums the workers' files too.
        if self.config.metrics_port is not None or self.config.http_port is not None:
            self._metrics_dir = tempfile.mkdtemp(prefix="m2v-grpc-metrics-")
            os.environ[MULTIPROC_ENV] = self._metrics_dir  # read by each worker at start
        else:
            os.environ.pop(MULTIPROC_ENV, None)
        try:
            for index in range(self.config.processes):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=run_worker,
                    args=(index, worker_config, theirs, logger.getEffectiveLevel()),
                    name=f"m2v-grpc-worker-{index}",
                    daemon=True,
                )
                process.start()
                theirs.close()
                self.workers.append(_Worker(index, process, ours))
                log_event("worker.started", worker=index, pid=process.pid)
        finally:
            if saved is None:
                os.environ.pop(MULTIPROC_ENV, None)
            else:
                os.environ[MULTIPROC_ENV] = saved

    def _wait_ready(self) -> str | None:
        """Wait until every worker is ready; a failure's description, or None."""
        while not all(w.ready for w in self.workers):
            if self._signals:
                return f"{self._signals[0]} before every worker was ready"
            pending = [w.conn for w in self.workers if not w.ready]
            self._wait(pending + [w.process.sentinel for w in self.workers])
            for worker in self.workers:
                failure = self._check_start(worker)
                if failure is not None:
                    return failure
        return None

    def _check_start(self, worker: _Worker) -> str | None:
        if not worker.ready:
            try:
                message = worker.conn.recv() if worker.conn.poll() else None
            except (EOFError, OSError):  # the worker is exiting: wait for its status
                message = None
                worker.process.join(SHUTDOWN_MARGIN_SECONDS)
            if message is not None and message[0] == "ready":
                worker.ready = True
                return None
            if message is not None:
                _kind, code, text = message
                return f"worker {worker.index} could not start: {text} [{code}]"
        if worker.process.exitcode is not None:
            return (
                f"worker {worker.index} (pid {worker.pid}) exited with status "
                f"{worker.process.exitcode} before the server was ready"
            )
        return None

    def _serve_metrics(self) -> None:
        config = self.config
        if config.metrics_port is None or self._metrics_dir is None:
            return
        from m2v_grpc._metrics import MetricsHTTP, aggregated_registry

        self._exporter = MetricsHTTP()
        self.metrics_port = self._exporter.serve(
            aggregated_registry(self._metrics_dir), config.metrics_port, config.metrics_host
        )

    # -- serving and shutdown ----------------------------------------------------------

    def _wait_stop(self) -> None:
        """Return on the first signal or the first worker exit (logged ``worker.died``).

        A signal wins over an exit seen at the same time: a process manager that signals
        the whole group (systemd's default) reaches the workers too, and they drain.
        """
        while not self._signals:
            self._wait([w.process.sentinel for w in self.workers])
            if self._signals:
                return
            died = [w for w in self.workers if w.process.exitcode is not None]
            for worker in died:
                log_event(
                    "worker.died",
                    logging.ERROR,
                    worker=worker.index,
                    pid=worker.pid,
                    exit_code=worker.process.exitcode,
                )
            if died:
                return

    def _shutdown(self) -> int:
        """Forward SIGTERM to every worker, wait for all; 0 if each drained cleanly."""
        reason = self._signals[0] if self._signals else "worker-died"
        if self._signals:
            log_event("server.signal", signal=reason)
        live = [w for w in self.workers if w.process.exitcode is None]
        log_event(
            "server.draining",
            grace_seconds=self.config.grace_seconds,
            workers=len(live),
            reason=reason,
        )
        self._stop_workers()
        codes = {w.index: w.process.exitcode for w in self.workers}
        clean = bool(self._signals) and all(code == 0 for code in codes.values())
        log_event(
            "server.stopped",
            logging.INFO if clean else logging.WARNING,
            clean=clean,
            exit_codes=codes,
        )
        return 0 if clean else 1

    def _stop_workers(self) -> None:
        """SIGTERM every live worker and wait for them (kill after grace + margin)."""
        waiting = [w for w in self.workers if w.process.exitcode is None]
        for worker in waiting:
            worker.process.terminate()
        for worker in self.workers:
            if worker not in waiting:
                self._exited(worker)
        deadline = time.monotonic() + self.config.grace_seconds + SHUTDOWN_MARGIN_SECONDS
        while waiting and time.monotonic() < deadline:
            self._wait([w.process.sentinel for w in waiting], deadline - time.monotonic())
            for worker in [w for w in waiting if w.process.exitcode is not None]:
                waiting.remove(worker)
                self._exited(worker)
        for worker in waiting:
            log_event("worker.killed", logging.ERROR, worker=worker.index, pid=worker.pid)
            worker.process.kill()
            worker.process.join()
            self._exited(worker)

    def _exited(self, worker: _Worker) -> None:
        worker.process.join()
        code = worker.process.exitcode
        log_event(
            "worker.exited",
            logging.INFO if code == 0 else logging.WARNING,
            worker=worker.index,
            pid=worker.pid,
            exit_code=code,
        )
        if self._metrics_dir is not None:
            from m2v_grpc._metrics import forget_process

            forget_process(worker.pid, self._metrics_dir)

    def _kill_leftovers(self) -> None:
        """Last resort on an error path: no worker outlives the supervisor."""
        for worker in self.workers:
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()

    def _cleanup(self) -> None:
        self._release_extra_ports()
        if self._exporter is not None:
            self._exporter.close()
        for worker in self.workers:
            worker.conn.close()
        self._wake_read.close()
        self._wake_write.close()
        if self._metrics_dir is not None:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
