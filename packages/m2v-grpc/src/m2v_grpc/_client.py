"""The blocking client: :class:`EmbedClient`.

``embed`` sends unary calls (a long list is split into messages within the server's
published limits) and retries them on UNAVAILABLE / overloaded; ``embed_stream`` keeps one
bidirectional stream busy with a bounded number of messages in flight and yields one
result per input, in input order, resending unanswered messages on a new stream when the
stream breaks or the server drains.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

import grpc
import numpy as np

from m2v_grpc._batching import (
    Batch,
    Batcher,
    StreamResult,
    batch_results,
    embed_requests,
    encode_texts,
    iter_outputs,
    tokenize_requests,
)
from m2v_grpc._client_core import (
    ClientSettings,
    RetryBudget,
    RetryPolicy,
    TLSOptions,
    Vector,
    build_options,
    check_texts_type,
    decode_embeddings,
    empty_result,
    error_from_rpc,
)
from m2v_grpc._codec import OutputDtypeName
from m2v_grpc._errors import (
    EmbedServiceError,
    InternalServerError,
    UnavailableError,
    UnknownModelError,
)
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2, embed_pb2_grpc
from m2v_grpc._info import ServerInfo

_T = TypeVar("_T")
_POLL_SECONDS = 0.05


class EmbedClient:
    """Blocking client of the m2v embedding service.

    Args:
        target: ``host:port`` (any gRPC target, e.g. ``dns:///embed.svc:50051``).
        token: bearer token sent as ``authorization: Bearer <token>``.
        tls: TLS settings (:class:`TLSOptions`); None: plaintext.
        timeout: default deadline per unary call in seconds (None: none).
        retry: backoff policy for retryable failures.
        channel_options: extra gRPC channel options.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        target: str,
        token: str | None = None,
        *,
        tls: TLSOptions | None = None,
        timeout: float | None = 30.0,
        retry: RetryPolicy | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._settings = ClientSettings(
            target=target,
            token=token,
            tls=tls,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            channel_options=tuple(channel_options),
        )
        options = self._settings.options()
        if tls is not None:
            self._channel = grpc.secure_channel(target, tls.credentials(), options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = embed_pb2_grpc.EmbedServiceStub(self._channel)
        self._metadata = self._settings.metadata()
        self._info: ServerInfo | None = None

    # -- plumbing ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def __enter__(self) -> EmbedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _retrying(self, call: Callable[..., _T], timeout: float | None, offset: int = 0) -> _T:
        budget = RetryBudget(self._settings.retry, timeout)
        while True:
            try:
                return call(timeout=budget.remaining())
            except grpc.RpcError as rpc_error:
                time.sleep(budget.pause(error_from_rpc(rpc_error, index_offset=offset)))

    def _timeout(self, timeout: float | None) -> float | None:
        return self._settings.timeout if timeout is None else timeout

    # -- API ---------------------------------------------------------------------------

    def info(self, *, refresh: bool = False, timeout: float | None = None) -> ServerInfo:
        """Server version, limits and models (cached after the first call)."""
        if self._info is None or refresh:
            response = self._retrying(
                partial(self._stub.GetInfo, embed_pb2.GetInfoRequest(), metadata=self._metadata),
                self._timeout(timeout),
            )
            self._info = ServerInfo.from_proto(response)
        return self._info

    def embed(
        self,
        texts: Sequence[str],
        model: str | None = None,
        *,
        normalize: bool | None = None,
        dimensions: int | None = None,
        dtype: OutputDtypeName = "float32",
        max_length: int | None = None,
        timeout: float | None = None,
    ) -> Vector:
        """Embed ``texts``: an array ``[len(texts), dims]``, one row per text, in order.

        ``float32``/``float16`` return that dtype; ``int8`` returns the dequantized float32
        vectors (4x less data on the wire); ``binary`` returns packed bits, ``uint8``
        ``[n, ceil(dims / 8)]``.  Options left as None use the model's defaults.  Lists
        larger than one message allows are split into several calls.  Raises a subclass of
        :class:`EmbedServiceError`; a bad text's ``index`` is its position in ``texts``.
        """
        check_texts_type(texts)
        info = self.info()
        options = build_options(model, normalize, dimensions, dtype, max_length)
        payloads = encode_texts(texts, info.limits)
        if not payloads:
            dims = dimensions or self._model_dims(info, model)
            return empty_result(dims, dtype)
        parts: list[Vector] = []
        for begin, stop, request in embed_requests(payloads, info.limits, options):
            response = self._retrying(
                partial(self._stub.Embed, request, metadata=self._metadata),
                self._timeout(timeout),
                offset=begin,
            )
            parts.append(decode_embeddings(response.embeddings, expected_rows=stop - begin))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def tokenize(
        self,
        texts: Sequence[str],
        model: str | None = None,
        *,
        max_length: int | None = None,
        timeout: float | None = None,
    ) -> list[list[int]]:
        """The token ids the model averages for each text."""
        check_texts_type(texts)
        info = self.info()
        payloads = encode_texts(texts, info.limits)
        result: list[list[int]] = []
        for begin, request in tokenize_requests(payloads, info.limits, model, max_length):
            response = self._retrying(
                partial(self._stub.Tokenize, request, metadata=self._metadata),
                self._timeout(timeout),
                offset=begin,
            )
            result.extend(list(entry.ids) for entry in response.tokens)
        return result

    def embed_stream(
        self,
        texts: Iterable[str],
        model: str | None = None,
        *,
        normalize: bool | None = None,
        dimensions: int | None = None,
        dtype: OutputDtypeName = "float32",
        max_length: int | None = None,
        batch_size: int | None = None,
        max_in_flight: int | None = None,
        return_errors: bool = False,
        timeout: float | None = None,
    ) -> Iterator[StreamResult]:
        """Embed a (possibly endless) iterable over one stream; yield one vector per text, in order.

        Texts are batched (``batch_size`` per message, default the server's limit) and at
        most ``max_in_flight`` messages (default: the server's per-stream window) are
        unanswered at once, so memory stays bounded however long the input.  A bad text
        raises its typed error when its turn comes (or, with ``return_errors``, the error
        is yielded in its place and the stream goes on).  If the stream breaks with a
        retryable status, or the server drains, unanswered messages are resent on a new
        stream (same retry policy); every text is yielded exactly once.  ``timeout``
        bounds the whole stream.
        """
        check_texts_type(texts)
        info = self.info()
        options = build_options(model, normalize, dimensions, dtype, max_length)
        window = max(1, max_in_flight or info.limits.max_in_flight_per_stream)
        run = _StreamRun(iter(texts), Batcher(info.limits, batch_size), options, window)
        budget = RetryBudget(self._settings.retry, timeout)
        while True:
            remaining = budget.remaining()
            requests = run.requests()
            call = self._stub.EmbedStream(requests, timeout=remaining, metadata=self._metadata)
            error: EmbedServiceError | None = None
            try:
                for response in call:
                    results = run.answered(response)
                    budget.progressed()
                    yield from iter_outputs(results, return_errors)
            except grpc.RpcError as rpc_error:
                error = error_from_rpc(rpc_error)
            finally:
                run.stop()
                call.cancel()
            run.raise_source_error()
            if run.finished():
                return
            if error is None:  # ended OK with messages unanswered: the server drained
                error = UnavailableError("the stream ended before every message was answered")
            time.sleep(budget.pause(error))
            run.requeue()

    @staticmethod
    def _model_dims(info: ServerInfo, model: str | None) -> int:
        try:
            return info.model(model).dims
        except KeyError:
            raise UnknownModelError(f"no model named {model!r} is served") from None


class _StreamRun:
    """State of one ``embed_stream`` across stream attempts (thread-safe).

    gRPC pulls request messages from :meth:`requests` on its own thread; the caller's
    thread consumes responses.  ``pending`` holds sent-but-unanswered batches in order;
    after a broken stream :meth:`requeue` puts them back in front of the rest of the input.
    """

    def __init__(
        self,
        source: Iterator[str],
        batcher: Batcher,
        options: embed_pb2.EmbedOptions,
        window: int,
    ) -> None:
        self._source = source
        self._batcher = batcher
        self._options = options
        self._window = window
        self._lock = threading.Lock()
        self._unsent: deque[Batch] = deque()
        self._pending: deque[Batch] = deque()
        self._exhausted = False
        self._source_error: BaseException | None = None
        self._slots = threading.Semaphore(window)
        self._stopped = threading.Event()

    def requests(self) -> Iterator[embed_pb2.EmbedStreamRequest]:
        """Request messages for one stream attempt; blocks while ``window`` are unanswered."""
        stopped = threading.Event()
        self._stopped = stopped
        slots = self._slots = threading.Semaphore(self._window)
        return self._generate(stopped, slots)

    def _generate(
        self, stopped: threading.Event, slots: threading.Semaphore
    ) -> Iterator[embed_pb2.EmbedStreamRequest]:
        while True:
            while not slots.acquire(timeout=_POLL_SECONDS):
                if stopped.is_set():
                    return
            with self._lock:
                if stopped.is_set():
                    return
                batch = self._next_batch()
                if batch is None:
                    return  # input done: half-close
                self._pending.append(batch)
                message = batch.message(self._options)
            yield message

    def _next_batch(self) -> Batch | None:
        if self._unsent:
            return self._unsent.popleft()
        if self._exhausted:
            return None
        try:
            batch = self._batcher.next_batch(self._source)
        except Exception as error:  # the caller's iterable failed: end the input, re-raise later
            self._source_error = error
            batch = None
        if batch is None:
            self._exhausted = True
        return batch

    def answered(self, response: embed_pb2.EmbedStreamResponse) -> list[StreamResult]:
        """Match a response to the oldest pending batch and free a window slot."""
        with self._lock:
            if not self._pending:
                raise InternalServerError("the server sent more responses than messages")
            batch = self._pending.popleft()
        self._slots.release()
        return batch_results(batch, response)

    def stop(self) -> None:
        """End the current attempt's request generator."""
        with self._lock:
            self._stopped.set()

    def requeue(self) -> None:
        """Put unanswered batches back in front of the input for the next attempt."""
        with self._lock:
            self._unsent.extendleft(reversed(self._pending))
            self._pending.clear()

    def finished(self) -> bool:
        """Every input was read and every batch answered."""
        with self._lock:
            return self._exhausted and not self._pending and not self._unsent

    def raise_source_error(self) -> None:
        """Re-raise an exception the caller's iterable raised while gRPC was reading it."""
        if self._source_error is not None:
            raise self._source_error
