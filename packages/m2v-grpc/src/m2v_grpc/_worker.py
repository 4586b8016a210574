"""One worker process of a multi-process server (``m2v serve --workers N``).

The supervisor (``m2v_grpc._supervisor``) starts :func:`run_worker` with the ``spawn``
context and one end of a pipe.  The worker runs :func:`m2v_grpc.serve` on the port the
supervisor chose (sharing it through SO_REUSEPORT), reports over the pipe, and exits with
``serve``'s status:

- ``("ready", pid, port)`` once it is SERVING;
- ``("failed", code, message)`` if it cannot start (its stable error code, e.g.
  ``model-not-found``), then exit status 1.

SIGTERM drains it as a single-process server drains.  The supervisor never writes to the
pipe, so the pipe turns readable only when the supervisor is gone (end of file): the
worker then drains as on SIGTERM, so no worker outlives its supervisor.

grpc is imported inside :func:`run_worker` only, never in the supervisor, which imports
this module to name the worker's entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from m2v_grpc._config import ServerConfig
from m2v_grpc._logging import configure, log_event, logger

if TYPE_CHECKING:
    from m2v_grpc._server import EmbedServer


def run_worker(index: int, config: ServerConfig, conn: Connection, log_level: int) -> None:
    """Serve as worker ``index`` until SIGTERM or the supervisor's end; exits the process."""
    # Ctrl-C reaches the whole process group; the supervisor forwards it as SIGTERM.
    # Once serving, serve() handles SIGINT itself (a drain, like SIGTERM).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure(log_level, worker=index, pid=os.getpid())
    from m2v_format import M2VError

    try:
        code = asyncio.run(_serve(index, config, conn))
    except M2VError as error:
        log_event("worker.failed", logging.ERROR, code=error.code, error=str(error))
        _report(conn, ("failed", error.code, str(error)))
        code = 1
    except Exception as error:  # a fault: the supervisor must still hear of it
        logger.exception("worker.failed", extra={"fields": {"code": "internal"}})
        _report(conn, ("failed", "internal", f"{type(error).__name__}: {error}"))
        code = 1
    conn.close()
    sys.exit(code)


def _report(conn: Connection, message: tuple[object, ...]) -> None:
    with contextlib.suppress(OSError):  # the supervisor is gone: nobody to tell
        conn.send(message)


async def _serve(index: int, config: ServerConfig, conn: Connection) -> int:
    from m2v_grpc._server import serve

    supervisor_gone = asyncio.Event()

    def on_ready(server: EmbedServer) -> None:
        _report(conn, ("ready", os.getpid(), server.port))
        loop = asyncio.get_running_loop()

        def on_readable() -> None:
            loop.remove_reader(conn.fileno())
            log_event("worker.orphaned", logging.WARNING, reason="supervisor gone")
            supervisor_gone.set()

        loop.add_reader(conn.fileno(), on_readable)

    return await serve(config, ready=on_ready, worker=index, stop=supervisor_gone)
