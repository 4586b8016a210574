"""The server: a ``grpc.aio`` server with the embed service, health, reflection, auth, TLS,
admission control, metrics and a graceful drain.

Lifecycle::

    server = EmbedServer(config)
    await server.start()     # binds (a taken port fails loudly), health NOT_SERVING,
                             # loads the models on a worker thread, then SERVING
    ...
    await server.drain()     # health NOT_SERVING -> refuse new calls (UNAVAILABLE) ->
                             # streams stop reading -> every accepted item answered ->
                             # streams end OK -> stop(remaining grace)

:func:`serve` runs one until SIGTERM or SIGINT and then drains it.  A worker process of a
multi-process server (``m2v serve --workers N``, see ``m2v_grpc._supervisor``) runs the
same server with ``worker`` set: it binds with ``grpc.so_reuseport`` 1 to share the port
with its siblings and logs ``worker.*`` events instead of ``server.*`` ones (the
supervisor logs those for the whole server).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import signal
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from m2v_infer import StaticModel

from m2v_grpc._admission import Admission
from m2v_grpc._auth import BearerTokenInterceptor
from m2v_grpc._config import ServerConfig, TLSConfig
from m2v_grpc._errors import ConfigError, ServerStartError
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2
from m2v_grpc._logging import log_event
from m2v_grpc._metrics import Metrics
from m2v_grpc._models import ModelRegistry
from m2v_grpc._ports import format_address
from m2v_grpc._reflection import enable_reflection
from m2v_grpc._servicer import EmbedServicer, add_to_server
from m2v_grpc._stream_budget import StreamBudget, StreamBudgetInterceptor
from m2v_grpc._tracing import Tracing

if TYPE_CHECKING:
    from m2v_grpc._http import HTTPEndpoint

SERVICE_NAME: str = embed_pb2.DESCRIPTOR.services_by_name["EmbedService"].full_name
"""Fully qualified service name, also the health-check service name."""

HEALTH_SERVICE_NAME: str = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name

STOP_GRACE_WHEN_IDLE = 0.5
"""Seconds left to calls outside admission control (health Watch, reflection) after a drain."""

RESERVED_RPCS = 64
"""Room in gRPC's global call limit above every long-lived call there can be.

Embedding calls are bounded by :class:`Admission` (``max_concurrent_requests``) and health
watches plus reflection streams by their own budget (``max_health_streams``), so gRPC's
limit, ``max_concurrent_requests + max_health_streams + RESERVED_RPCS``, leaves this many
places to short calls (health ``Check``, ``GetInfo``, calls being refused) whatever the
long-lived ones do.  The global limit stays as a memory bound: above it gRPC refuses a call
before reading its message."""


def server_version() -> str:
    """Installed version of m2v-grpc."""
    try:
        return version("m2v-grpc")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _server_credentials(tls: TLSConfig) -> grpc.ServerCredentials:
    try:
        key, cert = tls.key.read_bytes(), tls.cert.read_bytes()
        client_ca = tls.client_ca.read_bytes() if tls.client_ca is not None else None
    except OSError as error:
        raise ServerStartError(
            f"cannot read TLS file {error.filename}: {error.strerror}"
        ) from error
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


class EmbedServer:
    """One embedding server.  Models load during :meth:`start` unless a registry is given.

    ``worker``: the index of this process in a multi-process server (it then shares the
    port through SO_REUSEPORT); None for a server of its own, whose port must be free.
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        registry: ModelRegistry | None = None,
        loader: Callable[[str], StaticModel] | None = None,
        worker: int | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self._loader = loader
        self.worker = worker
        self.scope = "server" if worker is None else "worker"
        """Prefix of this server's log events: ``server``, or ``worker`` in a worker process."""
        self.metrics = Metrics(worker=worker or 0)
        self.admission = Admission(config.limits.max_concurrent_requests)
        self.health = HealthServicer()
        self.tracing = Tracing(config.otel)
        """Spans of this server (``config.otel``; MissingDependencyError without the extra)."""
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.workers, thread_name_prefix="m2v-grpc-worker"
        )
        self._server: aio.Server | None = None
        self.servicer: EmbedServicer | None = None
        self.port = 0
        self.metrics_port: int | None = None
        self.http_port: int | None = None
        self.health_port: int | None = None
        """Port of the plaintext health-only server once bound (``config.health_port``)."""
        self._health_server: aio.Server | None = None
        self.stream_budget = StreamBudget(
            config.max_health_streams,
            on_reject=lambda: self.metrics.rejections.labels("health-streams").inc(),
        )
        """Open health watches and reflection streams (both ports share it)."""
        """Port of the OpenAI-compatible HTTP endpoint once bound (``config.http_port``)."""
        self._http: HTTPEndpoint | None = None
        self._stopped = asyncio.Event()

    # -- startup -----------------------------------------------------------------------

    def _options(self) -> list[tuple[str, Any]]:
        limits = self.config.limits
        options: list[tuple[str, Any]] = [
            # Alone, a taken port must fail, not be shared silently; a worker shares it.
            ("grpc.so_reuseport", 0 if self.worker is None else 1),
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", -1),
        ]
        age = self.config.max_connection_age_seconds
        if age:
            options += [
                ("grpc.max_connection_age_ms", int(age * 1000)),
                ("grpc.max_connection_age_grace_ms", int(self.config.grace_seconds * 1000)),
            ]
        return options

    async def _set_health(self, status: int) -> None:
        for service in ("", SERVICE_NAME):
            await self.health.set(service, status)

    async def start(self) -> None:
        """Bind and serve health (NOT_SERVING), load the models, then turn SERVING.

        Until the models are loaded, EmbedService calls get UNAVAILABLE.  A taken port, an
        unreadable certificate or a model that fails to load raises (the server is stopped).
        """
        config = self.config
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        interceptors: list[Any] = [StreamBudgetInterceptor(self.stream_budget)]
        if config.tokens:
            interceptors.append(
                BearerTokenInterceptor(
                    config.tokens,
                    on_reject=lambda: self.metrics.item_errors.labels("unauthenticated").inc(),
                )
            )
        server = aio.server(
            interceptors=interceptors,
            options=self._options(),
            maximum_concurrent_rpcs=config.limits.max_concurrent_requests
            + config.max_health_streams
            + RESERVED_RPCS,
        )
        self.servicer = EmbedServicer(
            None,
            config.limits,
            self._executor,
            self.admission,
            self.metrics,
            server_version(),
            tracing=self.tracing,
        )
        add_to_server(self.servicer, server)  # requests parsed by the servicer (malformed: 400)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        if config.reflection:
            enable_reflection(
                server,
                (SERVICE_NAME, HEALTH_SERVICE_NAME),
                (embed_pb2.DESCRIPTOR, health_pb2.DESCRIPTOR),
            )
        address = format_address(config.host, config.port)
        try:
            credentials = _server_credentials(config.tls) if config.tls is not None else None
            if credentials is not None:
                self.port = server.add_secure_port(address, credentials)
            else:
                self.port = server.add_insecure_port(address)
        except RuntimeError as error:
            raise ServerStartError(f"cannot listen on {address}: {error} (port in use?)") from error
        if not self.port:
            raise ServerStartError(f"cannot listen on {address} (port in use?)")
        await server.start()
        self._server = server
        log_event(f"{self.scope}.listening", address=format_address(config.host, self.port))
        started = time.perf_counter()
        try:
            if config.health_port is not None:  # before loading: NOT_SERVING meanwhile
                await self._start_health_port()
            if config.http_port is not None:  # before loading: /health answers 503 meanwhile
                await self._start_http()
            if self.registry is None:
                loop = asyncio.get_running_loop()
                self.registry = await loop.run_in_executor(
                    self._executor,
                    functools.partial(
                        ModelRegistry.load,
                        config.models,
                        self._loader,
                        memory_map=config.memory_map,
                    ),
                )
        except BaseException:
            await self.stop()
            raise
        self.servicer.set_registry(self.registry)
        if config.metrics_port is not None:
            self.metrics_port = self.metrics.serve_http(config.metrics_port, config.metrics_host)
        self.admission.ready = True
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log_event(
            f"{self.scope}.serving",
            address=format_address(config.host, self.port),
            tls=config.tls is not None,
            mtls=config.tls is not None and config.tls.client_ca is not None,
            auth=bool(config.tokens),
            models=[
                {
                    "name": m.name,
                    "dims": m.dims,
                    "dtype": m.dtype,
                    "default": m is self.registry.default,
                }
                for m in self.registry
            ],
            load_seconds=round(time.perf_counter() - started, 3),
            memory_map=config.memory_map,
            metrics_port=self.metrics_port,
            http_port=self.http_port,
            health_port=self.health_port,
            threads=config.workers,
        )

    async def _start_health_port(self) -> None:
        """Bind the plaintext port that serves only ``grpc.health.v1`` (no token, no TLS).

        For probes that cannot speak TLS (the kubelet's gRPC probes): it reveals the
        serving status and nothing else, so the main port can require TLS and tokens.
        """
        config = self.config
        server = aio.server(
            interceptors=[StreamBudgetInterceptor(self.stream_budget)],
            options=[("grpc.so_reuseport", 0 if self.worker is None else 1)],
            maximum_concurrent_rpcs=config.max_health_streams + RESERVED_RPCS,
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        address = format_address(config.health_host or config.host, config.health_port or 0)
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as error:
            raise ServerStartError(f"cannot listen on {address}: {error} (port in use?)") from error
        if not port:
            raise ServerStartError(f"cannot listen on {address} (port in use?)")
        await server.start()
        self._health_server, self.health_port = server, port
        log_event(
            f"{self.scope}.health_listening",
            address=format_address(config.health_host or config.host, port),
        )

    async def _start_http(self) -> None:
        """Bind and start the OpenAI-compatible HTTP endpoint (extra ``m2v-grpc[http]``)."""
        from m2v_grpc._http import HTTPEndpoint

        self._http = HTTPEndpoint(self, self._executor)
        self.http_port = await self._http.start()

    # -- shutdown ----------------------------------------------------------------------

    async def drain(self, grace: float | None = None) -> bool:
        """Shut down without losing accepted work; returns True if everything finished in time.

        health NOT_SERVING -> new calls refused with UNAVAILABLE -> open streams stop
        reading -> wait for every accepted call and stream message to be answered (streams
        end with OK) -> ``stop()`` with what is left of ``grace``.
        """
        grace = self.config.grace_seconds if grace is None else grace
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        log_event(
            f"{self.scope}.draining",
            grace_seconds=grace,
            in_flight=self.admission.in_flight,
            open_streams=self.admission.open_streams,
        )
        await self.health.enter_graceful_shutdown()
        self.admission.start_draining()
        margin = min(1.0, grace * 0.2)
        idle = await self.admission.wait_idle(max(0.0, grace - margin))
        # Counted now: stopping the server cancels the handlers, which give their slots back.
        unfinished, unfinished_streams = self.admission.in_flight, self.admission.open_streams
        if self._http is not None:  # HTTP refused new requests (503) since start_draining
            await self._http.stop(max(0.0, deadline - loop.time()))
        if self._server is not None:
            # Idle: only health watches, reflection or GetInfo can be open; end them quickly.
            remaining = max(0.0, deadline - loop.time())
            await self._server.stop(min(remaining, STOP_GRACE_WHEN_IDLE) if idle else remaining)
        if self._health_server is not None:  # last: probes see NOT_SERVING until the end
            await self._health_server.stop(None)
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.metrics.close)  # HTTPServer.shutdown() blocks
        self._stopped.set()
        log_event(
            f"{self.scope}.stopped",
            logging.INFO if idle else logging.WARNING,
            clean=idle,
            unfinished=unfinished,
            unfinished_streams=unfinished_streams,
        )
        return idle

    async def stop(self) -> None:
        """Stop at once (no grace); for tests and error paths."""
        if self._http is not None:
            await self._http.stop(None)
        if self._server is not None:
            await self._server.stop(None)
        if self._health_server is not None:
            await self._health_server.stop(None)
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.metrics.close)  # HTTPServer.shutdown() blocks
        self._stopped.set()

    async def wait_stopped(self) -> None:
        """Wait until :meth:`drain` or :meth:`stop` finished."""
        await self._stopped.wait()

    async def __aenter__(self) -> EmbedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._stopped.is_set():
            await self.stop()


async def serve(
    config: ServerConfig,
    *,
    ready: Callable[[EmbedServer], None] | None = None,
    worker: int | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run a server until SIGTERM/SIGINT (or ``stop`` is set), then drain it; returns the
    exit code (0 clean).

    ``ready`` is called once the server is SERVING.  This runs one process:
    ``config.processes`` above 1 needs :func:`m2v_grpc.run_server`, which starts the
    worker processes (each calls this with its ``worker`` index).
    """
    if config.processes > 1:
        raise ConfigError(
            "ServerConfig.processes > 1: use m2v_grpc.run_server, which starts the workers"
        )
    server = EmbedServer(config, worker=worker)
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        if ready is not None:  # after the handlers: a signal from now on drains
            ready(server)
        await stop.wait()
        log_event(f"{server.scope}.signal", signal=received[0] if received else None)
        clean = await server.drain()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0 if clean else 1
