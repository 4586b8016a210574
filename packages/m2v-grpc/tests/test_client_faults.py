"""Client faults are not server faults (issue 11, finding 3): a client that cancels while
the server writes, or that sends bytes which do not parse as the request message, is
logged at INFO / WARNING under its own event and counted with the status the client
really gets, never ``rpc.internal_error`` / ``code="INTERNAL"``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from m2v_grpc import EmbedServer
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._logging import JSONFormatter, logger
from m2v_grpc._models import ModelRegistry

pytestmark = pytest.mark.asyncio

SERVICE = "/m2v.embed.v1.EmbedService/"
GARBAGE = b"\xff\xff\xff\xff\x0f"  # field 31 with a wire type 7: no message parses it
# EmbedOptions.model (a proto3 string) holding invalid UTF-8: protobuf refuses to parse it.
BAD_STRING = (
    embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"x")]).SerializeToString()
    + b"\x0a\x03\x0a\x01\xff"
)


class _Capture(logging.Handler):
    """Keeps each record of the ``m2v_grpc`` logger as its JSON line, parsed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JSONFormatter())
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        import json

        self.records.append(json.loads(self.format(record)))

    def events(self, *names: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] in names]


@contextlib.contextmanager
def captured_logs() -> Iterator[_Capture]:
    handler = _Capture()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def requests_total(server: EmbedServer, method: str, code: str) -> float:
    value = server.metrics.registry.get_sample_value(
        "m2v_grpc_requests_total", {"method": method, "code": code}
    )
    return value or 0.0


def item_errors(server: EmbedServer, code: str) -> float:
    value = server.metrics.registry.get_sample_value("m2v_grpc_item_errors_total", {"code": code})
    return value or 0.0


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def raw_stream(chan: aio.Channel) -> Any:
    return chan.stream_stream(
        SERVICE + "EmbedStream",
        request_serializer=None,
        response_deserializer=embed_pb2.EmbedStreamResponse.FromString,
    )


def no_internal(server: EmbedServer, logs: _Capture) -> None:
    assert logs.events("rpc.internal_error") == []
    for method in ("Embed", "EmbedStream", "Tokenize"):
        assert requests_total(server, method, "INTERNAL") == 0
        assert requests_total(server, method, "UNKNOWN") == 0


def big_message(sequence: int) -> embed_pb2.EmbedStreamRequest:
    """2,000 texts: a ~2 MB float32 response from potion (256 dims)."""
    texts = [f"text {sequence} number {i}".encode() for i in range(2000)]
    return embed_pb2.EmbedStreamRequest(
        items=[embed_pb2.EmbedItem(id=i, text=t) for i, t in enumerate(texts)]
    )


async def test_cancel_while_the_server_writes_is_info_and_cancelled(
    registry: ModelRegistry, running_server: Any, channel: Any
) -> None:
    with captured_logs() as logs:
        async with running_server(registry) as server, channel(server) as chan:
            call = raw_stream(chan)()
            for sequence in range(8):  # responses pile up: the client never reads
                await call.write(big_message(sequence).SerializeToString())
            servicer = server.servicer
            assert servicer is not None
            (session,) = servicer.sessions
            await until(lambda: session.answered >= 1)
            answered = -1
            while session.answered != answered:  # stalled: blocked writing (flow control)
                answered = session.answered
                await asyncio.sleep(0.3)
            assert session.held > 0  # computed responses wait to be written
            call.cancel()
            await until(lambda: not servicer.sessions)
            await until(lambda: requests_total(server, "EmbedStream", "CANCELLED") == 1)
            (cancelled,) = logs.events("rpc.client_cancelled")
            assert cancelled["level"] == "info"
            assert cancelled["method"] == "EmbedStream"
            # grpc reports a cancel that comes during a blocked write either as a failed
            # write (logged with the error) or by cancelling the handler task at once
            # (seen under load); both are a client fault, INFO and CANCELLED.
            if "error" in cancelled:
                assert "writing a response failed" in cancelled["error"]
            assert cancelled["answered"] == answered
            no_internal(server, logs)


def in_flight(server: EmbedServer, method: str) -> float:
    value = server.metrics.registry.get_sample_value("m2v_grpc_in_flight", {"method": method})
    return value or 0.0


@pytest.mark.parametrize("method", ["Embed", "Tokenize"])
async def test_cancel_of_a_unary_call_in_progress_is_info_and_cancelled(
    tiny_path: Path, running_server: Any, channel: Any, gated: Any, registry_for: Any, method: str
) -> None:
    model = gated(tiny_path)
    with captured_logs() as logs:
        async with running_server(registry_for({"g": model})) as server, channel(server) as chan:
            stub = embed_pb2_grpc.EmbedServiceStub(chan)
            # Both encoding threads wait in the gated model; the call under test waits its turn.
            blockers = [
                stub.Embed(embed_pb2.EmbedRequest(texts=[b"cat"]), timeout=15) for _ in range(2)
            ]
            await until(lambda: model.calls == 2)
            if method == "Embed":
                call = stub.Embed(embed_pb2.EmbedRequest(texts=[b"dog"]), timeout=15)
                await until(lambda: in_flight(server, "Embed") == 3)
            else:
                call = stub.Tokenize(embed_pb2.TokenizeRequest(texts=[b"dog"]), timeout=15)
                await until(lambda: in_flight(server, "Tokenize") == 1)
            call.cancel()
            await until(lambda: requests_total(server, method, "CANCELLED") == 1)
            model.gate.set()
            for blocker in blockers:
                assert (await blocker).embeddings.rows == 1
            (cancelled,) = logs.events("rpc.client_cancelled")
            assert cancelled["level"] == "info"
            assert cancelled["method"] == method
            assert requests_total(server, "Embed", "OK") == 2
            no_internal(server, logs)


@pytest.mark.parametrize("payload", [GARBAGE, BAD_STRING], ids=["garbage", "invalid-utf8-string"])
async def test_malformed_stream_message_is_answered_in_stream(
    registry: ModelRegistry, running_server: Any, channel: Any, payload: bytes
) -> None:
    good = embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=7, text=b"hello world")])
    with captured_logs() as logs:
        async with running_server(registry) as server, channel(server) as chan:
            call = raw_stream(chan)()
            await call.write(good.SerializeToString())
            await call.write(payload)
            await call.write(good.SerializeToString())
            await call.done_writing()
            responses = [r async for r in call]
            assert await call.code() == grpc.StatusCode.OK
            assert [r.sequence for r in responses] == [0, 1, 2]
            assert list(responses[0].ids) == [7]
            assert list(responses[2].ids) == [7]
            bad = responses[1]
            assert bad.error.code == embed_pb2.ErrorCode.ERROR_CODE_MALFORMED_REQUEST
            assert bad.error.status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            (warning,) = logs.events("rpc.malformed_request")
            assert warning["level"] == "warning"
            assert warning["method"] == "EmbedStream"
            assert requests_total(server, "EmbedStream", "OK") == 1
            assert item_errors(server, "malformed-request") == 1
            no_internal(server, logs)


@pytest.mark.parametrize("method", ["Embed", "Tokenize"])
@pytest.mark.parametrize("payload", [GARBAGE, b"\x0a\x02\xc3"], ids=["garbage", "truncated"])
async def test_malformed_unary_request_is_invalid_argument_with_code(
    registry: ModelRegistry,
    running_server: Any,
    channel: Any,
    trailing: Any,
    method: str,
    payload: bytes,
) -> None:
    with captured_logs() as logs:
        async with running_server(registry) as server, channel(server) as chan:
            call = chan.unary_unary(SERVICE + method, request_serializer=None)
            with pytest.raises(grpc.RpcError) as caught:
                await call(payload, timeout=10)
            error: Any = caught.value
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert trailing(error, "m2v-error-code") == "malformed-request"
            (warning,) = logs.events("rpc.malformed_request")
            assert warning["level"] == "warning"
            assert warning["method"] == method
            assert requests_total(server, method, "INVALID_ARGUMENT") == 1
            no_internal(server, logs)
