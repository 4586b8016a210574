"""``python -m m2v_grpc serve ...`` in a subprocess, its JSON log lines collected.

The tests and the benchmarks start real servers this way.  Only the standard library:
the server is another process, so the test kit needs no grpc.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from m2v_testkit._processes import children_of


class ServeProcess:
    """One ``m2v serve`` process: its logs (``logs``, ``raw``), port and lifecycle.

    ``env`` adds variables to this process's environment (``GRPC_VERBOSITY=NONE`` is set);
    ``preexec_fn`` runs in the child before it starts (e.g. to pin it to some CPUs).
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.port = 0
        self.started = time.perf_counter()
        self.ready_seconds = 0.0
        """Seconds from start until ``server.serving`` was logged."""
        self._serving = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "m2v_grpc", "serve", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "GRPC_VERBOSITY": "NONE", **(env or {})},
            preexec_fn=preexec_fn,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.raw.append(line)
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                self.logs.append(record)
                if record.get("event") == "server.listening":
                    self.port = int(str(record["address"]).rsplit(":", 1)[1])
                if record.get("event") == "server.serving":
                    self.ready_seconds = time.perf_counter() - self.started
                    self._serving.set()

    @property
    def pid(self) -> int:
        """The server's (the supervisor's, with ``--workers``) process id."""
        return int(self.process.pid)

    def wait_serving(self, timeout: float = 60.0) -> int:
        """Block until the server logs ``server.serving``; return its port."""
        deadline = time.monotonic() + timeout
        while not self._serving.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + "".join(self.raw))
        return self.port

    def serving_record(self) -> dict[str, Any]:
        """The ``server.serving`` log record (ports, models, ...), once serving."""
        self.wait_serving()
        return self.records("server.serving")[0]

    def terminate(self) -> None:
        """Send SIGTERM."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """Wait for exit; return the exit code."""
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait (killed after ``timeout`` seconds); returns the exit code."""
        self.terminate()
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return int(self.process.returncode)

    def kill(self) -> None:
        """Kill it if still running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def events(self) -> list[str]:
        """The ``event`` names logged so far."""
        return [str(record.get("event")) for record in self.logs]

    def records(self, event: str) -> list[dict[str, Any]]:
        """The log records of ``event`` so far."""
        return [record for record in self.logs if record.get("event") == event]

    def worker_pids(self) -> list[int]:
        """Pids of the worker processes the supervisor reported (``worker.started``)."""
        return [int(record["pid"]) for record in self.records("worker.started")]

    def children(self) -> list[int]:
        """Pids of the server's child processes now (workers and multiprocessing helpers)."""
        return children_of(self.process.pid)
