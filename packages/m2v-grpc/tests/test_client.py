"""EmbedClient and AsyncEmbedClient: same API, splitting, streaming order, typed errors,
retries on UNAVAILABLE / overloaded, resending a drained stream's unanswered messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from m2v_grpc import (
    AsyncEmbedClient,
    EmbedClient,
    EmbedServer,
    InvalidDimensionsError,
    InvalidRequestError,
    InvalidUTF8Error,
    Limits,
    OverloadedError,
    RetryPolicy,
    TextTooLongError,
    UnknownModelError,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_testkit import free_port

pytestmark = pytest.mark.asyncio
TEXTS = [f"sentence {i} about the film and the market" for i in range(300)]
FAST_RECONNECT = (("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 100))


async def test_sync_client_api(registry, running_server) -> None:
    potion, tiny = registry.get("potion").model, registry.get("tiny").model
    small = Limits(max_items_per_message=16, max_message_bytes=2048, max_text_bytes=200)
    async with running_server(registry, limits=small) as server:
        target = f"127.0.0.1:{server.port}"

        def use() -> None:
            with EmbedClient(target) as client:
                info = client.info()
                assert [m.name for m in info.models] == ["potion", "tiny"]
                assert info.limits.max_items_per_message == 16
                # 300 texts > 16 per message and > 2 KiB per message: split, same result.
                np.testing.assert_array_equal(client.embed(TEXTS), potion.encode(TEXTS))
                np.testing.assert_array_equal(
                    client.embed(["hello cat"], "tiny"), tiny.encode(["hello cat"])
                )
                assert client.embed([]).shape == (0, 256)
                assert client.embed([], "tiny", dtype="binary").shape == (0, 2)
                assert client.embed(TEXTS[:3], dtype="float16").dtype == np.float16
                int8 = client.embed(TEXTS[:3], dtype="int8")
                assert int8.dtype == np.float32
                np.testing.assert_allclose(int8, potion.encode(TEXTS[:3]), atol=0.01)
                assert client.embed(TEXTS[:3], dtype="binary").shape == (3, 32)
                np.testing.assert_allclose(
                    client.embed(TEXTS[:3], dimensions=8, normalize=False, max_length=4),
                    potion.encode(TEXTS[:3], dimensions=8, normalize=False, max_length=4),
                    atol=1e-7,
                )
                assert client.tokenize(["hello world"]) == potion.tokenize(["hello world"])
                with pytest.raises(InvalidUTF8Error) as caught:
                    client.embed([*TEXTS[:20], b"\xff"])  # type: ignore[list-item]
                assert caught.value.index == 20  # position in the caller's list, across messages
                with pytest.raises(TextTooLongError) as too_long:
                    client.embed(["short", "x" * 201])
                assert too_long.value.index == 1
                with pytest.raises(UnknownModelError):
                    client.embed(["x"], model="nope")
                with pytest.raises(InvalidDimensionsError):
                    client.embed(["x"], dimensions=300)
                with pytest.raises(InvalidRequestError):
                    client.embed("a single string")  # type: ignore[arg-type]
                with pytest.raises(InvalidRequestError):
                    client.embed(["x"], dtype="bfloat16")  # type: ignore[arg-type]

        await asyncio.to_thread(use)


async def test_sync_embed_stream(registry, running_server) -> None:
    potion = registry.get("potion").model
    small = Limits(max_items_per_message=16, max_message_bytes=4096, max_text_bytes=200)
    async with running_server(registry, limits=small) as server:
        target = f"127.0.0.1:{server.port}"

        def use() -> None:
            with EmbedClient(target) as client:
                got = np.stack(list(client.embed_stream(iter(TEXTS), max_in_flight=3)))
                np.testing.assert_array_equal(got, potion.encode(TEXTS))
                mixed = ["good", b"\xff", "y" * 500, "also good", 42]
                results = list(client.embed_stream(mixed, return_errors=True))  # type: ignore[arg-type]
                assert [type(r).__name__ for r in results] == [
                    "ndarray",
                    "InvalidUTF8Error",
                    "TextTooLongError",
                    "ndarray",
                    "InvalidRequestError",
                ]
                assert [getattr(r, "index", None) for r in results] == [None, 1, 2, None, 4]
                seen: list[object] = []
                with pytest.raises(InvalidUTF8Error):
                    seen.extend(client.embed_stream(["a", "b", b"\xff", "c"]))  # type: ignore[list-item]
                assert len(seen) == 2

                def failing() -> Iterator[str]:
                    yield from TEXTS[:40]
                    raise RuntimeError("source broke")

                got_before_error: list[object] = []
                with pytest.raises(RuntimeError, match="source broke"):
                    got_before_error.extend(client.embed_stream(failing(), batch_size=8))
                assert len(got_before_error) == 40
                # Stopping early frees the stream on the server.
                for n, _ in enumerate(client.embed_stream(iter(TEXTS * 100), batch_size=16)):
                    if n == 50:
                        break

        await asyncio.to_thread(use)
        for _ in range(200):
            if server.admission.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        assert server.admission.in_flight == 0


async def test_async_client_api(registry, running_server) -> None:
    potion = registry.get("potion").model
    small = Limits(max_items_per_message=16, max_message_bytes=4096, max_text_bytes=200)
    async with (
        running_server(registry, limits=small) as server,
        AsyncEmbedClient(f"127.0.0.1:{server.port}") as client,
    ):
        assert (await client.info()).models[0].name == "potion"
        np.testing.assert_array_equal(await client.embed(TEXTS), potion.encode(TEXTS))
        assert (await client.embed([], "tiny")).shape == (0, 12)
        assert await client.tokenize(["hello world"]) == potion.tokenize(["hello world"])

        async def source():
            for text in TEXTS:
                yield text

        got = np.stack([v async for v in client.embed_stream(source(), batch_size=7)])
        np.testing.assert_array_equal(got, potion.encode(TEXTS))
        results = [
            r async for r in client.embed_stream(["ok", b"\xff", "z" * 300], return_errors=True)
        ]  # type: ignore[list-item]
        assert [type(r).__name__ for r in results] == [
            "ndarray",
            "InvalidUTF8Error",
            "TextTooLongError",
        ]
        with pytest.raises(InvalidUTF8Error) as caught:
            await client.embed(["fine", b"\xfe"])  # type: ignore[list-item]
        assert caught.value.index == 1
        with pytest.raises(UnknownModelError):
            _ = [v async for v in client.embed_stream(["x"], model="nope")]


def streamed_items(server: EmbedServer) -> float:
    """Items a server embedded over EmbedStream (from its metrics)."""
    sample = server.metrics.registry.get_sample_value(
        "m2v_grpc_items_total", {"method": "EmbedStream", "model": "potion"}
    )
    return sample or 0.0


async def test_unary_retried_until_the_server_is_up(registry, make_config) -> None:
    port = free_port()
    retry = RetryPolicy(max_attempts=40, initial_backoff=0.05, max_backoff=0.1)
    async with AsyncEmbedClient(
        f"127.0.0.1:{port}", retry=retry, channel_options=FAST_RECONNECT
    ) as client:
        pending = asyncio.create_task(client.embed(["hello"]))
        await asyncio.sleep(0.3)
        assert not pending.done()
        server = EmbedServer(make_config(port=port), registry=registry)
        await server.start()
        try:
            assert (await asyncio.wait_for(pending, 20)).shape == (1, 256)
        finally:
            await server.stop()


async def test_overloaded_is_retried_then_reported(registry, running_server) -> None:
    async with running_server(registry, limits=Limits(max_concurrent_requests=1)) as server:
        target = f"127.0.0.1:{server.port}"
        async with AsyncEmbedClient(target) as holder:
            stub = embed_pb2_grpc.EmbedServiceStub(holder._channel)
            held = stub.EmbedStream()
            await held.write(
                embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"x")])
            )
            await held.read()
            quick = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
            async with AsyncEmbedClient(target, retry=quick) as client:
                await client.info()
                with pytest.raises(OverloadedError):
                    await client.embed(["x"])
            patient = RetryPolicy(max_attempts=50, initial_backoff=0.02, max_backoff=0.05)
            async with AsyncEmbedClient(target, retry=patient) as client:
                await client.info()
                pending = asyncio.create_task(client.embed(["x"]))
                await asyncio.sleep(0.2)
                await held.done_writing()
                assert await held.read() is not None
                assert (await asyncio.wait_for(pending, 10)).shape == (1, 256)


async def test_stream_moves_to_another_replica_when_one_drains(registry, running_server) -> None:
    potion = registry.get("potion").model
    texts = [f"replica text {i}" for i in range(6000)]
    async with running_server(registry) as first, running_server(registry) as second:
        target = f"ipv4:127.0.0.1:{first.port},127.0.0.1:{second.port}"
        options = (("grpc.lb_policy_name", "round_robin"), *FAST_RECONNECT)
        retry = RetryPolicy(max_attempts=30, initial_backoff=0.02, max_backoff=0.1)
        async with AsyncEmbedClient(target, retry=retry, channel_options=options) as client:
            out = []
            drain = None
            async for vector in client.embed_stream(texts, batch_size=64, max_in_flight=4):
                out.append(vector)
                if len(out) == 500:
                    victim, other = (
                        (first, second) if first.admission.open_streams else (second, first)
                    )
                    drain = asyncio.create_task(victim.drain(3.0))
        assert drain is not None
        assert await drain is True
        assert streamed_items(other) > 0  # the rest went to the other replica
        assert streamed_items(victim) + streamed_items(other) >= len(texts)
        np.testing.assert_array_equal(np.stack(out), potion.encode(texts))


async def test_sync_stream_resends_after_drain(registry, running_server) -> None:
    potion = registry.get("potion").model
    texts = [f"sync replica text {i}" for i in range(4000)]
    async with running_server(registry) as first, running_server(registry) as second:
        target = f"ipv4:127.0.0.1:{first.port},127.0.0.1:{second.port}"
        options = (("grpc.lb_policy_name", "round_robin"), *FAST_RECONNECT)
        retry = RetryPolicy(max_attempts=30, initial_backoff=0.02, max_backoff=0.1)
        loop = asyncio.get_running_loop()
        drains: list[asyncio.Future[bool]] = []
        victims: list[EmbedServer] = []

        def consume() -> np.ndarray:
            out = []
            with EmbedClient(target, retry=retry, channel_options=options) as client:
                for vector in client.embed_stream(texts, batch_size=64):
                    out.append(vector)
                    if len(out) == 300:
                        victim = first if first.admission.open_streams else second
                        victims.append(victim)
                        drains.append(asyncio.run_coroutine_threadsafe(victim.drain(3.0), loop))  # type: ignore[arg-type]
            return np.stack(out)

        got = await asyncio.to_thread(consume)
        assert drains
        assert await asyncio.wrap_future(drains[0]) is True  # type: ignore[arg-type]
        other = second if victims[0] is first else first
        assert streamed_items(other) > 0
        np.testing.assert_array_equal(got, potion.encode(texts))
