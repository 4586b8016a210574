"""Bearer-token auth (health and reflection exempt), TLS and mutual TLS round trips."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2
from m2v_grpc import AuthenticationError, EmbedClient, TLSConfig, TLSOptions, UnavailableError
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc

pytestmark = pytest.mark.asyncio
CURRENT, NEXT = "current-" + "c" * 8 + "0123456789abcdef" * 2, "next-" + "0123456789abcdef" * 2
TOKENS = (CURRENT, NEXT)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory, make_certificates) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


async def test_token_required_except_health_and_reflection(
    registry, channel, health_status, running_server, trailing, write_then_read
) -> None:
    async with running_server(registry, tokens=TOKENS) as server, channel(server) as chan:
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        request = embed_pb2.EmbedRequest(texts=[b"hello"])
        bad_headers = [
            (),
            (("authorization", "Bearer wrong-token"),),
            (("authorization", f"Bearer {CURRENT}X"),),
            (("authorization", f"Basic {CURRENT}"),),
            (("authorization", CURRENT),),
        ]
        for metadata in bad_headers:
            with pytest.raises(grpc.RpcError) as caught:
                await stub.Embed(request, metadata=metadata, timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
            assert trailing(caught.value, "m2v-error-code") == "unauthenticated"
        for method in (
            lambda md: stub.GetInfo(embed_pb2.GetInfoRequest(), metadata=md, timeout=5),
            lambda md: stub.Tokenize(
                embed_pb2.TokenizeRequest(texts=[b"x"]), metadata=md, timeout=5
            ),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                await method(())
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stream = stub.EmbedStream(metadata=(("authorization", "Bearer nope"),))
        with pytest.raises(grpc.RpcError):
            await write_then_read(
                stream, embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"x")])
            )
        assert await stream.code() == grpc.StatusCode.UNAUTHENTICATED
        # Every configured token works (rotation), the scheme is case-insensitive.
        for token in TOKENS:
            ok = await stub.Embed(
                request, metadata=(("authorization", f"bearer {token}"),), timeout=5
            )
            assert ok.embeddings.rows == 1
        # Exempt: health and reflection.
        assert await health_status(chan) == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        call = reflection_pb2_grpc.ServerReflectionStub(chan).ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        await call.done_writing()
        (answer,) = [r async for r in call]
        assert answer.list_services_response.service


async def test_client_token_and_errors(registry, running_server) -> None:
    import asyncio

    async with running_server(registry, tokens=TOKENS) as server:
        target = f"127.0.0.1:{server.port}"

        def use() -> None:
            with EmbedClient(target, token=NEXT) as client:
                assert client.embed(["hello"]).shape == (1, 256)
                assert len(list(client.embed_stream(["a", "b", "c"]))) == 3
            with EmbedClient(target, token="wrong") as client, pytest.raises(AuthenticationError):
                client.embed(["hello"])
            with EmbedClient(target) as client, pytest.raises(AuthenticationError):
                client.embed(["hello"])

        await asyncio.to_thread(use)


async def test_tls_round_trip(registry, certs: dict[str, Path], running_server) -> None:
    tls = TLSConfig(cert=certs["server.pem"], key=certs["server.key"])
    async with running_server(registry, tls=tls, tokens=TOKENS) as server:
        target = f"localhost:{server.port}"
        ca = certs["ca.pem"].read_bytes()
        async with aio.secure_channel(target, grpc.ssl_channel_credentials(ca)) as chan:
            stub = embed_pb2_grpc.EmbedServiceStub(chan)
            response = await stub.Embed(
                embed_pb2.EmbedRequest(texts=[b"secure hello"]),
                metadata=(("authorization", f"Bearer {CURRENT}"),),
                timeout=10,
            )
            expected = registry.get("potion").model.encode(["secure hello"])
            np.testing.assert_array_equal(
                np.frombuffer(response.embeddings.data, "<f4").reshape(1, 256), expected
            )
        # A plaintext client cannot talk to a TLS server.
        async with aio.insecure_channel(target) as plain:
            with pytest.raises(grpc.RpcError) as caught:
                await embed_pb2_grpc.EmbedServiceStub(plain).GetInfo(
                    embed_pb2.GetInfoRequest(), timeout=3
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

        import asyncio

        def sync_client() -> None:
            options = TLSOptions.from_files(ca=certs["ca.pem"])
            with EmbedClient(target, token=CURRENT, tls=options) as client:
                np.testing.assert_array_equal(client.embed(["secure hello"]), expected)

        await asyncio.to_thread(sync_client)


async def test_mutual_tls(registry, certs: dict[str, Path], running_server) -> None:
    tls = TLSConfig(cert=certs["server.pem"], key=certs["server.key"], client_ca=certs["ca.pem"])
    async with running_server(registry, tls=tls) as server:
        target = f"localhost:{server.port}"
        ca = certs["ca.pem"].read_bytes()
        with_cert = grpc.ssl_channel_credentials(
            ca,
            private_key=certs["client.key"].read_bytes(),
            certificate_chain=certs["client.pem"].read_bytes(),
        )
        async with aio.secure_channel(target, with_cert) as chan:
            response = await embed_pb2_grpc.EmbedServiceStub(chan).Embed(
                embed_pb2.EmbedRequest(texts=[b"mtls"]), timeout=10
            )
            assert response.embeddings.rows == 1
        async with aio.secure_channel(target, grpc.ssl_channel_credentials(ca)) as chan:
            with pytest.raises(grpc.RpcError) as caught:
                await embed_pb2_grpc.EmbedServiceStub(chan).GetInfo(
                    embed_pb2.GetInfoRequest(), timeout=3
                )
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

        import asyncio

        def sync_client_without_cert() -> None:
            options = TLSOptions.from_files(ca=certs["ca.pem"])
            with (
                EmbedClient(target, tls=options, timeout=3) as client,
                pytest.raises(UnavailableError),
            ):
                client.embed(["x"])

        await asyncio.to_thread(sync_client_without_cert)
