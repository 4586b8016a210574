"""m2v-grpc: a streaming gRPC embedding service for m2v static models, and its clients.

Server: ``m2v serve --model NAME=PATH [--workers N]`` (or :class:`EmbedServer` /
:func:`serve` in code, :func:`run_server` for several processes).
Clients: :class:`EmbedClient` (blocking) and :class:`AsyncEmbedClient` (asyncio)::

    from m2v_grpc import EmbedClient

    with EmbedClient("localhost:50051") as client:
        vectors = client.embed(["a sentence", "another one"])     # float32 [2, dims]
        for vector in client.embed_stream(open("corpus.txt")):    # bounded memory
            ...

The wire contract is ``proto/m2v/embed/v1/embed.proto`` (package ``m2v.embed.v1``).
Errors are typed (:class:`EmbedServiceError` and subclasses) with stable ``code`` s.

Names are imported lazily, so ``import m2v_grpc`` (and the ``m2v`` command's start-up)
does not load grpc or numpy until a name is used.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from m2v_grpc._aio_client import AsyncEmbedClient
    from m2v_grpc._client import EmbedClient
    from m2v_grpc._client_core import RetryPolicy, TLSOptions
    from m2v_grpc._config import Limits, ModelSpec, ServerConfig, TLSConfig
    from m2v_grpc._errors import (
        AuthenticationError,
        CallCancelledError,
        CodecError,
        ConfigError,
        DeadlineExceededError,
        EmbedServiceError,
        EmptyBatchError,
        InternalServerError,
        InvalidDimensionsError,
        InvalidDtypeError,
        InvalidMaxLengthError,
        InvalidRequestError,
        InvalidUTF8Error,
        MalformedRequestError,
        MessageTooLargeError,
        OverloadedError,
        ServerStartError,
        TextTooLongError,
        TooManyItemsError,
        UnavailableError,
        UnknownModelError,
    )
    from m2v_grpc._info import ModelInfo, ServerInfo
    from m2v_grpc._server import EmbedServer, serve
    from m2v_grpc._supervisor import run_server

__version__ = _version("m2v-grpc")
"""This package's version, read from its installed metadata (one source: pyproject.toml)."""

_EXPORTS: dict[str, str] = {
    "AsyncEmbedClient": "m2v_grpc._aio_client",
    "EmbedClient": "m2v_grpc._client",
    "RetryPolicy": "m2v_grpc._client_core",
    "TLSOptions": "m2v_grpc._client_core",
    "Limits": "m2v_grpc._config",
    "ModelSpec": "m2v_grpc._config",
    "ServerConfig": "m2v_grpc._config",
    "TLSConfig": "m2v_grpc._config",
    "AuthenticationError": "m2v_grpc._errors",
    "CodecError": "m2v_grpc._errors",
    "ConfigError": "m2v_grpc._errors",
    "ServerStartError": "m2v_grpc._errors",
    "CallCancelledError": "m2v_grpc._errors",
    "DeadlineExceededError": "m2v_grpc._errors",
    "EmbedServiceError": "m2v_grpc._errors",
    "EmptyBatchError": "m2v_grpc._errors",
    "InternalServerError": "m2v_grpc._errors",
    "InvalidDimensionsError": "m2v_grpc._errors",
    "InvalidDtypeError": "m2v_grpc._errors",
    "InvalidMaxLengthError": "m2v_grpc._errors",
    "InvalidRequestError": "m2v_grpc._errors",
    "InvalidUTF8Error": "m2v_grpc._errors",
    "MalformedRequestError": "m2v_grpc._errors",
    "MessageTooLargeError": "m2v_grpc._errors",
    "OverloadedError": "m2v_grpc._errors",
    "TextTooLongError": "m2v_grpc._errors",
    "TooManyItemsError": "m2v_grpc._errors",
    "UnavailableError": "m2v_grpc._errors",
    "UnknownModelError": "m2v_grpc._errors",
    "ModelInfo": "m2v_grpc._info",
    "ServerInfo": "m2v_grpc._info",
    "EmbedServer": "m2v_grpc._server",
    "serve": "m2v_grpc._server",
    "run_server": "m2v_grpc._supervisor",
}

__all__ = [
    "AsyncEmbedClient",
    "AuthenticationError",
    "CallCancelledError",
    "CodecError",
    "ConfigError",
    "DeadlineExceededError",
    "EmbedClient",
    "EmbedServer",
    "EmbedServiceError",
    "EmptyBatchError",
    "InternalServerError",
    "InvalidDimensionsError",
    "InvalidDtypeError",
    "InvalidMaxLengthError",
    "InvalidRequestError",
    "InvalidUTF8Error",
    "Limits",
    "MalformedRequestError",
    "MessageTooLargeError",
    "ModelInfo",
    "ModelSpec",
    "OverloadedError",
    "RetryPolicy",
    "ServerConfig",
    "ServerInfo",
    "ServerStartError",
    "TLSConfig",
    "TLSOptions",
    "TextTooLongError",
    "TooManyItemsError",
    "UnavailableError",
    "UnknownModelError",
    "__version__",
    "run_server",
    "serve",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'm2v_grpc' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
