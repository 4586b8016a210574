"""The OpenAI-compatible HTTP endpoint of ``m2v serve --http-port``: Starlette on uvicorn.

Routes: ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /v1/models/{id}``, ``GET
/health`` and ``GET /metrics`` (see ``m2v_grpc._openai`` for the request and response
shapes).  The endpoint is part of an :class:`~m2v_grpc.EmbedServer` and shares with its
gRPC service the models, the admission slots (a slot taken by a gRPC call is missing for
HTTP and the other way round), the encoding threads, the bearer tokens, the limits and
the metrics.  uvicorn runs as a task in the gRPC server's event loop, on a socket bound
here (with ``SO_REUSEPORT`` in a worker of ``--workers N``, whose siblings share the
port); it installs no signal handlers and writes no logs of its own beyond warnings
(routed to the JSON log).  With ``--tls-cert``/``--tls-key`` it speaks HTTPS with the
gRPC port's certificate (and requires client certificates with ``--tls-client-ca``), so
tokens go over TLS on both protocols.

An embeddings request, step by step: token check (401) -> admission probe (503 loading
or draining, 429 full; answered before the body is read) -> the body, read up to
``max_message_bytes`` (413) -> an admission slot -> on a worker thread: JSON parsing and
checks (400, 404), tokenization and pooling, the response body -> the slot back.
Responses carry timing headers (milliseconds): ``x-queue-time`` (slot taken until the
work starts on a worker thread), ``x-compute-time`` (on the worker thread),
``x-total-time`` (request received until response ready), ``x-compute-characters`` and
``x-compute-tokens`` (the token ids pooled, also ``usage.prompt_tokens``).

Imported only when the endpoint is on: it needs the extra ``m2v-grpc[http]``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from m2v_format import MissingDependencyError

try:
    import orjson  # noqa: F401  (m2v_grpc._openai needs it)
    import uvicorn
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as _missing:
    raise MissingDependencyError(
        f"the HTTP endpoint (--http-port) needs the extra m2v-grpc[http] "
        f"({_missing.name or _missing} is missing): pip install 'm2v-grpc[http]'"
    ) from _missing

from m2v_grpc._auth import bearer_problem
from m2v_grpc._config import TLSConfig
from m2v_grpc._errors import (
    AuthenticationError,
    EmbedServiceError,
    InternalServerError,
    MessageTooLargeError,
    OverloadedError,
    ServerStartError,
    UnavailableError,
    UnknownModelError,
)
from m2v_grpc._logging import log_event, logger
from m2v_grpc._openai import (
    ErrorReply,
    RequestFieldError,
    embeddings_body,
    error_reply,
    json_bytes,
    model_object,
    models_body,
    parse_embeddings_request,
)
from m2v_grpc._ports import format_address
from m2v_grpc._tracing import Span

if TYPE_CHECKING:
    from m2v_grpc._server import EmbedServer

JSON = "application/json"
EMBEDDINGS = "/v1/embeddings"
"""Route label of the embeddings endpoint in the metrics (``method`` / ``route``)."""

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class _Embedded:
    """What a worker thread hands back for one embeddings request."""

    body: bytes
    model: str
    texts: int
    characters: int
    tokens: int
    queue_seconds: float
    compute_seconds: float


def _tls_options(tls: TLSConfig | None) -> dict[str, Any]:
    """uvicorn's TLS settings for the gRPC port's certificate (mutual TLS included)."""
    if tls is None:
        return {}
    for path in (tls.cert, tls.key, tls.client_ca):
        if path is not None and not path.is_file():
            raise ServerStartError(f"cannot read TLS file {path}")
    options: dict[str, Any] = {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    if tls.client_ca is not None:
        options.update(ssl_ca_certs=str(tls.client_ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    return options


class _Uvicorn(uvicorn.Server):
    """uvicorn without signal handling (the m2v server drains on SIGTERM) that says when
    it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: SIGTERM and SIGINT belong to :func:`m2v_grpc.serve`."""
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then set :attr:`listening`."""
        await super().startup(sockets=sockets)
        self.listening.set()


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A bound TCP socket; ``reuse_port`` shares the port with sibling workers."""
    address = format_address(host, port)
    try:
        family, kind, proto, _name, sockaddr = socket.getaddrinfo(
            host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise ServerStartError(f"cannot listen on {address} (HTTP): {error}") from error
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(sockaddr)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ServerStartError(
            f"cannot listen on {address} (HTTP): {error.strerror} (port in use?)"
        ) from error
    sock.setblocking(False)
    return sock


def _route_uvicorn_logs() -> None:
    """uvicorn's warnings and errors go to the m2v JSON log; its info lines nowhere."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = list(logger.handlers)
        uvicorn_logger.setLevel(logging.WARNING)
        uvicorn_logger.propagate = False


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


class HTTPEndpoint:
    """The HTTP endpoint of one :class:`~m2v_grpc.EmbedServer` (see the module doc)."""

    def __init__(self, server: EmbedServer, executor: concurrent.futures.Executor) -> None:
        self._server = server
        self._executor = executor
        self._tokens = tuple(token.encode("utf-8") for token in server.config.tokens)
        self._created = int(time.time())
        self._uvicorn: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route(EMBEDDINGS, self.embeddings, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/models/{model_id:path}", self.model, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/metrics", self.metrics, methods=["GET"]),
            ],
            exception_handlers={HTTPException: self._http_exception, Exception: self._crash},
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> int:
        """Bind and start serving; returns the port (port 0: the one the kernel chose)."""
        config = self._server.config
        host = config.http_host or config.host
        sock = _bind(host, config.http_port or 0, reuse_port=self._server.worker is not None)
        self.port = int(sock.getsockname()[1])
        _route_uvicorn_logs()
        server = _Uvicorn(
            uvicorn.Config(
                self.app,
                **_tls_options(config.tls),
                lifespan="off",
                log_config=None,
                access_log=False,
                proxy_headers=False,
                server_header=False,
                ws="none",
                timeout_keep_alive=30,
            )
        )
        self._uvicorn = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="m2v-http")
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait({self._task, listening}, return_when=asyncio.FIRST_COMPLETED)
        if not listening.done():
            listening.cancel()
            sock.close()
            error = self._task.exception() if not self._task.cancelled() else None
            raise ServerStartError(f"the HTTP endpoint could not start: {error!r}")
        log_event(f"{self._server.scope}.http_listening", address=format_address(host, self.port))
        return self.port

    async def stop(self, grace: float | None) -> None:
        """Stop serving: at once (``grace`` None), or after the requests in progress have
        finished sending, at most ``grace`` seconds.  Idempotent."""
        server, task = self._uvicorn, self._task
        if server is None or task is None:
            return
        self._uvicorn = self._task = None
        if grace is None:
            server.force_exit = True
        else:
            server.config.timeout_graceful_shutdown = max(1, math.ceil(grace))
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task

    # -- shared steps ------------------------------------------------------------------

    def _authenticate(self, request: Request) -> None:
        if not self._tokens:
            return
        problem = bearer_problem(request.headers.get("authorization"), self._tokens, "header")
        if problem is not None:
            raise AuthenticationError(problem)

    def _probe_admission(self) -> None:
        """Refuse at once (503 / 429) when a slot could not be had, before the body is read."""
        admission = self._server.admission
        admission.acquire()
        admission.release()

    async def _read_body(self, request: Request) -> bytes:
        limit = self._server.config.limits.max_message_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise RequestFieldError("malformed Content-Length header", param=None)
            if int(declared) > limit:
                raise MessageTooLargeError(
                    f"request body of {int(declared)} bytes; the limit is {limit} bytes"
                )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise MessageTooLargeError(f"request body over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _finish(self, route: str, response: Response) -> Response:
        metrics = self._server.metrics
        metrics.http_requests.labels(route, str(response.status_code)).inc()
        metrics.worker_requests.inc()
        return response

    def _error(self, route: str, error: EmbedServiceError, span: Span | None = None) -> Response:
        reply = error_reply(error)
        self._server.metrics.item_errors.labels(error.code).inc()
        if span is not None:
            span.fail(error.code, server_fault=reply.status >= 500)
        return self._finish(route, self._reply(reply))

    @staticmethod
    def _reply(reply: ErrorReply, headers: dict[str, str] | None = None) -> Response:
        headers = dict(headers or {})
        if reply.status == 401:
            headers["www-authenticate"] = "Bearer"
        if reply.status == 413:
            headers["connection"] = "close"  # the rest of the body is never read
        return Response(reply.body(), reply.status, headers, media_type=JSON)

    # -- routes ------------------------------------------------------------------------

    async def embeddings(self, request: Request) -> Response:
        """``POST /v1/embeddings`` (a span ``m2v.http.embeddings`` when tracing is on)."""
        attributes = {"http.request.method": "POST", "http.route": EMBEDDINGS}
        with self._server.tracing.span(
            "m2v.http.embeddings", attributes, carrier=request.headers
        ) as span:
            response = await self._embeddings(request, span)
            span.set("http.response.status_code", response.status_code)
            return response

    async def _embeddings(self, request: Request, span: Span) -> Response:
        received = time.perf_counter()
        server = self._server
        try:
            self._authenticate(request)
            self._probe_admission()
            body = await self._read_body(request)
            server.admission.acquire()
        except EmbedServiceError as error:
            if isinstance(error, OverloadedError | UnavailableError):
                reason = "overloaded" if isinstance(error, OverloadedError) else "unavailable"
                server.metrics.rejections.labels(reason).inc()
            return self._error(EMBEDDINGS, error, span)
        except ClientDisconnect:
            return self._finish(EMBEDDINGS, Response(status_code=499))
        admitted = time.perf_counter()
        metrics = server.metrics
        in_flight = metrics.in_flight.labels(EMBEDDINGS)
        in_flight.inc()
        try:
            loop = asyncio.get_running_loop()
            done = await loop.run_in_executor(self._executor, self._embed, body, admitted)
        except EmbedServiceError as error:
            return self._error(EMBEDDINGS, error, span)
        except Exception as error:  # a bug or a model fault: keep serving, answer 500
            log_event("http.internal_error", logging.ERROR, route=EMBEDDINGS, error=repr(error))
            return self._error(EMBEDDINGS, InternalServerError("internal error"), span)
        finally:
            in_flight.dec()
            server.admission.release()
            metrics.latency.labels(EMBEDDINGS).observe(time.perf_counter() - received)
        metrics.items.labels(EMBEDDINGS, done.model).inc(done.texts)
        metrics.compute.labels(EMBEDDINGS).observe(done.compute_seconds)
        if span.recording:
            started = admitted + done.queue_seconds
            span.set_many({"m2v.model": done.model, "m2v.items": done.texts})
            span.phase("m2v.queue", admitted, started)
            span.phase("m2v.compute", started, started + done.compute_seconds)
        headers = {
            "x-queue-time": _ms(done.queue_seconds),
            "x-compute-time": _ms(done.compute_seconds),
            "x-total-time": _ms(time.perf_counter() - received),
            "x-compute-characters": str(done.characters),
            "x-compute-tokens": str(done.tokens),
        }
        return self._finish(EMBEDDINGS, Response(done.body, 200, headers, media_type=JSON))

    def _embed(self, body: bytes, admitted: float) -> _Embedded:
        """Worker thread: parse, check, encode and render one embeddings request."""
        started = time.perf_counter()
        server = self._server
        assert server.registry is not None  # admitted: the models are loaded
        request = parse_embeddings_request(body, server.registry, server.config.limits)
        served = request.model
        vectors, tokens = served.encode_counted(
            request.texts,
            max_length=served.max_tokens,
            normalize=served.normalize_default,
            dimensions=request.dimensions,
        )
        rendered = embeddings_body(
            vectors, base64_format=request.base64, model=served.name, tokens=tokens
        )
        return _Embedded(
            body=rendered,
            model=served.name,
            texts=len(request.texts),
            characters=sum(map(len, request.texts)),
            tokens=tokens,
            queue_seconds=started - admitted,
            compute_seconds=time.perf_counter() - started,
        )

    def _serving_registry(self) -> Any:
        """The models, once loaded; UnavailableError before."""
        registry = self._server.registry
        if registry is None or not self._server.admission.ready:
            raise UnavailableError("the server is still loading its models; retry shortly")
        return registry

    async def models(self, request: Request) -> Response:
        """``GET /v1/models``: every served model (the default first)."""
        route = "/v1/models"
        try:
            self._authenticate(request)
            body = models_body(self._serving_registry(), created=self._created)
        except EmbedServiceError as error:
            return self._error(route, error)
        return self._finish(route, Response(body, 200, media_type=JSON))

    async def model(self, request: Request) -> Response:
        """``GET /v1/models/{id}``: one served model, or 404 ``model_not_found``."""
        route = "/v1/models/{id}"
        try:
            self._authenticate(request)
            registry = self._serving_registry()
            name = request.path_params["model_id"]
            if not name:
                raise UnknownModelError("no model id given")
            served = registry.get(name)
        except EmbedServiceError as error:
            return self._error(route, error)
        body = model_object(served, created=self._created, default=served is registry.default)
        return self._finish(route, Response(json_bytes(body), 200, media_type=JSON))

    async def health(self, request: Request) -> Response:
        """``GET /health``: 200 while serving, 503 while loading or draining (no token)."""
        admission = self._server.admission
        if admission.ready and not admission.draining:
            response = Response(json_bytes({"status": "serving"}), 200, media_type=JSON)
        else:
            state = "draining" if admission.draining else "loading"
            reply = error_reply(UnavailableError(f"the server is {state}"))
            body = json_bytes({"status": state, "error": reply.fields()})
            response = Response(body, 503, media_type=JSON)
        return self._finish("/health", response)

    async def metrics(self, request: Request) -> Response:
        """``GET /metrics``: Prometheus text of this server (no token, as ``--metrics-port``);
        in a worker of ``--workers N``, summed over every worker."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        registry: Any = self._server.metrics.registry
        folder = os.environ.get(_MULTIPROC_ENV)
        if self._server.worker is not None and folder:
            from m2v_grpc._metrics import aggregated_registry

            registry = aggregated_registry(folder)
        body = await asyncio.to_thread(generate_latest, registry)
        return self._finish("/metrics", Response(body, 200, media_type=CONTENT_TYPE_LATEST))

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            reply = ErrorReply(404, "invalid_request_error", None, f"no route {request.url.path}")
        elif exc.status_code == 405:
            reply = ErrorReply(
                405, "invalid_request_error", None, f"{request.method} is not allowed here"
            )
        else:
            reply = ErrorReply(exc.status_code, "invalid_request_error", None, str(exc.detail))
        return self._finish("unmatched", self._reply(reply, dict(exc.headers or {})))

    async def _crash(self, request: Request, exc: Exception) -> Response:
        log_event("http.internal_error", logging.ERROR, route=request.url.path, error=repr(exc))
        reply = ErrorReply(500, "server_error", "internal", "internal error")
        return self._finish("unmatched", self._reply(reply))
