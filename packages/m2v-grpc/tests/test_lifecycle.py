"""Start-up and shutdown: SIGTERM under load loses nothing (one process, and two worker
processes on one port), drains in order, exits in time; a taken port fails loudly;
metrics, JSON logs and the ``m2v serve`` command."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from m2v_grpc import EmbedClient, EmbedServer, EmbedServiceError, RetryPolicy, ServerStartError
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._stream import DRAINED_METADATA_KEY
from m2v_testkit import assert_gone, free_port

pytestmark = pytest.mark.asyncio
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}
# A unary call that reaches the server after the drain went idle and ``server.stop()`` began
# is cancelled by grpc itself (RST_STREAM, status CANCELLED) before any handler ran: never
# accepted, and retryable like every call of the service (CallCancelledError.retryable).
UNARY_RETRYABLE = RETRYABLE | {grpc.StatusCode.CANCELLED}
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@dataclass
class Ledger:
    """Every client id sent, answered or failed, across all clients of a test."""

    sent: set[int] = field(default_factory=set)
    answered: Counter[int] = field(default_factory=Counter)
    retryable: set[int] = field(default_factory=set)  # not answered; the client may resend
    fatal: list[str] = field(default_factory=list)
    stream_endings: Counter[str] = field(default_factory=Counter)

    def check(self) -> None:
        assert not self.fatal, self.fatal[:5]
        twice = [i for i, n in self.answered.items() if n != 1]
        assert not twice, f"answered more than once: {twice[:5]}"
        assert set(self.answered) <= self.sent, "answers for ids never sent"
        unaccounted = self.sent - set(self.answered) - self.retryable
        assert not unaccounted, f"{len(unaccounted)} ids neither answered nor retryable"
        assert not (set(self.answered) & self.retryable)


def stream_client(target: str, ledger: Ledger, client: int, stop: threading.Event) -> None:
    """Stream messages of 64 items until the server ends the stream; account for every id.

    Uses the blocking API: the asyncio client API can misreport a stream that the server
    ended while a write was in flight as INTERNAL (grpc/grpc#36066).  Each client has a
    connection of its own (grpc would share one between same-target channels of a
    process), so with several workers the streams spread over them.
    """
    next_id = client * 10_000_000
    pending: deque[list[int]] = deque()
    lock = threading.Lock()

    def requests() -> Iterator[embed_pb2.EmbedStreamRequest]:
        nonlocal next_id
        while not stop.is_set():
            ids = list(range(next_id, next_id + 64))
            next_id += 64
            with lock:
                pending.append(ids)
                ledger.sent.update(ids)
            yield embed_pb2.EmbedStreamRequest(
                items=[
                    embed_pb2.EmbedItem(id=i, text=f"text number {i} of the stream".encode())
                    for i in ids
                ]
            )

    with grpc.insecure_channel(target, options=OWN_CONNECTION) as chan:
        call = embed_pb2_grpc.EmbedServiceStub(chan).EmbedStream(requests())
        try:
            for response in call:
                with lock:
                    ids = pending.popleft()
                if list(response.ids) != ids:
                    ledger.fatal.append(f"stream answered {list(response.ids)[:3]} for {ids[:3]}")
                ledger.answered.update(response.ids)
        except grpc.RpcError:
            pass
        code = call.code()
        trailers = dict(call.trailing_metadata() or ())
        drained = "+drained" if trailers.get(DRAINED_METADATA_KEY) else ""
        ledger.stream_endings[code.name + drained] += 1
        with lock:
            unanswered = [i for ids in pending for i in ids]
        if code == grpc.StatusCode.OK or code in RETRYABLE:
            # OK with messages unanswered only happens on a drain: they were never read.
            ledger.retryable.update(unanswered)
        else:
            ledger.fatal.append(f"stream ended {code.name}: {call.details()}")


def library_stream_client(target: str, ledger: Ledger, client: int, stop: threading.Event) -> None:
    """EmbedClient.embed_stream: every input yielded once, in order, or a retryable error."""
    base = client * 10_000_000

    def texts() -> Iterator[str]:
        n = 0
        while not stop.is_set():
            ledger.sent.add(base + n)
            yield f"library text {n}"
            n += 1

    yielded = 0
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.2)
    with EmbedClient(target, retry=retry) as embed_client:
        try:
            for vector in embed_client.embed_stream(texts(), batch_size=64):
                assert vector.shape == (256,)
                ledger.answered[base + yielded] += 1
                yielded += 1
        except EmbedServiceError as error:
            if not error.retryable:
                ledger.fatal.append(f"library stream: {error}")
    ledger.retryable.update(set(range(base + yielded, base + 10_000_000)) & ledger.sent)


async def unary_client(stub, ledger: Ledger, client: int, stop: asyncio.Event) -> None:
    next_id = client * 10_000_000
    while not stop.is_set():
        ids = list(range(next_id, next_id + 32))
        next_id += 32
        ledger.sent.update(ids)
        try:
            response = await stub.Embed(
                embed_pb2.EmbedRequest(texts=[f"unary {i}".encode() for i in ids]), timeout=20
            )
        except grpc.RpcError as error:
            if error.code() in UNARY_RETRYABLE:
                ledger.retryable.update(ids)
                if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    return  # the server is draining or gone
            else:
                ledger.fatal.append(f"unary {error.code().name}: {error.details()}")
                return
        else:
            assert response.embeddings.rows == len(ids)
            ledger.answered.update(ids)


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
async def test_sigterm_under_load_loses_no_accepted_item(
    potion_path: Path, workers: int, server_process
) -> None:
    """Clients stream and call under load; SIGTERM to the server (with two workers: to the
    supervisor, which forwards it); every id sent is answered exactly once or refused
    retryably before it was accepted."""
    grace = 8.0
    args = [
        "--model",
        f"potion={potion_path}",
        "--port",
        "0",
        "--grace",
        str(grace),
        "--threads",
        "2",
        "--workers",
        str(workers),
    ]
    with server_process(args) as proc:
        port = await asyncio.to_thread(proc.wait_serving)
        children = proc.children()
        ledger = Ledger()
        stop = threading.Event()
        async_stop = asyncio.Event()
        target = f"127.0.0.1:{port}"
        async with aio.insecure_channel(target) as chan:
            stub = embed_pb2_grpc.EmbedServiceStub(chan)
            clients = [
                asyncio.to_thread(stream_client, target, ledger, n, stop) for n in range(1, 5)
            ]
            clients += [asyncio.to_thread(library_stream_client, target, ledger, 5, stop)]
            clients += [unary_client(stub, ledger, n, async_stop) for n in range(6, 8)]
            running = asyncio.gather(*clients)
            loaded = time.monotonic()
            while len(ledger.answered) < 3000 or time.monotonic() - loaded < 1.0:  # load flows
                await asyncio.sleep(0.02)
            signalled = time.monotonic()
            proc.terminate()
            try:
                code = await asyncio.to_thread(proc.wait, grace + 5)
            finally:
                stop.set()
                async_stop.set()
            exit_seconds = time.monotonic() - signalled
            await asyncio.wait_for(running, timeout=20)
    assert code == 0, "".join(proc.raw[-20:])
    assert exit_seconds < grace + 1.0
    ledger.check()
    assert len(ledger.answered) >= 3000
    events = proc.events()
    assert events.index("server.draining") < events.index("server.stopped")
    stopped = next(r for r in proc.logs if r.get("event") == "server.stopped")
    assert stopped["clean"] is True
    # The streams that were open when SIGTERM came were closed with OK by the drain.
    assert ledger.stream_endings["OK+drained"] >= 1, ledger.stream_endings
    if workers > 1:
        assert len(proc.worker_pids()) == workers
        drained = proc.records("worker.stopped")
        assert sorted(r["worker"] for r in drained) == list(range(workers))
        assert all(r["clean"] for r in drained), drained
        assert events.index("server.draining") < events.index("worker.draining")
        at_drain = [r["open_streams"] for r in proc.records("worker.draining")]
        assert sum(at_drain) >= 4, at_drain  # the streams were open somewhere when it came
    await asyncio.to_thread(assert_gone, children)


async def test_drain_sequence_in_process(
    tiny_path: Path, channel, gated, health_status, registry_for, running_server
) -> None:
    model = gated(tiny_path)
    model.gate.set()
    async with running_server(registry_for({"g": model}), grace_seconds=5.0) as server:
        assert server.servicer is not None
        observer, chan = channel(server), channel(server)
        watch = health_pb2_grpc.HealthStub(observer).Watch(
            health_pb2.HealthCheckRequest(service="")
        )
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        call = embed_pb2_grpc.EmbedServiceStub(chan).EmbedStream()
        await call.write(
            embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=0, text=b"cat")])
        )
        assert list((await call.read()).ids) == [0]
        model.gate.clear()
        model.entered.clear()
        await call.write(
            embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"dog")])
        )
        await asyncio.to_thread(model.entered.wait, 10)  # message 1 is being computed
        (session,) = server.servicer.sessions
        draining = asyncio.create_task(server.drain(5.0))
        # 1. health turns NOT_SERVING
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await health_status(observer) == health_pb2.HealthCheckResponse.NOT_SERVING
        # 2. new work is refused, retryably
        stub = embed_pb2_grpc.EmbedServiceStub(observer)
        with pytest.raises(grpc.RpcError) as caught:
            await stub.Embed(embed_pb2.EmbedRequest(texts=[b"x"]), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        # 3. the open stream stops reading: a message sent now is never read ...
        await call.write(
            embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=2, text=b"late")])
        )
        await asyncio.sleep(0.1)
        assert session.accepted == 2
        assert not draining.done()
        # 4. ... while the accepted one is still answered, then the stream ends OK.
        model.gate.set()
        assert list((await call.read()).ids) == [1]
        assert await call.read() is aio.EOF
        assert await call.code() == grpc.StatusCode.OK
        assert dict(await call.trailing_metadata()).get(DRAINED_METADATA_KEY) == "1"
        assert session.accepted == session.answered == 2
        assert await draining is True
        await observer.close()
        await chan.close()


async def test_port_in_use_fails_loudly(registry, make_config, running_server) -> None:
    async with running_server(registry) as first:
        second = EmbedServer(make_config(port=first.port), registry=registry)
        with pytest.raises(ServerStartError, match="in use"):
            await second.start()
        await second.stop()
        # The command exits 1 with a clear message instead of sharing the port.
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "m2v_grpc",
                "serve",
                "--model",
                "x=/nonexistent",
                "--port",
                str(first.port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "in use" in result.stderr


async def test_bad_model_path_fails_with_its_code(tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "m2v_grpc",
            "serve",
            "--model",
            f"x={tmp_path / 'missing'}",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    failure = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")][-1]
    assert failure["event"] == "server.failed"
    assert failure["code"] == "model-not-found"


async def test_metrics_endpoint(registry, channel, running_server) -> None:
    free = free_port()
    async with (
        running_server(registry, metrics_port=free, metrics_host="127.0.0.1") as server,
        channel(server) as chan,
    ):
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        await stub.Embed(embed_pb2.EmbedRequest(texts=[b"a", b"b"]))
        with pytest.raises(grpc.RpcError):
            await stub.Embed(embed_pb2.EmbedRequest(texts=[b"\xff"]))
        call = stub.EmbedStream()
        await call.write(embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"c")]))
        await call.done_writing()
        assert [r async for r in call]
        text = await asyncio.to_thread(
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5)
                .read()
                .decode()
            )
        )
    assert 'm2v_grpc_requests_total{code="OK",method="Embed"} 1.0' in text
    assert 'm2v_grpc_requests_total{code="INVALID_ARGUMENT",method="Embed"} 1.0' in text
    assert 'm2v_grpc_items_total{method="Embed",model="potion"} 2.0' in text
    assert 'm2v_grpc_items_total{method="EmbedStream",model="potion"} 1.0' in text
    assert 'm2v_grpc_item_errors_total{code="invalid-utf8"} 1.0' in text
    assert "m2v_grpc_request_duration_seconds_bucket" in text
    assert "m2v_grpc_in_flight" in text
    assert "m2v_grpc_open_streams" in text
