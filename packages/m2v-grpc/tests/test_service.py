"""The service does what the proto says: same vectors as m2v_infer, every option, every RPC."""

from __future__ import annotations

import numpy as np
import pytest
from grpc_health.v1 import health_pb2
from m2v_grpc import EmbedServer
from m2v_grpc._codec import unpack
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._models import ModelRegistry
from m2v_grpc._server import SERVICE_NAME

pytestmark = pytest.mark.asyncio

TEXTS = [
    "The film is a gorgeous, witty, seductive movie.",
    "Shares in the company rose 5% after the results.",
    "hello world",
    "",
    "日本語のテキストも大丈夫",
]


def vectors(response: embed_pb2.EmbedResponse) -> np.ndarray:
    e = response.embeddings
    return unpack(e.rows, e.dims, "float32", e.data)


async def test_embed_matches_in_process_encode(stub, registry: ModelRegistry) -> None:
    response = await stub.Embed(embed_pb2.EmbedRequest(texts=[t.encode() for t in TEXTS]))
    assert response.model == "potion"
    assert (response.embeddings.rows, response.embeddings.dims) == (len(TEXTS), 256)
    assert response.embeddings.dtype == embed_pb2.OUTPUT_DTYPE_FLOAT32
    expected = registry.get("potion").model.encode(TEXTS)
    np.testing.assert_array_equal(vectors(response), expected)
    # An empty string is a valid text: it has no tokens, so its vector is zero (rule I6).
    assert not vectors(response)[3].any()


async def test_options_normalize_dimensions_max_length(stub, registry: ModelRegistry) -> None:
    model = registry.get("potion").model
    options = embed_pb2.EmbedOptions(normalize=False, dimensions=64, max_length=3)
    response = await stub.Embed(
        embed_pb2.EmbedRequest(texts=[t.encode() for t in TEXTS[:3]], options=options)
    )
    expected = model.encode(TEXTS[:3], normalize=False, dimensions=64, max_length=3)
    assert response.embeddings.dims == 64
    np.testing.assert_allclose(vectors(response), expected, rtol=0, atol=1e-7)
    # Truncate, then renormalise.
    response = await stub.Embed(
        embed_pb2.EmbedRequest(
            texts=[TEXTS[0].encode()], options=embed_pb2.EmbedOptions(dimensions=32)
        )
    )
    got = vectors(response)
    full = model.encode([TEXTS[0]], normalize=False)[:, :32]
    np.testing.assert_allclose(got, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-6)
    assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-6)


async def test_output_dtypes(stub, registry: ModelRegistry) -> None:
    expected = registry.get("potion").model.encode(TEXTS)
    raw = [t.encode() for t in TEXTS]
    f16 = await stub.Embed(
        embed_pb2.EmbedRequest(
            texts=raw, options=embed_pb2.EmbedOptions(dtype=embed_pb2.OUTPUT_DTYPE_FLOAT16)
        )
    )
    assert len(f16.embeddings.data) == len(TEXTS) * 256 * 2
    np.testing.assert_allclose(
        unpack(len(TEXTS), 256, "float16", f16.embeddings.data).astype(np.float32),
        expected,
        atol=1e-3,
    )
    i8 = await stub.Embed(
        embed_pb2.EmbedRequest(
            texts=raw, options=embed_pb2.EmbedOptions(dtype=embed_pb2.OUTPUT_DTYPE_INT8)
        )
    )
    assert len(i8.embeddings.data) == len(TEXTS) * 256
    assert len(i8.embeddings.scales) == 4 * len(TEXTS)
    restored = unpack(len(TEXTS), 256, "int8", i8.embeddings.data, i8.embeddings.scales)
    np.testing.assert_allclose(restored, expected, atol=np.abs(expected).max() / 127)
    binary = await stub.Embed(
        embed_pb2.EmbedRequest(
            texts=raw,
            options=embed_pb2.EmbedOptions(dtype=embed_pb2.OUTPUT_DTYPE_BINARY, dimensions=20),
        )
    )
    assert binary.embeddings.dims == 20
    assert len(binary.embeddings.data) == len(TEXTS) * 3
    bits = np.unpackbits(unpack(len(TEXTS), 20, "binary", binary.embeddings.data), axis=1)[:, :20]
    np.testing.assert_array_equal(
        bits, (registry.get("potion").model.encode(TEXTS, dimensions=20) > 0)
    )


async def test_several_models_and_defaults(stub, registry: ModelRegistry) -> None:
    tiny = registry.get("tiny").model
    response = await stub.Embed(
        embed_pb2.EmbedRequest(
            texts=[b"hello world", b"cat dog unknownword"],
            options=embed_pb2.EmbedOptions(model="tiny"),
        )
    )
    assert response.model == "tiny"
    assert response.embeddings.dims == 12
    np.testing.assert_array_equal(
        vectors(response), tiny.encode(["hello world", "cat dog unknownword"])
    )
    # tiny's default is normalize=false: its vectors are not unit length.
    assert abs(np.linalg.norm(vectors(response)[0]) - 1.0) > 1e-3


async def test_get_info(stub) -> None:
    info = await stub.GetInfo(embed_pb2.GetInfoRequest())
    assert info.server_version
    assert info.limits.max_items_per_message == 2048
    assert info.limits.max_message_bytes == 4 * 1024 * 1024
    assert info.limits.max_concurrent_requests == 64
    assert info.limits.max_in_flight_per_stream >= 1
    models = {m.name: m for m in info.models}
    assert models["potion"].is_default
    assert not models["tiny"].is_default
    potion = models["potion"]
    assert (potion.dims, potion.dtype, potion.vocabulary_size) == (256, "float32", 29528)
    assert potion.normalize_default is True
    assert potion.max_tokens == 512
    tiny = models["tiny"]
    assert (tiny.dims, tiny.normalize_default, tiny.max_tokens) == (12, False, 16)


async def test_tokenize(stub, registry: ModelRegistry) -> None:
    response = await stub.Tokenize(
        embed_pb2.TokenizeRequest(texts=[b"hello world", b""], max_length=1)
    )
    model = registry.get("potion").model
    assert [list(t.ids) for t in response.tokens] == model.tokenize(
        ["hello world", ""], max_length=1
    )
    response = await stub.Tokenize(embed_pb2.TokenizeRequest(texts=[b"cat zzz dog"], model="tiny"))
    assert [list(t.ids) for t in response.tokens] == registry.get("tiny").model.tokenize(
        ["cat zzz dog"]
    )


async def test_stream_answers_each_message_in_order_with_ids(stub, registry: ModelRegistry) -> None:
    model = registry.get("potion").model
    call = stub.EmbedStream()
    batches = [[(1000 * m + i, f"message {m} text {i}") for i in range(m + 1)] for m in range(6)]
    for batch in batches:
        await call.write(
            embed_pb2.EmbedStreamRequest(
                items=[embed_pb2.EmbedItem(id=i, text=t.encode()) for i, t in batch]
            )
        )
    await call.done_writing()
    responses = [r async for r in call]
    assert [r.sequence for r in responses] == list(range(6))
    for batch, response in zip(batches, responses, strict=True):
        assert list(response.ids) == [i for i, _ in batch]
        assert not response.errors
        assert not response.HasField("error")
        e = response.embeddings
        np.testing.assert_array_equal(
            unpack(e.rows, e.dims, "float32", e.data), model.encode([t for _, t in batch])
        )
    assert await call.code() == __import__("grpc").StatusCode.OK


async def test_health_and_reflection(chan, health_status) -> None:
    assert await health_status(chan) == health_pb2.HealthCheckResponse.SERVING
    assert await health_status(chan, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(chan)
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    await call.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE_NAME))
    await call.done_writing()
    answers = [r async for r in call]
    names = {s.name for s in answers[0].list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names
    assert answers[1].file_descriptor_response.file_descriptor_proto


async def test_health_not_serving_until_models_loaded(
    registry: ModelRegistry, potion_path, channel, health_status, make_config
) -> None:
    import asyncio
    import threading

    from m2v_grpc._config import ModelSpec
    from m2v_infer import StaticModel

    gate = threading.Event()

    def slow_loader(path: str) -> StaticModel:
        gate.wait(10)
        return registry.get("potion").model

    server = EmbedServer(
        make_config(models=(ModelSpec("potion", str(potion_path)),)), loader=slow_loader
    )
    starting = asyncio.create_task(server.start())
    try:
        while not server.port:
            await asyncio.sleep(0.01)
        async with channel(server) as chan:
            assert await health_status(chan) == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = embed_pb2_grpc.EmbedServiceStub(chan)
            import grpc

            with pytest.raises(grpc.RpcError) as caught:
                await stub.Embed(embed_pb2.EmbedRequest(texts=[b"x"]))
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            gate.set()
            await starting
            assert await health_status(chan) == health_pb2.HealthCheckResponse.SERVING
            assert (await stub.Embed(embed_pb2.EmbedRequest(texts=[b"x"]))).embeddings.rows == 1
    finally:
        gate.set()
        await server.stop()


async def test_models_from_save_model_serve_int8_storage(
    tmp_path, registry, channel, registry_for, running_server, write_tiny_model
) -> None:
    from m2v_format import load_model, quantize, save_model

    folder = write_tiny_model(tmp_path / "f32", dim=16, normalize=True, seed=3)
    int8_folder = save_model(tmp_path / "i8", quantize(load_model(folder), "int8"))
    reg = registry_for({"q": str(int8_folder)})
    async with running_server(reg) as server, channel(server) as chan:
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        info = await stub.GetInfo(embed_pb2.GetInfoRequest())
        assert info.models[0].dtype == "int8"
        assert info.models[0].normalize_default
        response = await stub.Embed(embed_pb2.EmbedRequest(texts=[b"hello cat"]))
        np.testing.assert_array_equal(vectors(response), reg.get("q").model.encode(["hello cat"]))
