"""The CPU work of each RPC: request message in, response message out.

These functions are synchronous and run on the server's worker threads, never on the
event loop: UTF-8 decoding, tokenization, pooling, packing and building the response
message all happen here.  They raise typed errors (``m2v_grpc._errors``) for the
servicer to turn into statuses; the stream variant never raises for bad input but
reports it inside the response.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from m2v_grpc._codec import DTYPE_NUMBERS, Packed, pack
from m2v_grpc._config import Limits
from m2v_grpc._errors import (
    EmbedServiceError,
    InvalidRequestError,
    MalformedRequestError,
    proto_enum_name,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2
from m2v_grpc._models import ModelRegistry
from m2v_grpc._validation import (
    EncodeSettings,
    check_count,
    decode_text,
    decode_texts,
    resolve_max_length,
    resolve_options,
)

_Message = TypeVar("_Message", bound=Message)


def parse(message_type: type[_Message], payload: _Message | bytes) -> _Message:
    """The request message of ``payload``: raw bytes from the wire are parsed here, on the
    worker thread, so that bytes which do not parse become :class:`MalformedRequestError`
    (INVALID_ARGUMENT) instead of grpc's UNKNOWN."""
    if not isinstance(payload, bytes):
        return payload
    try:
        return message_type.FromString(payload)
    except DecodeError as error:
        name = message_type.DESCRIPTOR.full_name
        raise MalformedRequestError(f"the request does not parse as {name}: {error}") from error


def error_message(error: EmbedServiceError) -> embed_pb2.Error:
    """The proto ``Error`` of a typed error."""
    return embed_pb2.Error(
        code=embed_pb2.ErrorCode.Value(proto_enum_name(error.code)),
        status=error.status_number,
        message=error.message,
    )


def _embeddings(packed: Packed) -> embed_pb2.Embeddings:
    return embed_pb2.Embeddings(
        rows=packed.rows,
        dims=packed.dims,
        dtype=DTYPE_NUMBERS[packed.dtype],  # type: ignore[arg-type]
        data=packed.data,
        scales=packed.scales,
    )


def _encode(settings: EncodeSettings, texts: list[str]) -> embed_pb2.Embeddings:
    vectors = settings.model.encode(
        texts,
        max_length=settings.max_length,
        normalize=settings.normalize,
        dimensions=settings.dimensions,
    )
    return _embeddings(pack(vectors, settings.dtype))


def embed(
    payload: embed_pb2.EmbedRequest | bytes, registry: ModelRegistry, limits: Limits
) -> embed_pb2.EmbedResponse:
    """Unary Embed: all texts or nothing (the first bad text raises)."""
    request = parse(embed_pb2.EmbedRequest, payload)
    check_count(len(request.texts), limits)
    settings = resolve_options(request.options, registry)
    texts = decode_texts(list(request.texts), limits)
    return embed_pb2.EmbedResponse(embeddings=_encode(settings, texts), model=settings.model.name)


def embed_stream_message(
    payload: embed_pb2.EmbedStreamRequest | bytes,
    sequence: int,
    registry: ModelRegistry,
    limits: Limits,
) -> embed_pb2.EmbedStreamResponse:
    """One EmbedStream message: unparsable bytes, bad options or counts fail the message,
    bad texts their item."""
    response = embed_pb2.EmbedStreamResponse(sequence=sequence)
    try:
        request = parse(embed_pb2.EmbedStreamRequest, payload)
        check_count(len(request.items), limits)
        settings = resolve_options(request.options, registry)
    except EmbedServiceError as error:
        response.error.CopyFrom(error_message(error))
        return response
    ids: list[int] = []
    texts: list[str] = []
    for item in request.items:
        try:
            texts.append(decode_text(item.text, limits))
        except InvalidRequestError as error:
            response.errors.add(id=item.id, error=error_message(error))
        else:
            ids.append(item.id)
    response.model = settings.model.name
    response.ids.extend(ids)
    if texts:
        response.embeddings.CopyFrom(_encode(settings, texts))
    else:
        response.embeddings.CopyFrom(
            _embeddings(Packed(0, settings.dimensions, settings.dtype, b""))
        )
    return response


def tokenize(
    payload: embed_pb2.TokenizeRequest | bytes, registry: ModelRegistry, limits: Limits
) -> embed_pb2.TokenizeResponse:
    """Tokenize: the token ids each text pools, all texts or nothing."""
    request = parse(embed_pb2.TokenizeRequest, payload)
    check_count(len(request.texts), limits)
    model = registry.get(request.model)
    max_length = resolve_max_length(model, request.HasField("max_length"), int(request.max_length))
    texts = decode_texts(list(request.texts), limits)
    response = embed_pb2.TokenizeResponse(model=model.name)
    for ids in model.tokenize(texts, max_length=max_length):
        response.tokens.add().ids.extend(ids)
    return response
