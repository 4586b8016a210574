"""Admission control, bounded stream buffering, cancellation and deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from m2v_grpc import EmbedServer, Limits
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc

pytestmark = pytest.mark.asyncio


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def idle(server: EmbedServer) -> bool:
    assert server.servicer is not None
    return (
        server.admission.in_flight == 0
        and not server.servicer.sessions
        and server.admission.open_streams == 0
    )


def item(i: int, text: bytes = b"hello world") -> embed_pb2.EmbedItem:
    return embed_pb2.EmbedItem(id=i, text=text)


async def test_admission_refuses_at_once_when_full(
    registry, assert_serving, channel, running_server, trailing, write_then_read
) -> None:
    async with (
        running_server(registry, limits=Limits(max_concurrent_requests=2)) as server,
        channel(server) as chan,
    ):
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        held = [stub.EmbedStream(), stub.EmbedStream()]
        for n, call in enumerate(held):  # make sure both are admitted
            await call.write(embed_pb2.EmbedStreamRequest(items=[item(n)]))
            assert list((await call.read()).ids) == [n]
        started = time.perf_counter()
        with pytest.raises(grpc.RpcError) as caught:
            await stub.Embed(embed_pb2.EmbedRequest(texts=[b"x"]), timeout=10)
        assert time.perf_counter() - started < 1.0
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert trailing(caught.value, "m2v-error-code") == "overloaded"
        third = stub.EmbedStream()
        with pytest.raises(grpc.RpcError):  # refused before or after the write lands
            await write_then_read(third, embed_pb2.EmbedStreamRequest(items=[item(9)]))
        assert await third.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Info and health need no slot.
        assert (await stub.GetInfo(embed_pb2.GetInfoRequest())).limits.max_concurrent_requests == 2
        for call in held:
            await call.done_writing()
            assert await call.read() is grpc.aio.EOF
            assert await call.code() == grpc.StatusCode.OK
        await eventually(lambda: idle(server))
        await assert_serving(server)


async def test_unread_stream_cannot_grow_server_memory(
    registry, assert_serving, channel, running_server
) -> None:
    window = 2
    async with (
        running_server(registry, limits=Limits(max_in_flight_per_stream=window)) as server,
        channel(server) as chan,
    ):
        assert server.servicer is not None
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        call = stub.EmbedStream()
        text = b"a moderately long sentence that becomes one 256-dim float32 row " * 2
        message = embed_pb2.EmbedStreamRequest(
            items=[item(i, text) for i in range(1000)]
        )  # ~1 MB out
        written, blocked = 0, False
        for _ in range(200):  # never read; write until the transport pushes back
            try:
                await asyncio.wait_for(call.write(message), timeout=1.0)
            except TimeoutError:
                blocked = True
                break
            written += 1
        assert blocked, "writes never blocked: the server kept reading an unread stream"
        (session,) = server.servicer.sessions
        accepted = session.accepted
        assert session.held <= window
        await asyncio.sleep(0.5)
        assert session.accepted == accepted, "the server kept accepting while nobody read"
        assert session.held <= window
        assert accepted < written + 1
        assert accepted < 40
        call.cancel()  # cancel while the server is blocked writing
        await eventually(lambda: idle(server))
        await assert_serving(server)


async def test_cancel_while_server_reads(server, stub, assert_serving) -> None:
    call = stub.EmbedStream()
    await call.write(embed_pb2.EmbedStreamRequest(items=[item(1)]))
    assert list((await call.read()).ids) == [1]
    assert server.admission.open_streams == 1
    call.cancel()  # the server is waiting for the next message
    await eventually(lambda: idle(server))
    await assert_serving(server)


async def test_cancel_while_server_computes(
    tiny_path: Path, assert_serving, channel, gated, registry_for, running_server
) -> None:
    model = gated(tiny_path)
    async with (
        running_server(registry_for({"g": model}), workers=2) as server,
        channel(server) as chan,
    ):
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        # Stream: cancel while the worker is inside encode.
        call = stub.EmbedStream()
        await call.write(embed_pb2.EmbedStreamRequest(items=[item(1, b"cat")]))
        assert await asyncio.to_thread(model.entered.wait, 10)
        call.cancel()
        await eventually(lambda: idle(server))
        # Unary: same.
        model.entered.clear()
        unary = stub.Embed(embed_pb2.EmbedRequest(texts=[b"dog"]))
        assert await asyncio.to_thread(model.entered.wait, 10)  # the second worker computes
        unary.cancel()
        await eventually(lambda: idle(server))
        model.gate.set()
        await assert_serving(server)


async def test_deadlines_are_honoured_and_queued_work_dropped(
    tiny_path: Path, assert_serving, channel, gated, registry_for, running_server
) -> None:
    model = gated(tiny_path)
    async with (
        running_server(registry_for({"g": model}), workers=1) as server,
        channel(server) as chan,
    ):
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        first = stub.Embed(embed_pb2.EmbedRequest(texts=[b"cat"]), timeout=0.3)
        assert await asyncio.to_thread(model.entered.wait, 10)
        # The only worker is busy: this one waits in the executor queue, then times out.
        second = stub.Embed(embed_pb2.EmbedRequest(texts=[b"dog"]), timeout=0.3)
        for call in (first, second):
            with pytest.raises(grpc.RpcError) as caught:
                await call
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await eventually(lambda: idle(server))
        model.gate.set()
        await assert_serving(server)
        assert model.calls == 2  # the gated call and assert_serving's; the queued one never ran
