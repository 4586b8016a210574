"""OpenTelemetry spans (``ServerConfig.otel`` / ``m2v serve --otel``) and the timing the
server reports (unary trailers, ``EmbedStreamResponse.timing``), on a real in-process
server with real gRPC and HTTP clients; spans caught by the SDK's in-memory exporter
installed as the global tracer provider."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from m2v_format import MissingDependencyError
from m2v_grpc import EmbedServer
from m2v_grpc._cli import add_arguments, build_config
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._models import ModelRegistry
from m2v_grpc._tracing import Tracing
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

_EXPORTER = InMemorySpanExporter()
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter behind the global tracer provider (installed once)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> dict[str, ReadableSpan]:
    assert parent.context is not None
    return {
        span.name: span
        for span in exporter.get_finished_spans()
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    }


def assert_phases(exporter: InMemorySpanExporter, parent: ReadableSpan) -> None:
    """``parent`` has a queue then a compute child inside its own time range."""
    phases = children(exporter, parent)
    queue, compute = phases["m2v.queue"], phases["m2v.compute"]
    assert parent.start_time is not None
    assert parent.end_time is not None
    assert queue.start_time is not None
    assert queue.end_time is not None
    assert compute.start_time is not None
    assert compute.end_time is not None
    assert queue.end_time <= compute.start_time + 1_000  # ns: queue ends when compute starts
    assert compute.end_time > compute.start_time
    assert parent.start_time <= queue.start_time + 1_000_000  # within a millisecond
    assert compute.end_time <= parent.end_time + 1_000_000


def timing_trailers(call_trailers: Any) -> dict[str, float]:
    return {
        key: float(value) for key, value in call_trailers if key.startswith("m2v-") and "ms" in key
    }


@pytest.mark.asyncio
async def test_unary_spans_with_attributes_phases_and_the_callers_trace(
    registry: ModelRegistry, running_server: Any, channel: Any, spans: InMemorySpanExporter
) -> None:
    async with running_server(registry, otel=True) as server, channel(server) as chan:
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        metadata = (("traceparent", TRACEPARENT),)
        await stub.Embed(
            embed_pb2.EmbedRequest(texts=[b"hello", b"world"]), metadata=metadata, timeout=10
        )
        await stub.Tokenize(embed_pb2.TokenizeRequest(texts=[b"cat"], model="tiny"), timeout=10)
        with pytest.raises(grpc.RpcError):
            await stub.Embed(embed_pb2.EmbedRequest(texts=[b"ok", b"\xff"]), timeout=10)
    ok, bad = sorted(named(spans, "m2v.embed"), key=lambda s: len(s.attributes or {}))[::-1]
    assert ok.kind == SpanKind.SERVER
    assert ok.context is not None
    assert f"{ok.context.trace_id:032x}" == TRACE_ID
    assert dict(ok.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": "m2v.embed.v1.EmbedService",
        "rpc.method": "Embed",
        "rpc.grpc.status_code": 0,
        "m2v.model": "potion",
        "m2v.items": 2,
    }
    assert_phases(spans, ok)
    (tokenize,) = named(spans, "m2v.tokenize")
    assert tokenize.attributes is not None
    assert tokenize.attributes["m2v.model"] == "tiny"
    assert tokenize.attributes["m2v.items"] == 1
    assert_phases(spans, tokenize)
    assert bad.attributes is not None
    assert bad.attributes["m2v.error_code"] == "invalid-utf8"
    assert bad.attributes["rpc.grpc.status_code"] == 3
    assert bad.status.status_code == StatusCode.UNSET  # a client fault is not a span error


@pytest.mark.asyncio
async def test_stream_spans_one_per_message_under_the_call(
    registry: ModelRegistry, running_server: Any, channel: Any, spans: InMemorySpanExporter
) -> None:
    messages = [
        embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"a cat")]),
        embed_pb2.EmbedStreamRequest(
            items=[embed_pb2.EmbedItem(id=2, text=b"x")],
            options=embed_pb2.EmbedOptions(model="nope"),
        ),
    ]
    async with running_server(registry, otel=True) as server, channel(server) as chan:
        call = embed_pb2_grpc.EmbedServiceStub(chan).EmbedStream(iter(messages), timeout=10)
        responses = [response async for response in call]
    assert [r.sequence for r in responses] == [0, 1]
    (stream,) = named(spans, "m2v.embed_stream")
    assert stream.attributes is not None
    assert stream.attributes["rpc.method"] == "EmbedStream"
    assert stream.attributes["m2v.messages"] == 2
    assert stream.attributes["rpc.grpc.status_code"] == 0
    per_message = sorted(
        named(spans, "m2v.embed_stream.message"), key=lambda s: (s.attributes or {})["m2v.sequence"]
    )
    assert len(per_message) == 2
    for span in per_message:
        assert span.parent is not None
        assert stream.context is not None
        assert span.parent.span_id == stream.context.span_id
        assert_phases(spans, span)
    first, second = (dict(span.attributes or {}) for span in per_message)
    assert first == {
        "m2v.sequence": 0,
        "m2v.items": 1,
        "m2v.item_errors": 0,
        "m2v.model": "potion",
    }
    assert second["m2v.error_code"] == "unknown-model"
    assert second["rpc.grpc.status_code"] == 5
    assert second["m2v.items"] == 0


@pytest.mark.asyncio
async def test_http_embeddings_span(
    registry: ModelRegistry, running_server: Any, spans: InMemorySpanExporter
) -> None:
    async with running_server(registry, otel=True, http_port=0) as server:
        url = f"http://127.0.0.1:{server.http_port}/v1/embeddings"
        async with httpx.AsyncClient(timeout=10) as http:
            ok = await http.post(
                url,
                json={"input": ["one", "two", "three"], "model": "potion"},
                headers={"traceparent": TRACEPARENT},
            )
            bad = await http.post(url, json={"input": "x", "model": "nope"})
    assert ok.status_code == 200
    assert bad.status_code == 404
    good_span, bad_span = sorted(
        named(spans, "m2v.http.embeddings"),
        key=lambda s: (s.attributes or {})["http.response.status_code"],
    )
    assert good_span.context is not None
    assert f"{good_span.context.trace_id:032x}" == TRACE_ID
    assert dict(good_span.attributes or {}) == {
        "http.request.method": "POST",
        "http.route": "/v1/embeddings",
        "http.response.status_code": 200,
        "m2v.model": "potion",
        "m2v.items": 3,
    }
    assert_phases(spans, good_span)
    assert bad_span.attributes is not None
    assert bad_span.attributes["m2v.error_code"] == "unknown-model"
    assert bad_span.status.status_code == StatusCode.UNSET  # 404: the client's fault


@pytest.mark.asyncio
async def test_no_spans_when_disabled(
    registry: ModelRegistry, running_server: Any, channel: Any, spans: InMemorySpanExporter
) -> None:
    async with running_server(registry) as server, channel(server) as chan:
        assert not server.tracing.enabled
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        await stub.Embed(embed_pb2.EmbedRequest(texts=[b"hello"]), timeout=10)
        call = stub.EmbedStream(
            iter([embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"a")])])
        )
        assert len([r async for r in call]) == 1
    assert spans.get_finished_spans() == ()


def test_enabled_without_the_extra_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, make_config: Any
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import opentelemetry fails
    assert not Tracing(enabled=False).enabled  # disabled never imports it
    with pytest.raises(MissingDependencyError, match=r"m2v-grpc\[otel\]"):
        Tracing(enabled=True)
    with pytest.raises(MissingDependencyError, match=r"m2v-grpc\[otel\]"):
        EmbedServer(make_config(otel=True))


def test_cli_otel_flag() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert "OpenTelemetry" in parser.format_help()
    on = build_config(parser.parse_args(["--model", "p=./p", "--otel"]))
    off = build_config(parser.parse_args(["--model", "p=./p"]))
    assert on.otel is True
    assert off.otel is False


@pytest.mark.asyncio
async def test_unary_timing_trailers(
    registry: ModelRegistry, running_server: Any, channel: Any
) -> None:
    async with running_server(registry) as server, channel(server) as chan:
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        for call in (
            stub.Embed(embed_pb2.EmbedRequest(texts=[b"hello world"] * 500), timeout=10),
            stub.Tokenize(embed_pb2.TokenizeRequest(texts=[b"hello world"]), timeout=10),
        ):
            await call
            timing = timing_trailers(await call.trailing_metadata())
            assert set(timing) == {"m2v-queue-ms", "m2v-compute-ms", "m2v-total-ms"}
            assert timing["m2v-queue-ms"] >= 0
            assert timing["m2v-compute-ms"] > 0
            assert timing["m2v-total-ms"] >= timing["m2v-queue-ms"] + timing["m2v-compute-ms"]
            assert timing["m2v-total-ms"] < 10_000


@pytest.mark.asyncio
async def test_stream_responses_carry_timing(
    registry: ModelRegistry, running_server: Any, channel: Any
) -> None:
    texts = [embed_pb2.EmbedItem(id=i, text=b"hello world %d" % i) for i in range(500)]
    async with running_server(registry) as server, channel(server) as chan:
        call = embed_pb2_grpc.EmbedServiceStub(chan).EmbedStream(
            iter([embed_pb2.EmbedStreamRequest(items=texts)] * 3), timeout=10
        )
        responses = [response async for response in call]
    assert len(responses) == 3
    for response in responses:
        assert response.HasField("timing")
        assert response.timing.queue_ms >= 0
        assert 0 < response.timing.compute_ms < 10_000
