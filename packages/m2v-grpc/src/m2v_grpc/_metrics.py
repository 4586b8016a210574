"""Prometheus metrics of one server, in a registry of its own (several servers per process
in tests must not collide), exported over HTTP only when ``--metrics-port`` is given.

A multi-process server (``--workers N``) runs prometheus_client in multiprocess mode: the
supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` for its workers, each worker writes its values
to files there, and the supervisor alone serves ``/metrics``, summed over the workers
(:func:`aggregated_registry`).  Counters and histograms add up over every worker that ever
ran; the gauges count live workers only (mode ``livesum``).

Names (all prefixed ``m2v_grpc_``):

- ``requests_total{method, code}``: finished calls by gRPC status name.
- ``items_total{method, model}``: texts embedded or tokenized.
- ``item_errors_total{code}``: items (stream) or calls rejected, by stable error code.
- ``request_duration_seconds{method}``: call latency (stream: per message).
- ``compute_duration_seconds{method}``: time on a worker thread per message.
- ``in_flight{method}``: calls (or stream messages) being processed now.
- ``open_streams``: EmbedStream calls open now.
- ``admission_rejections_total{reason}``: calls refused at once (overloaded, unavailable).
- ``http_requests_total{route, status}``: finished requests of the OpenAI-compatible HTTP
  endpoint (``--http-port``) by route template and HTTP status.
- ``worker_requests_total{worker}``: finished calls per server process (the worker index
  of ``--workers N``; ``0`` in a single-process server): how evenly SO_REUSEPORT spread
  the connections.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

_LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)


class MetricsHTTP:
    """A ``/metrics`` HTTP exporter of one registry, on a thread of its own."""

    def __init__(self) -> None:
        self._http: Any = None

    def serve(self, registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> int:
        """Export ``registry`` on ``host:port`` (0 picks a free port); returns the port."""
        server, _thread = start_http_server(port, addr=host, registry=registry)
        self._http = server
        return int(server.server_port)

    def close(self) -> None:
        """Stop the HTTP exporter, if running (blocks until its thread is done)."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


def aggregated_registry(path: str) -> CollectorRegistry:
    """A registry holding the metrics every worker wrote under ``path``, summed."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def forget_process(pid: int, path: str) -> None:
    """Drop an exited worker's live gauges (its counters keep counting in the sums)."""
    mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class Metrics:
    """The server's metric families; ``worker`` labels ``worker_requests_total``."""

    def __init__(self, worker: int = 0) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        prefix = "m2v_grpc_"
        self.requests = Counter(
            prefix + "requests",
            "Finished calls by method and gRPC status.",
            ("method", "code"),
            registry=self.registry,
        )
        self.items = Counter(
            prefix + "items",
            "Texts embedded or tokenized.",
            ("method", "model"),
            registry=self.registry,
        )
        self.item_errors = Counter(
            prefix + "item_errors",
            "Rejected items or calls by stable error code.",
            ("code",),
            registry=self.registry,
        )
        self.latency = Histogram(
            prefix + "request_duration_seconds",
            "Call latency (EmbedStream: per message).",
            ("method",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.compute = Histogram(
            prefix + "compute_duration_seconds",
            "Worker-thread time per message.",
            ("method",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            prefix + "in_flight",
            "Calls or stream messages being processed.",
            ("method",),
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.open_streams = Gauge(
            prefix + "open_streams",
            "EmbedStream calls open.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.rejections = Counter(
            prefix + "admission_rejections",
            "Calls refused at once.",
            ("reason",),
            registry=self.registry,
        )
        self.http_requests = Counter(
            prefix + "http_requests",
            "Finished HTTP requests by route and HTTP status.",
            ("route", "status"),
            registry=self.registry,
        )
        self.worker_requests = Counter(
            prefix + "worker_requests",
            "Finished calls per server process (worker index; 0 in a single process).",
            ("worker",),
            registry=self.registry,
        ).labels(str(worker))
        self._http = MetricsHTTP()

    def finished(self, method: str, code: str) -> None:
        """Count one finished call of ``method`` with gRPC status name ``code``."""
        self.requests.labels(method, code).inc()
        self.worker_requests.inc()

    def serve_http(self, port: int, host: str = "0.0.0.0") -> int:
        """Export ``/metrics`` on ``host:port`` (0 picks a free port); returns the port."""
        return self._http.serve(self.registry, port, host)

    def close(self) -> None:
        """Stop the HTTP exporter, if running."""
        self._http.close()
