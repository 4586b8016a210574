"""Bearer-token authentication: an aio server interceptor.

Rule: every call must carry the metadata ``authorization: Bearer <token>`` with one of the
configured tokens, compared with :func:`hmac.compare_digest` against every token (no early
exit, so timing does not reveal which token nearly matched).  Health checks and reflection
need no token, so that load balancers, Kubernetes probes and grpcurl discovery work.
A refused call ends with UNAUTHENTICATED and ``m2v-error-code: unauthenticated``; the
request is never deserialised and no handler runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc import aio

from m2v_grpc._errors import ERROR_CODE_METADATA_KEY, AuthenticationError

EXEMPT_PREFIXES: tuple[str, ...] = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
)
"""Methods that need no token."""

_SCHEME = "bearer "


def bearer_problem(
    header: str | None, tokens: Sequence[bytes], where: str = "metadata"
) -> str | None:
    """None if the ``authorization`` value ``header`` carries one of ``tokens``, else why not.

    Shared by gRPC (metadata) and HTTP (``where="header"``); every token is compared.
    """
    if header is None:
        return f"missing 'authorization: Bearer <token>' {where}"
    if header[: len(_SCHEME)].lower() != _SCHEME:
        return f"the authorization {where} must use the Bearer scheme"
    presented = header[len(_SCHEME) :].strip().encode("utf-8")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented, token)
    return None if matched else "invalid bearer token"


def _reject_trailers() -> tuple[tuple[str, str], ...]:
    return ((ERROR_CODE_METADATA_KEY, AuthenticationError.code),)


async def _deny(context: aio.ServicerContext[Any, Any], message: str) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, message, _reject_trailers())


def _denying_handler(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` that aborts with UNAUTHENTICATED."""
    if handler.request_streaming and handler.response_streaming:

        async def stream_stream(_requests: Any, context: Any) -> None:
            await _deny(context, message)

        return grpc.stream_stream_rpc_method_handler(stream_stream)
    if handler.request_streaming:

        async def stream_unary(_requests: Any, context: Any) -> None:
            await _deny(context, message)

        return grpc.stream_unary_rpc_method_handler(stream_unary)
    if handler.response_streaming:

        async def unary_stream(_request: Any, context: Any) -> None:
            await _deny(context, message)

        return grpc.unary_stream_rpc_method_handler(unary_stream)

    async def unary_unary(_request: Any, context: Any) -> None:
        await _deny(context, message)

    return grpc.unary_unary_rpc_method_handler(unary_unary)


class BearerTokenInterceptor(aio.ServerInterceptor):  # type: ignore[misc,unused-ignore]
    """Refuse calls without a valid ``authorization: Bearer <token>`` header."""

    def __init__(self, tokens: Sequence[str], on_reject: Callable[[], None] | None = None) -> None:
        if not tokens:
            raise ValueError("at least one token is required")
        self._tokens = tuple(token.encode("utf-8") for token in tokens)
        self._on_reject = on_reject

    def check(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
        """None if ``metadata`` carries a valid token, else why not."""
        header = None
        for key, value in metadata or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode("latin-1")
                break
        return bearer_problem(header, self._tokens)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Pass exempt and authenticated calls on; answer the rest with UNAUTHENTICATED."""
        method: str = handler_call_details.method
        if method.startswith(EXEMPT_PREFIXES):
            return await continuation(handler_call_details)
        problem = self.check(handler_call_details.invocation_metadata)
        handler = await continuation(handler_call_details)
        if problem is None or handler is None:
            return handler
        if self._on_reject is not None:
            self._on_reject()
        return _denying_handler(handler, problem)
