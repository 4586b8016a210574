"""Prometheus metrics of one server, in a registry of its own (several servers per process
in tests must not collide), exported over HTTP only when ``--metrics-port`` is given.

Names (all prefixed ``m2v_grpc_``):

- ``requests_total{method, code}``: finished calls by gRPC status name.
- ``items_total{method, model}``: texts embedded or tokenized.
- ``item_errors_total{code}``: items (stream) or calls rejected, by stable error code.
- ``request_duration_seconds{method}``: call latency (stream: per message).
- ``compute_duration_seconds{method}``: time on a worker thread per message.
- ``in_flight{method}``: calls (or stream messages) being processed now.
- ``open_streams``: EmbedStream calls open now.
- ``admission_rejections_total{reason}``: calls refused at once (overloaded, unavailable).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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


class Metrics:
    """The server's metric families."""

    def __init__(self) -> None:
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
        )
        self.open_streams = Gauge(
            prefix + "open_streams", "EmbedStream calls open.", registry=self.registry
        )
        self.rejections = Counter(
            prefix + "admission_rejections",
            "Calls refused at once.",
            ("reason",),
            registry=self.registry,
        )
        self._http: Any = None

    def serve_http(self, port: int, host: str = "0.0.0.0") -> int:
        """Export ``/metrics`` on ``host:port`` (0 picks a free port); returns the port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._http = server
        return int(server.server_port)

    def close(self) -> None:
        """Stop the HTTP exporter, if running."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
