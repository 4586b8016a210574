"""A budget of open health-watch and reflection streams, apart from the embedding service.

Health and reflection need no token, so anyone who can reach the port can open their
long-lived streams (``grpc.health.v1.Health/Watch``, ``ServerReflectionInfo``).  Counted
against one global gRPC limit, a few dozen of them used to starve everything else: health
``Check`` (liveness, readiness), ``GetInfo`` and authenticated ``Embed`` calls all got
RESOURCE_EXHAUSTED.  Here those streams get a small budget of their own
(``ServerConfig.max_health_streams``): a stream beyond it ends at once with
RESOURCE_EXHAUSTED (``m2v-error-code: overloaded``), and the embedding service is admitted
by :class:`m2v_grpc._admission.Admission`.  gRPC's global limit is then sized so that the
long-lived calls together can never reach it (see ``m2v_grpc._server``): unary health
``Check`` always finds room.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from m2v_grpc._errors import ERROR_CODE_METADATA_KEY, OverloadedError

BUDGETED_METHODS: frozenset[str] = frozenset(
    {
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    }
)
"""The long-lived calls that need no token and share the budget."""


class StreamBudget:
    """Counts open budgeted streams (event loop thread only)."""

    def __init__(self, limit: int, on_reject: Callable[[], None] | None = None) -> None:
        if limit < 1:
            raise ValueError("the stream budget must be at least 1")
        self.limit = limit
        self.open = 0
        self.rejected = 0
        self._on_reject = on_reject

    def try_enter(self) -> bool:
        """Take a place (True) or count a refusal (False)."""
        if self.open >= self.limit:
            self.rejected += 1
            if self._on_reject is not None:
                self._on_reject()
            return False
        self.open += 1
        return True

    def leave(self) -> None:
        """Give a place back."""
        self.open = max(0, self.open - 1)

    def refusal(self) -> str:
        """The message a refused stream ends with."""
        return (
            f"too many open health-watch and reflection streams (limit {self.limit}); "
            "use grpc.health.v1.Health/Check, or close idle streams"
        )


class StreamBudgetInterceptor(aio.ServerInterceptor):  # type: ignore[misc,unused-ignore]
    """Wrap the budgeted methods' handlers so each stream holds a place while open."""

    def __init__(self, budget: StreamBudget) -> None:
        self.budget = budget

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Pass other methods on unchanged."""
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method not in BUDGETED_METHODS:
            return handler
        return _budgeted(handler, self.budget)


async def _refuse(context: Any, budget: StreamBudget) -> None:
    await context.abort(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        budget.refusal(),
        ((ERROR_CODE_METADATA_KEY, OverloadedError.code),),
    )


def _budgeted(handler: grpc.RpcMethodHandler, budget: StreamBudget) -> grpc.RpcMethodHandler:
    """A handler like ``handler`` (unary-stream or stream-stream) that holds a place."""
    streaming_requests = bool(handler.request_streaming)
    behaviour = handler.stream_stream if streaming_requests else handler.unary_stream
    if behaviour is None:  # a unary response: not long-lived, not budgeted
        return handler

    if inspect.isasyncgenfunction(behaviour):

        async def generator(request: Any, context: Any) -> AsyncIterator[Any]:
            if not budget.try_enter():
                await _refuse(context, budget)
            try:
                async for response in behaviour(request, context):
                    yield response
            finally:
                budget.leave()

        wrapped: Callable[..., Any] = generator
    else:

        async def coroutine(request: Any, context: Any) -> Any:
            if not budget.try_enter():
                await _refuse(context, budget)
            try:
                return await behaviour(request, context)
            finally:
                budget.leave()

        wrapped = coroutine
    make = (
        grpc.stream_stream_rpc_method_handler
        if streaming_requests
        else grpc.unary_stream_rpc_method_handler
    )
    return make(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
