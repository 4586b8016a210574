"""What GetInfo tells a client, as plain dataclasses (no generated types in the public API)."""

from __future__ import annotations

from dataclasses import dataclass

from m2v_grpc._config import Limits
from m2v_grpc._generated.m2v.embed.v1 import embed_pb2


@dataclass(frozen=True)
class ModelInfo:
    """Metadata of one served model."""

    name: str
    dims: int
    dtype: str
    vocabulary_size: int
    normalize_default: bool
    max_tokens: int | None
    """Tokens kept per text by default; None: no truncation."""
    is_default: bool


@dataclass(frozen=True)
class ServerInfo:
    """Server version, enforced limits and served models (default model first)."""

    server_version: str
    limits: Limits
    models: tuple[ModelInfo, ...]

    def model(self, name: str | None) -> ModelInfo:
        """The model a request naming ``name`` (None or empty: the default) gets.

        Raises KeyError if no such model is served.
        """
        for info in self.models:
            if (info.is_default and not name) or info.name == name:
                return info
        raise KeyError(name)

    @classmethod
    def from_proto(cls, message: embed_pb2.GetInfoResponse) -> ServerInfo:
        """Convert a GetInfoResponse."""
        limits = message.limits
        models = sorted(
            (
                ModelInfo(
                    name=m.name,
                    dims=m.dims,
                    dtype=m.dtype,
                    vocabulary_size=m.vocabulary_size,
                    normalize_default=m.normalize_default,
                    max_tokens=m.max_tokens or None,
                    is_default=m.is_default,
                )
                for m in message.models
            ),
            key=lambda m: not m.is_default,
        )
        return cls(
            server_version=message.server_version,
            limits=Limits(
                max_items_per_message=limits.max_items_per_message or 1,
                max_message_bytes=limits.max_message_bytes or 1,
                max_text_bytes=limits.max_text_bytes or 1,
                max_concurrent_requests=limits.max_concurrent_requests or 1,
                max_in_flight_per_stream=limits.max_in_flight_per_stream or 1,
            ),
            models=tuple(models),
        )
