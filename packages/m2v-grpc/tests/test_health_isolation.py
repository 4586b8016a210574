"""Health stays answerable whatever clients open; reflection v1 and v1alpha; the plaintext
health-only port for probes next to a TLS port; the drain log counts what it cut off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from m2v_grpc import TLSConfig
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc

pytestmark = pytest.mark.asyncio
TOKEN = secrets.token_hex(24)
AUTH = (("authorization", f"Bearer {TOKEN}"),)
SERVICE = "m2v.embed.v1.EmbedService"


async def _open_watch(chan: aio.Channel) -> tuple[Any, grpc.StatusCode | None]:
    """A Health.Watch stream and the status it was refused with (None: it is open)."""
    call = health_pb2_grpc.HealthStub(chan).Watch(health_pb2.HealthCheckRequest(service=""))
    try:
        first = await call.read()
    except grpc.RpcError as error:
        return call, error.code()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    return call, None


def _reflection_call(chan: aio.Channel, version: str) -> Any:
    """A ServerReflectionInfo stream of ``version`` (``v1`` or ``v1alpha``).

    The two protos' messages are the same on the wire, so the v1alpha classes serve both.
    """
    return chan.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )()


async def _ask(call: Any, **request: Any) -> Any:
    await call.write(reflection_pb2.ServerReflectionRequest(**request))
    return await call.read()


async def _open_embed_stream(chan: aio.Channel) -> Any:
    call = embed_pb2_grpc.EmbedServiceStub(chan).EmbedStream(metadata=AUTH)
    await call.write(embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=0, text=b"hi")]))
    assert list((await call.read()).ids) == [0]
    return call


async def _everything_still_answers(chan: aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(chan)
    for service in ("", SERVICE):
        response = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    stub = embed_pb2_grpc.EmbedServiceStub(chan)
    info = await stub.GetInfo(embed_pb2.GetInfoRequest(), metadata=AUTH, timeout=5)
    assert info.models
    response = await stub.Embed(
        embed_pb2.EmbedRequest(texts=[b"still here"]), metadata=AUTH, timeout=5
    )
    assert response.embeddings.rows == 1


async def test_watches_reflection_and_streams_cannot_starve_health(
    registry, running_server, trailing
) -> None:
    """The issue's reproduction: 96 watches, 96 reflection streams and 56 authenticated
    embedding streams open at once used to make Check, GetInfo and Embed fail with
    RESOURCE_EXHAUSTED.  Now the watches and reflection streams beyond their budget are
    refused, and everything else keeps answering."""
    budget = 16
    async with running_server(registry, tokens=(TOKEN,), max_health_streams=budget) as server:
        address = f"127.0.0.1:{server.port}"
        channels = [aio.insecure_channel(address) for _ in range(8)]
        calls: list[Any] = []
        try:
            watches = [await _open_watch(channels[i % 8]) for i in range(96)]
            calls += [call for call, _ in watches]
            refused = [code for _, code in watches if code is not None]
            assert len(refused) == 96 - budget
            assert set(refused) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
            assert server.stream_budget.open == budget
            # The budget is full: reflection streams are refused too, with our code.
            for version in ("v1", "v1alpha"):
                call = _reflection_call(channels[0], version)
                calls.append(call)
                with pytest.raises(grpc.RpcError) as caught:
                    await _ask(call, list_services="")
                assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert trailing(caught.value, "m2v-error-code") == "overloaded"
                assert "health-watch and reflection streams" in (caught.value.details() or "")
            streams = [await _open_embed_stream(channels[i % 8]) for i in range(56)]
            calls += streams
            assert server.admission.in_flight == 56
            await _everything_still_answers(channels[3])
            async with aio.insecure_channel(address) as fresh:  # a new connection too
                await _everything_still_answers(fresh)
            rejected = server.metrics.rejections.labels("health-streams")._value.get()
            assert rejected == 96 - budget + 2
            # Closing watches gives their places back.
            for call in calls[:budget]:
                call.cancel()
            for _ in range(100):
                if server.stream_budget.open == 0:
                    break
                await asyncio.sleep(0.02)
            assert server.stream_budget.open == 0
            reflection = _reflection_call(channels[1], "v1")
            calls.append(reflection)
            answer = await _ask(reflection, list_services="")
            assert SERVICE in {s.name for s in answer.list_services_response.service}
        finally:
            for call in calls:
                call.cancel()
            for chan in channels:
                await chan.close()


async def test_reflection_v1_and_v1alpha_describe_the_service(registry, running_server) -> None:
    async with (
        running_server(registry) as server,
        aio.insecure_channel(f"127.0.0.1:{server.port}") as chan,
    ):
        for version in ("v1", "v1alpha"):
            call = _reflection_call(chan, version)
            listed = await _ask(call, list_services="")
            names = {s.name for s in listed.list_services_response.service}
            assert {
                SERVICE,
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            } <= names
            for symbol in (SERVICE, "grpc.reflection.v1.ServerReflection"):
                found = await _ask(call, file_containing_symbol=symbol)
                assert found.WhichOneof("message_response") == "file_descriptor_response"
                blobs = found.file_descriptor_response.file_descriptor_proto
                assert blobs, symbol
            missing = await _ask(call, file_containing_symbol="no.such.Service")
            assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
            call.cancel()
        # The stock v1alpha client (grpcio-reflection's descriptor database) resolves it too.
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
            ProtoReflectionDescriptorDatabase,
        )

        def resolve() -> list[str]:
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as sync_chan:
                database = ProtoReflectionDescriptorDatabase(sync_chan)
                services = list(database.get_services())
                proto = database.FindFileContainingSymbol(SERVICE)
                assert proto.package == "m2v.embed.v1"
                return services

        assert SERVICE in await asyncio.to_thread(resolve)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory, make_certificates) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


async def test_tls_port_with_a_plaintext_health_port_for_probes(
    registry, certs: dict[str, Path], running_server, gated, registry_for, tiny_path
) -> None:
    """The Kubernetes pattern: TLS + tokens on the main port, kubelet probes on a
    plaintext port that serves grpc.health.v1 alone."""
    tls = TLSConfig(cert=certs["server.pem"], key=certs["server.key"])
    async with running_server(registry, tls=tls, tokens=(TOKEN,), health_port=0) as server:
        assert server.health_port
        assert server.health_port != server.port
        async with aio.insecure_channel(f"127.0.0.1:{server.health_port}") as probe:
            health = health_pb2_grpc.HealthStub(probe)
            for service in ("", SERVICE):
                answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
            # Nothing but health: no embedding, no reflection, no GetInfo.
            stub = embed_pb2_grpc.EmbedServiceStub(probe)
            with pytest.raises(grpc.RpcError) as caught:
                await stub.Embed(embed_pb2.EmbedRequest(texts=[b"x"]), metadata=AUTH, timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
            with pytest.raises(grpc.RpcError) as caught:
                await _ask(_reflection_call(probe, "v1"), list_services="")
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
            # Watches on the probe port count against the same budget.
            watch, refused = await _open_watch(probe)
            assert refused is None
            assert server.stream_budget.open == 1
            watch.cancel()
        # The main port still demands TLS.
        async with aio.insecure_channel(f"127.0.0.1:{server.port}") as plain:
            with pytest.raises(grpc.RpcError) as caught:
                await health_pb2_grpc.HealthStub(plain).Check(
                    health_pb2.HealthCheckRequest(), timeout=3
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

    # While draining, the probe port reports NOT_SERVING until the very end.
    model = gated(tiny_path)
    async with (
        running_server(registry_for({"g": model}), health_port=0) as server,
        aio.insecure_channel(f"127.0.0.1:{server.port}") as chan,
    ):
        blocked = asyncio.ensure_future(
            embed_pb2_grpc.EmbedServiceStub(chan).Embed(
                embed_pb2.EmbedRequest(texts=[b"cat"]), timeout=10
            )
        )
        await asyncio.to_thread(model.entered.wait, 10)
        draining = asyncio.create_task(server.drain(5.0))
        async with aio.insecure_channel(f"127.0.0.1:{server.health_port}") as probe:
            health = health_pb2_grpc.HealthStub(probe)
            for _ in range(100):
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=3)
                if answer.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    break
                await asyncio.sleep(0.02)
            assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
            model.gate.set()
            assert (await blocked).embeddings.rows == 1
            assert await draining is True


async def test_port_options_reach_the_workers(tmp_path: Path, server_process, tiny_path) -> None:
    """``m2v serve --workers 2 --health-port P``: every worker answers health on P."""
    args = [
        "--model",
        f"tiny={tiny_path}",
        "--port",
        "0",
        "--health-port",
        "0",
        "--workers",
        "2",
        "--threads",
        "1",
    ]
    with server_process(args) as proc:
        await asyncio.to_thread(proc.wait_serving)
        (serving,) = proc.records("server.serving")
        health_port = int(serving["health_port"])
        assert health_port
        assert health_port != proc.port
        statuses = []
        for _ in range(6):  # new connections spread over the workers
            async with aio.insecure_channel(
                f"127.0.0.1:{health_port}", options=[("grpc.use_local_subchannel_pool", 1)]
            ) as probe:
                answer = await health_pb2_grpc.HealthStub(probe).Check(
                    health_pb2.HealthCheckRequest(service=SERVICE), timeout=5
                )
                statuses.append(answer.status)
        assert set(statuses) == {health_pb2.HealthCheckResponse.SERVING}
        workers = proc.records("worker.health_listening")
        assert len(workers) == 2
        assert {int(r["address"].rsplit(":", 1)[1]) for r in workers} == {health_port}
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 30) == 0


async def test_drain_log_counts_calls_cut_off_by_the_grace_period(
    tiny_path: Path, gated, registry_for, running_server, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to say ``unfinished: 0`` with a call still running when the grace ran out."""
    model = gated(tiny_path)  # the gate stays closed: the call cannot finish in time
    async with (
        running_server(registry_for({"g": model})) as server,
        aio.insecure_channel(f"127.0.0.1:{server.port}") as chan,
    ):
        blocked = asyncio.ensure_future(
            embed_pb2_grpc.EmbedServiceStub(chan).Embed(
                embed_pb2.EmbedRequest(texts=[b"cat"]), timeout=10
            )
        )
        await asyncio.to_thread(model.entered.wait, 10)
        with caplog.at_level(logging.INFO, logger="m2v_grpc"):
            assert await server.drain(0.5) is False
        with contextlib.suppress(grpc.RpcError):
            await blocked
        model.gate.set()
    (stopped,) = [r for r in caplog.records if r.getMessage() == "server.stopped"]
    assert stopped.levelno == logging.WARNING
    assert stopped.fields["clean"] is False  # type: ignore[attr-defined]
    assert stopped.fields["unfinished"] == 1  # type: ignore[attr-defined]
