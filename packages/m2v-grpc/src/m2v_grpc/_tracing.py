"""Optional OpenTelemetry tracing spans (``m2v serve --otel``; the extra ``m2v-grpc[otel]``).

The only module that imports ``opentelemetry``.  A :class:`Tracing` made with
``enabled=False`` (the default) hands out one shared no-op span, so the serving code calls
it unconditionally at no measurable cost.  Enabled, spans go to the *global* tracer
provider: whatever set it up (``opentelemetry-instrument m2v serve ...``, or the SDK setup
of an application embedding :class:`~m2v_grpc.EmbedServer`) exports them; with no provider
configured the API's own no-op provider swallows them.

Usage (server side)::

    tracing = Tracing(config.otel)          # MissingDependencyError without the extra
    with tracing.span("m2v.embed", {"rpc.method": "Embed"}, carrier=metadata) as span:
        ...
        span.phase("m2v.queue", admitted, started)    # child spans from perf_counter times
        span.phase("m2v.compute", started, finished)
        span.set("m2v.items", 32)
        span.fail("invalid-utf8", server_fault=False)  # attribute; ERROR status if server's

A span's parent is the current span when there is one (an instrumentation library's
server span), otherwise the W3C ``traceparent`` found in ``carrier`` (request metadata or
headers), otherwise none.  Times given to :meth:`Span.phase` and ``start`` are
``time.perf_counter()`` readings; they are converted to wall-clock nanoseconds here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeAlias

from m2v_format import MissingDependencyError

AttributeValue: TypeAlias = str | bool | int | float | Sequence[str]
Attributes: TypeAlias = Mapping[str, AttributeValue]

TRACER_NAME = "m2v_grpc"
ERROR_CODE_ATTRIBUTE = "m2v.error_code"
"""Span attribute holding the stable error code (``m2v_grpc`` errors) of a failed call."""

_EXTRA_HINT = "pip install 'm2v-grpc[otel]'"


def _clock_offset_ns() -> int:
    """Wall clock minus ``time.perf_counter()`` now, in nanoseconds.

    A span takes it once, when it starts, and converts all its phases with it: phases that
    share an instant (queue end, compute start) then share a timestamp (an offset taken per
    conversion straddles a preemption now and then), and the two clocks cannot drift apart
    over the life of the process (an offset taken once at import could).
    """
    return time.time_ns() - int(time.perf_counter() * 1e9)


def _wall_ns(perf_seconds: float, offset_ns: int) -> int:
    """Wall-clock nanoseconds of a ``time.perf_counter()`` reading."""
    return offset_ns + int(perf_seconds * 1e9)


class Span:
    """A span in progress, used as a context manager; this base class does nothing.

    ``with`` ends the span (an exception escaping the block marks it failed).  Every method
    is safe to call from any thread.
    """

    __slots__ = ()

    def __enter__(self) -> Span:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    @property
    def recording(self) -> bool:
        """Whether this span records anything (False for the no-op span)."""
        return False

    def set(self, key: str, value: AttributeValue) -> None:
        """Set one attribute."""

    def set_many(self, attributes: Attributes) -> None:
        """Set several attributes."""

    def phase(
        self, name: str, start: float, end: float, attributes: Attributes | None = None
    ) -> None:
        """Record a finished child span ``name`` from ``start`` to ``end`` (perf_counter)."""

    def event(self, name: str, attributes: Attributes | None = None) -> None:
        """Add a timestamped event."""

    def fail(self, code: str, *, server_fault: bool, message: str = "") -> None:
        """Mark the call failed with stable error ``code``.

        Only a server fault (INTERNAL, UNAVAILABLE, ...) sets the span status to ERROR;
        a client fault (bad input, cancellation) is recorded as the attribute only, as the
        OpenTelemetry conventions for RPC and HTTP servers ask.
        """


_NOOP = Span()


class _OtelSpan(Span):
    """A live OpenTelemetry span (made by :meth:`Tracing.span` when enabled)."""

    __slots__ = ("_offset_ns", "_otel", "_span", "_tracer")

    def __init__(self, otel: Any, tracer: Any, span: Any, offset_ns: int) -> None:
        self._otel = otel
        self._tracer = tracer
        self._span = span
        self._offset_ns = offset_ns

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None and not self._span_has_error_code():
            cancelled = isinstance(error, BaseException) and not isinstance(error, Exception)
            self.fail(
                "cancelled" if cancelled else "internal",
                server_fault=not cancelled,
                message=repr(error),
            )
        self._span.end()

    def _span_has_error_code(self) -> bool:
        attributes: Mapping[str, Any] = getattr(self._span, "attributes", None) or {}
        return ERROR_CODE_ATTRIBUTE in attributes

    @property
    def recording(self) -> bool:
        return bool(self._span.is_recording())

    def set(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def set_many(self, attributes: Attributes) -> None:
        self._span.set_attributes(dict(attributes))

    def phase(
        self, name: str, start: float, end: float, attributes: Attributes | None = None
    ) -> None:
        trace = self._otel
        child = self._tracer.start_span(
            name,
            context=trace.set_span_in_context(self._span),
            kind=trace.SpanKind.INTERNAL,
            attributes=dict(attributes or {}),
            start_time=_wall_ns(start, self._offset_ns),
        )
        child.end(end_time=_wall_ns(end, self._offset_ns))

    def event(self, name: str, attributes: Attributes | None = None) -> None:
        self._span.add_event(name, dict(attributes or {}))

    def fail(self, code: str, *, server_fault: bool, message: str = "") -> None:
        self._span.set_attribute(ERROR_CODE_ATTRIBUTE, code)
        if server_fault:
            trace = self._otel
            self._span.set_status(trace.Status(trace.StatusCode.ERROR, message or code))


class Tracing:
    """Make spans through the global tracer provider, or nothing when disabled.

    Raises:
        MissingDependencyError: ``enabled`` but ``opentelemetry-api`` (the extra
            ``m2v-grpc[otel]``) is not installed.
    """

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = bool(enabled)
        self._trace: Any = None
        self._propagate: Any = None
        self._tracer: Any = None
        if not self.enabled:
            return
        try:
            from opentelemetry import propagate, trace
        except ImportError as missing:
            raise MissingDependencyError(
                "tracing (--otel) needs the extra m2v-grpc[otel] "
                f"({missing.name or missing} is missing): {_EXTRA_HINT}"
            ) from missing
        self._trace = trace
        self._propagate = propagate

    def _get_tracer(self) -> Any:
        # Looked up on first use, not at construction: an application may install its SDK
        # provider after building the server (the API's proxy would follow it anyway).
        if self._tracer is None:
            from m2v_grpc import __version__

            self._tracer = self._trace.get_tracer(TRACER_NAME, __version__)
        return self._tracer

    def span(
        self,
        name: str,
        attributes: Attributes | None = None,
        *,
        carrier: Mapping[str, str] | Iterable[tuple[str, Any]] | None = None,
        parent: Span | None = None,
        start: float | None = None,
    ) -> Span:
        """A span ``name`` (a context manager ending it); the no-op span when disabled.

        Args:
            name: span name, e.g. ``"m2v.embed"``.
            attributes: initial attributes.
            carrier: incoming request metadata or headers, for a W3C ``traceparent``
                parent when no span is current.
            parent: an explicit parent span (e.g. the stream's span, on a worker thread
                where the event loop's context is not current).
            start: the span's start as a ``time.perf_counter()`` reading (default: now).
        """
        if not self.enabled:
            return _NOOP
        trace = self._trace
        kind = trace.SpanKind.SERVER
        context = None
        if isinstance(parent, _OtelSpan):
            context = trace.set_span_in_context(parent._span)
            kind = trace.SpanKind.INTERNAL
        elif trace.get_current_span().get_span_context().is_valid:
            kind = trace.SpanKind.INTERNAL  # an instrumentation's server span is current
        elif carrier is not None:
            pairs = carrier.items() if isinstance(carrier, Mapping) else carrier
            headers = {str(k).lower(): str(v) for k, v in pairs if isinstance(v, str)}
            context = self._propagate.extract(headers)
        offset = _clock_offset_ns()
        span = self._get_tracer().start_span(
            name,
            context=context,
            kind=kind,
            attributes=dict(attributes or {}),
            start_time=None if start is None else _wall_ns(start, offset),
        )
        return _OtelSpan(trace, self._get_tracer(), span, offset)
