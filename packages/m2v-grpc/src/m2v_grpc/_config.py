"""Server configuration: the served models, the address, limits, TLS, auth and metrics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from m2v_grpc._errors import ConfigError

DEFAULT_MAX_ITEMS_PER_MESSAGE = 2048
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_TEXT_BYTES = 1024 * 1024
DEFAULT_MAX_CONCURRENT_REQUESTS = 64
DEFAULT_MAX_IN_FLIGHT_PER_STREAM = 4
DEFAULT_GRACE_SECONDS = 10.0


def available_cores() -> int:
    """The number of cores this process may run on (its CPU affinity), at least 1.

    A CPU *quota* (a container's ``--cpus``, a Kubernetes CPU limit) is not visible here:
    in a container give ``--workers`` explicitly.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Encoding threads per server process unless configured: min(4, cores)."""
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class ModelSpec:
    """One model to serve: the name clients use and the model folder (or hub id)."""

    name: str
    path: str

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """Parse ``NAME=PATH`` (or a bare ``PATH``, named after its last path component)."""
        name, sep, path = text.partition("=")
        if not sep:
            path = text
            name = Path(text.rstrip("/")).name
        name, path = name.strip(), path.strip()
        if not name or not path:
            raise ConfigError(f"--model expects NAME=PATH, got {text!r}")
        return cls(name=name, path=path)


@dataclass(frozen=True)
class Limits:
    """Limits the server enforces and publishes through GetInfo."""

    max_items_per_message: int = DEFAULT_MAX_ITEMS_PER_MESSAGE
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    max_in_flight_per_stream: int = DEFAULT_MAX_IN_FLIGHT_PER_STREAM

    def __post_init__(self) -> None:
        for name in (
            "max_items_per_message",
            "max_message_bytes",
            "max_text_bytes",
            "max_concurrent_requests",
            "max_in_flight_per_stream",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1")


@dataclass(frozen=True)
class TLSConfig:
    """PEM files for TLS; with ``client_ca`` clients must present a certificate (mTLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``m2v serve`` needs.  The first model is the default one.

    ``workers`` is the number of encoding *threads* in each server process (``m2v serve
    --threads``); ``processes`` the number of server processes sharing the port (``m2v
    serve --workers``; more than 1 needs :func:`m2v_grpc.run_server`, which starts them).
    Limits hold per process: with 2 processes, up to 2 x ``max_concurrent_requests``
    calls are served at once.
    """

    models: tuple[ModelSpec, ...]
    host: str = "127.0.0.1"
    port: int = 0
    limits: Limits = field(default_factory=Limits)
    workers: int = field(default_factory=default_threads)
    tokens: tuple[str, ...] = ()
    tls: TLSConfig | None = None
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    max_connection_age_seconds: float | None = None
    reflection: bool = True
    processes: int = 1
    http_port: int | None = None
    """OpenAI-compatible HTTP endpoint (``m2v serve --http-port``); None: off, 0: any port."""
    http_host: str | None = None
    """Address of the HTTP endpoint; None: the same as ``host``."""

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("at least one --model NAME=PATH is required")
        names = [spec.name for spec in self.models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"model names must be unique, repeated: {', '.join(duplicates)}")
        if self.workers < 1:
            raise ConfigError("encoding threads (ServerConfig.workers) must be at least 1")
        if self.processes < 1:
            raise ConfigError("server processes (ServerConfig.processes) must be at least 1")
        if self.grace_seconds < 0:
            raise ConfigError("grace period must not be negative")
        if any(not token or any(c.isspace() for c in token) for token in self.tokens):
            raise ConfigError("auth tokens must be non-empty and contain no whitespace")


def read_tokens(path: str | Path) -> tuple[str, ...]:
    """Read bearer tokens from a file: one per line; blank lines and ``#`` comments skipped.

    Several tokens may be valid at once (rotation: add the new one, roll clients, remove
    the old one).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read token file {path}: {error.strerror}") from error
    tokens = tuple(
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    if not tokens:
        raise ConfigError(f"token file {path} holds no token")
    return tokens
