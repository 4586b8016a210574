"""Every bad input gets its documented status (unary) or in-stream error, and the server
stays healthy; a bad item or message mid-stream leaves the stream open."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from m2v_grpc import Limits
from m2v_grpc._codec import unpack
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._models import ModelRegistry

pytestmark = pytest.mark.asyncio

Opts = embed_pb2.EmbedOptions
SMALL = Limits(max_items_per_message=8, max_text_bytes=64, max_message_bytes=64 * 1024)

# (name, request, expected status, stable code, index of the text at fault or None)
UNARY_CASES = [
    ("empty batch", embed_pb2.EmbedRequest(), "INVALID_ARGUMENT", "empty-batch", None),
    (
        "too many items",
        embed_pb2.EmbedRequest(texts=[b"x"] * 9),
        "INVALID_ARGUMENT",
        "too-many-items",
        None,
    ),
    (
        "invalid utf-8",
        embed_pb2.EmbedRequest(texts=[b"ok", b"bad \xc3\x28"]),
        "INVALID_ARGUMENT",
        "invalid-utf8",
        1,
    ),
    (
        "lone surrogate",
        embed_pb2.EmbedRequest(texts=[b"\xed\xa0\x80"]),
        "INVALID_ARGUMENT",
        "invalid-utf8",
        0,
    ),
    (
        "text too long",
        embed_pb2.EmbedRequest(texts=[b"a", b"b" * 65]),
        "INVALID_ARGUMENT",
        "text-too-long",
        1,
    ),
    (
        "unknown model",
        embed_pb2.EmbedRequest(texts=[b"x"], options=Opts(model="nope")),
        "NOT_FOUND",
        "unknown-model",
        None,
    ),
    (
        "dimensions 0",
        embed_pb2.EmbedRequest(texts=[b"x"], options=Opts(dimensions=0)),
        "INVALID_ARGUMENT",
        "invalid-dimensions",
        None,
    ),
    (
        "dimensions too big",
        embed_pb2.EmbedRequest(texts=[b"x"], options=Opts(dimensions=257)),
        "INVALID_ARGUMENT",
        "invalid-dimensions",
        None,
    ),
    (
        "max_length 0",
        embed_pb2.EmbedRequest(texts=[b"x"], options=Opts(max_length=0)),
        "INVALID_ARGUMENT",
        "invalid-max-length",
        None,
    ),
    (
        "unknown dtype",
        embed_pb2.EmbedRequest(texts=[b"x"], options=Opts(dtype=99)),
        "INVALID_ARGUMENT",
        "invalid-dtype",
        None,
    ),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("name", "request_", "status", "code", "index"), UNARY_CASES, ids=[c[0] for c in UNARY_CASES]
)
async def test_unary_bad_input(
    registry: ModelRegistry,
    name,
    request_,
    status,
    code,
    index,
    assert_serving,
    channel,
    running_server,
    trailing,
) -> None:
    async with running_server(registry, limits=SMALL) as server, channel(server) as chan:
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        with pytest.raises(grpc.RpcError) as caught:
            await stub.Embed(request_, timeout=10)
        error = caught.value
        assert error.code() == grpc.StatusCode[status], error.details()
        assert trailing(error, "m2v-error-code") == code
        assert trailing(error, "m2v-error-index") == (None if index is None else str(index))
        assert code in error.details()
        await assert_serving(server)


async def test_tokenize_bad_input(stub) -> None:
    for request_, status in [
        (embed_pb2.TokenizeRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (embed_pb2.TokenizeRequest(texts=[b"\xff"]), grpc.StatusCode.INVALID_ARGUMENT),
        (embed_pb2.TokenizeRequest(texts=[b"x"], model="nope"), grpc.StatusCode.NOT_FOUND),
        (embed_pb2.TokenizeRequest(texts=[b"x"], max_length=0), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            await stub.Tokenize(request_, timeout=10)
        assert caught.value.code() == status


async def test_oversized_message_is_refused(
    registry: ModelRegistry, assert_serving, channel, running_server
) -> None:
    async with running_server(registry, limits=SMALL) as server, channel(server) as chan:
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        big = embed_pb2.EmbedRequest(texts=[b"x" * 60] * 2000)  # > 64 KiB
        with pytest.raises(grpc.RpcError) as caught:
            await stub.Embed(big, timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # In a stream the transport refuses it too and ends that stream (documented);
        # the messages answered before it stand, and the server is unaffected.
        call = stub.EmbedStream()
        await call.write(
            embed_pb2.EmbedStreamRequest(items=[embed_pb2.EmbedItem(id=1, text=b"fine")])
        )
        first = await call.read()
        assert list(first.ids) == [1]
        await call.write(
            embed_pb2.EmbedStreamRequest(
                items=[embed_pb2.EmbedItem(id=i, text=b"y" * 60) for i in range(2000)]
            )
        )
        with pytest.raises(grpc.RpcError):
            await call.read()
        assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        await assert_serving(server)


async def test_corrupt_wire_bytes(server, chan, assert_serving, trailing) -> None:
    raw = chan.unary_unary("/m2v.embed.v1.EmbedService/Embed")  # no serializer: bytes go as-is
    with pytest.raises(grpc.RpcError) as caught:
        await raw(b"\x0a\xff\xff\xff\xff\x0f", timeout=10)  # a length prefix far beyond the data
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # parsed by the server
    assert trailing(caught.value, "m2v-error-code") == "malformed-request"
    await assert_serving(server)


def _item(i: int, text: bytes) -> embed_pb2.EmbedItem:
    return embed_pb2.EmbedItem(id=i, text=text)


async def test_bad_items_and_messages_mid_stream_leave_it_open(
    registry: ModelRegistry, assert_serving, channel, running_server
) -> None:
    model = registry.get("potion").model
    async with running_server(registry, limits=SMALL) as server, channel(server) as chan:
        stub = embed_pb2_grpc.EmbedServiceStub(chan)
        call = stub.EmbedStream()
        messages = [
            embed_pb2.EmbedStreamRequest(
                items=[_item(1, b"good one"), _item(2, b"\xff\xfe"), _item(3, b"good two")]
            ),
            embed_pb2.EmbedStreamRequest(),  # empty
            embed_pb2.EmbedStreamRequest(items=[_item(4, b"x")], options=Opts(model="nope")),
            embed_pb2.EmbedStreamRequest(items=[_item(5, b"x")], options=Opts(dimensions=0)),
            embed_pb2.EmbedStreamRequest(items=[_item(6, b"x")], options=Opts(dtype=42)),  # type: ignore[arg-type]
            embed_pb2.EmbedStreamRequest(items=[_item(7, b"x")], options=Opts(max_length=0)),
            embed_pb2.EmbedStreamRequest(items=[_item(i, b"x") for i in range(100, 109)]),  # 9 > 8
            embed_pb2.EmbedStreamRequest(items=[_item(8, b"z" * 65), _item(9, b"")]),
            embed_pb2.EmbedStreamRequest(
                items=[_item(10, b"still fine")], options=Opts(model="tiny")
            ),
        ]
        for message in messages:
            await call.write(message)
        await call.done_writing()
        responses = [r async for r in call]
        assert await call.code() == grpc.StatusCode.OK
        assert [r.sequence for r in responses] == list(range(len(messages)))
        first = responses[0]
        assert list(first.ids) == [1, 3]
        assert [(e.id, e.error.code, e.error.status) for e in first.errors] == [
            (2, embed_pb2.ERROR_CODE_INVALID_UTF8, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        ]
        e = first.embeddings
        np.testing.assert_array_equal(
            unpack(e.rows, e.dims, "float32", e.data), model.encode(["good one", "good two"])
        )
        expected_message_errors = [
            embed_pb2.ERROR_CODE_EMPTY_BATCH,
            embed_pb2.ERROR_CODE_UNKNOWN_MODEL,
            embed_pb2.ERROR_CODE_INVALID_DIMENSIONS,
            embed_pb2.ERROR_CODE_INVALID_DTYPE,
            embed_pb2.ERROR_CODE_INVALID_MAX_LENGTH,
            embed_pb2.ERROR_CODE_TOO_MANY_ITEMS,
        ]
        for response, code in zip(responses[1:7], expected_message_errors, strict=True):
            assert response.HasField("error")
            assert response.error.code == code
            assert not response.ids
            assert not response.errors
        assert responses[2].error.status == grpc.StatusCode.NOT_FOUND.value[0]
        assert list(responses[7].ids) == [9]
        assert [(e.id, e.error.code) for e in responses[7].errors] == [
            (8, embed_pb2.ERROR_CODE_TEXT_TOO_LONG)
        ]
        assert list(responses[8].ids) == [10]
        assert responses[8].model == "tiny"
        assert responses[8].embeddings.dims == 12
        await assert_serving(server)


async def test_stream_message_of_only_bad_items(stub) -> None:
    call = stub.EmbedStream()
    await call.write(embed_pb2.EmbedStreamRequest(items=[_item(1, b"\x80"), _item(2, b"\xc0")]))
    await call.done_writing()
    (response,) = [r async for r in call]
    assert not response.ids
    assert len(response.errors) == 2
    assert response.embeddings.rows == 0
    assert response.embeddings.dims == 256
