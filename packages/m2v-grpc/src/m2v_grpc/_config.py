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
DEFAULT_MAX_HEALTH_STREAMS = 16


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
    health_port: int | None = None
    """A plaintext port serving only ``grpc.health.v1`` (``m2v serve --health-port``), for
    probes that cannot speak TLS or send tokens (kubelet); None: off, 0: any port."""
    health_host: str | None = None
    """Address of the health-only port; None: the same as ``host``."""
    max_health_streams: int = DEFAULT_MAX_HEALTH_STREAMS
    """Health ``Watch`` and reflection streams open at once per server process (its main and
    health ports together), beyond which a new one is refused (RESOURCE_EXHAUSTED); they
    need no token, so they get a budget of their own apart from
    ``limits.max_concurrent_requests``."""
    memory_map: bool = False
    """Serve the models' tables from a memory map of their files (``m2v serve
    --memory-map``) instead of a copy in each process's memory.  Saves the copy (one per
    process), but truncating or rewriting a served ``model.safetensors`` in place then
    kills the process with SIGBUS; see docs/grpc.md, "Model files under a running server"."""
    otel: bool = False
    """OpenTelemetry tracing spans (``m2v serve --otel``) through the global tracer
    provider; needs the extra ``m2v-grpc[otel]`` (checked at start-up)."""

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
        if self.max_health_streams < 1:
            raise ConfigError("max_health_streams must be at least 1")
        if self.grace_seconds < 0:
            raise ConfigError("grace period must not be negative")
        for number, token in enumerate(self.tokens, start=1):
            check_token(token, number)


MIN_TOKEN_LENGTH = 32
"""Shortest bearer token a server accepts (``openssl rand -hex 32`` gives 64 characters)."""

MIN_TOKEN_DISTINCT_CHARACTERS = 8
"""Fewest distinct characters in a token: refuses ``aaaa...`` and ``12121212...``."""

PLACEHOLDER_MARKERS: tuple[str, ...] = (
    "replace-me",
    "replace_me",
    "replaceme",
    "change-me",
    "change_me",
    "changeme",
    "placeholder",
    "your-token",
    "your_token",
    "example",
)
"""Parts of a token (case-insensitive) that mark it as a documentation placeholder."""


def check_token(token: str, number: int = 1) -> None:
    """Refuse a bearer token that is empty, has whitespace, is short or is a placeholder.

    ``number`` (1-based) names the token in the error; the token itself is never echoed.
    Rules: no whitespace, at least :data:`MIN_TOKEN_LENGTH` characters, at least
    :data:`MIN_TOKEN_DISTINCT_CHARACTERS` distinct characters, none of
    :data:`PLACEHOLDER_MARKERS`.
    """
    hint = "generate one with: openssl rand -hex 32"
    if not token or any(c.isspace() for c in token):
        raise ConfigError(f"auth token #{number} must be non-empty and contain no whitespace")
    lowered = token.lower()
    for marker in PLACEHOLDER_MARKERS:
        if marker in lowered:
            raise ConfigError(
                f"auth token #{number} looks like a placeholder (it contains {marker!r}); "
                f"put a random token in the token file or Secret ({hint})"
            )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"auth token #{number} has {len(token)} characters; at least "
            f"{MIN_TOKEN_LENGTH} are required ({hint})"
        )
    if len(set(token)) < MIN_TOKEN_DISTINCT_CHARACTERS:
        raise ConfigError(
            f"auth token #{number} uses only {len(set(token))} distinct characters; "
            f"at least {MIN_TOKEN_DISTINCT_CHARACTERS} are required ({hint})"
        )


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
