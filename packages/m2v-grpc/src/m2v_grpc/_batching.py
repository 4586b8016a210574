"""Client-side batching: cut texts into request messages within the server's limits and
turn answered messages back into per-text results, in input order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from m2v_grpc._client_core import Vector, decode_embeddings, error_from_proto
from m2v_grpc._config import Limits
from m2v_grpc._errors import (
    EmbedServiceError,
    InternalServerError,
    InvalidRequestError,
    TextTooLongError,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2

MESSAGE_OVERHEAD_BYTES = 1024
"""Room left in every request message for options and framing."""
ITEM_OVERHEAD_BYTES = 16
"""Protobuf framing per text (tag, length, item id) — an upper bound."""
StreamResult = Vector | EmbedServiceError
"""One text's outcome in a stream: its vector, or the error it got."""


def encode_texts(texts: Sequence[str | bytes], limits: Limits) -> list[bytes]:
    """UTF-8 encode texts; a text over ``max_text_bytes`` raises TextTooLongError locally."""
    encoded = [text.encode("utf-8") if isinstance(text, str) else bytes(text) for text in texts]
    for index, raw in enumerate(encoded):
        if len(raw) > limits.max_text_bytes:
            raise TextTooLongError(
                f"text of {len(raw)} bytes; the server's limit is {limits.max_text_bytes}",
                index=index,
            )
    return encoded


def message_budget(limits: Limits) -> int:
    """Bytes of text payload one request message may carry."""
    return max(1, limits.max_message_bytes - MESSAGE_OVERHEAD_BYTES)


def split_ranges(sizes: Sequence[int], max_items: int, max_bytes: int) -> list[tuple[int, int]]:
    """Split consecutive items into ``[start, stop)`` ranges within both limits.

    An item larger than ``max_bytes`` on its own still gets a range of its own.
    """
    ranges: list[tuple[int, int]] = []
    start, used = 0, 0
    for index, size in enumerate(sizes):
        cost = size + ITEM_OVERHEAD_BYTES
        if index > start and (index - start >= max_items or used + cost > max_bytes):
            ranges.append((start, index))
            start, used = index, 0
        used += cost
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def _message_ranges(payloads: Sequence[bytes], limits: Limits) -> list[tuple[int, int]]:
    return split_ranges(
        [len(p) for p in payloads], limits.max_items_per_message, message_budget(limits)
    )


def embed_requests(
    payloads: Sequence[bytes], limits: Limits, options: embed_pb2.EmbedOptions
) -> list[tuple[int, int, embed_pb2.EmbedRequest]]:
    """The unary ``Embed`` requests for a list of texts, within the server's limits:
    ``(start, stop, request)`` with texts ``payloads[start:stop]``."""
    return [
        (start, stop, embed_pb2.EmbedRequest(texts=payloads[start:stop], options=options))
        for start, stop in _message_ranges(payloads, limits)
    ]


def tokenize_requests(
    payloads: Sequence[bytes], limits: Limits, model: str | None, max_length: int | None
) -> list[tuple[int, embed_pb2.TokenizeRequest]]:
    """The unary ``Tokenize`` requests for a list of texts: ``(start, request)``."""
    requests = []
    for start, stop in _message_ranges(payloads, limits):
        request = embed_pb2.TokenizeRequest(texts=payloads[start:stop], model=model or "")
        if max_length is not None:
            request.max_length = max_length
        requests.append((start, request))
    return requests


@dataclass
class Batch:
    """One stream request message: consecutive inputs starting at ``start``."""

    start: int
    payloads: list[bytes]
    local_errors: dict[int, EmbedServiceError] = field(default_factory=dict)

    @property
    def stop(self) -> int:
        """One past the last input index."""
        return self.start + len(self.payloads)

    def message(self, options: embed_pb2.EmbedOptions) -> embed_pb2.EmbedStreamRequest:
        """The request message (texts rejected locally are left out)."""
        request = embed_pb2.EmbedStreamRequest(options=options)
        for offset, payload in enumerate(self.payloads):
            index = self.start + offset
            if index not in self.local_errors:
                request.items.add(id=index, text=payload)
        return request


class Batcher:
    """Cut texts into :class:`Batch` es within the server's limits (items and bytes)."""

    def __init__(self, limits: Limits, batch_size: int | None) -> None:
        wanted = batch_size or limits.max_items_per_message
        self.max_items = max(1, min(wanted, limits.max_items_per_message))
        self.max_bytes = message_budget(limits)
        self.max_text_bytes = limits.max_text_bytes
        self._next_index = 0
        self._used = 0
        self._carry: tuple[bytes, EmbedServiceError | None] | None = None

    def next_batch(self, source: Iterator[Any]) -> Batch | None:
        """The next batch from a sync iterator, or None once it is exhausted."""
        batch = self._begin()
        while len(batch.payloads) < self.max_items:
            try:
                text = next(source)
            except StopIteration:
                break
            if not self._offer(batch, text):
                break
        return self._finish(batch)

    async def next_batch_async(self, source: AsyncIterator[Any]) -> Batch | None:
        """The next batch from an async iterator, or None once it is exhausted."""
        batch = self._begin()
        while len(batch.payloads) < self.max_items:
            try:
                text = await anext(source)
            except StopAsyncIteration:
                break
            if not self._offer(batch, text):
                break
        return self._finish(batch)

    def _begin(self) -> Batch:
        batch = Batch(self._next_index, [])
        self._used = 0
        if self._carry is not None:
            payload, local = self._carry
            self._carry = None
            self._add(batch, payload, local)
        return batch

    def _finish(self, batch: Batch) -> Batch | None:
        if not batch.payloads:
            return None
        self._next_index = batch.stop
        return batch

    def _offer(self, batch: Batch, text: Any) -> bool:
        payload, local = self._encode(text)
        cost = (0 if local else len(payload)) + ITEM_OVERHEAD_BYTES
        if batch.payloads and self._used + cost > self.max_bytes:
            self._carry = (payload, local)
            return False
        self._add(batch, payload, local)
        return True

    def _add(self, batch: Batch, payload: bytes, local: EmbedServiceError | None) -> None:
        index = batch.stop
        if local is not None:
            local.index = index
            batch.local_errors[index] = local
            payload = b""
        batch.payloads.append(payload)
        self._used += len(payload) + ITEM_OVERHEAD_BYTES

    def _encode(self, text: Any) -> tuple[bytes, EmbedServiceError | None]:
        if isinstance(text, str):
            payload = text.encode("utf-8")
        elif isinstance(text, bytes | bytearray | memoryview):
            payload = bytes(text)
        else:
            return b"", InvalidRequestError(f"texts must be str, got {type(text).__name__}")
        if len(payload) > self.max_text_bytes:
            return b"", TextTooLongError(
                f"text of {len(payload)} bytes; the server's limit is {self.max_text_bytes}"
            )
        return payload, None


def batch_results(batch: Batch, response: embed_pb2.EmbedStreamResponse) -> list[StreamResult]:
    """Per-input results of one answered batch, in input order: a vector or an error."""
    results: dict[int, StreamResult] = dict(batch.local_errors)
    if response.HasField("error"):
        for index in range(batch.start, batch.stop):
            results.setdefault(index, error_from_proto(response.error, index))
        return [results[index] for index in range(batch.start, batch.stop)]
    rows = decode_embeddings(response.embeddings, expected_rows=len(response.ids))
    for row, index in enumerate(response.ids):
        results[int(index)] = rows[row]
    for item in response.errors:
        results[int(item.id)] = error_from_proto(item.error, int(item.id))
    missing = [index for index in range(batch.start, batch.stop) if index not in results]
    if missing:
        raise InternalServerError(f"the server did not answer items {missing[:5]} of a message")
    return [results[index] for index in range(batch.start, batch.stop)]


def iter_outputs(results: list[StreamResult], return_errors: bool) -> Iterator[StreamResult]:
    """Yield results in order; an error is raised (or yielded when ``return_errors``)."""
    for result in results:
        if isinstance(result, EmbedServiceError) and not return_errors:
            raise result
        yield result
