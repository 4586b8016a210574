"""``m2v serve``: the subcommand m2v-grpc contributes to the ``m2v`` command.

Registration stays light (argparse only): grpc, numpy and the models are imported inside
``run``, so ``m2v --help`` does not pay for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOKEN_ENV = "M2V_GRPC_AUTH_TOKEN"
"""Environment variable holding one bearer token (alternative to ``--auth-token-file``)."""

_EPILOG = f"""\
examples:
  m2v serve --model potion=./potion-base-8M
  m2v serve --model small=./potion-base-8M --model big=./potion-base-32M \\
            --host 0.0.0.0 --port 50051 --metrics-port 9090
  {TOKEN_ENV}="$(openssl rand -hex 32)" m2v serve --model potion=./potion-base-8M \\
            --tls-cert server.pem --tls-key server.key \\
            --health-port 50052 --health-host 0.0.0.0     # plaintext health for probes
  m2v serve --model potion=./potion-base-8M --workers auto     # one process per core
  m2v serve --model potion=./potion-base-8M --http-port 8080   # + OpenAI-compatible HTTP

The first --model is the default model.  Health (grpc.health.v1) is NOT_SERVING until the
models are loaded and while draining; SIGTERM drains: new calls get UNAVAILABLE, every
accepted item is answered, streams end OK, then the process exits within --grace seconds.
With --workers N, N server processes share the port (SO_REUSEPORT spreads connections over
them); SIGTERM drains every one, and a worker that dies stops the whole server (status 1).
Bearer tokens must have at least 32 characters; placeholders are refused at start-up.
Health watches and reflection streams (no token needed) have a budget of their own
(--max-health-streams), so they cannot crowd out health checks or embedding calls.
Models are read into memory at start-up: a model file changed while the server runs is
ignored (restart to serve the new file); --memory-map maps them instead (less memory, but a
truncated file kills the server).
Logs are JSON lines on stderr.
"""


def register_serve(subparsers: Any) -> None:
    """Add ``m2v serve`` to the ``m2v`` command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve models over gRPC (streaming embedding service)",
        description="Serve static embedding models over gRPC (m2v.embed.v1.EmbedService).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=run_serve)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``m2v serve``."""
    from m2v_grpc import _config as defaults  # stdlib-only module

    parser.add_argument(
        "--model",
        dest="models",
        action="append",
        required=True,
        metavar="NAME=PATH",
        help="a model to serve under NAME (repeatable; the first is the default)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=50051, help="port (0: any free port; default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=parse_workers,
        default=1,
        metavar="N|auto",
        help="server processes sharing the port (auto: one per core this process may use; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="encoding threads per server process (default: min(4, cores))",
    )
    parser.add_argument(
        "--memory-map",
        action="store_true",
        help="serve model tables from a memory map of their files instead of a copy in each "
        "process (saves the copy; but truncating or rewriting a served model.safetensors in "
        "place then kills the server with SIGBUS; default: copy)",
    )
    limits = parser.add_argument_group("limits (published by GetInfo)")
    limits.add_argument(
        "--max-items-per-message", type=int, default=defaults.DEFAULT_MAX_ITEMS_PER_MESSAGE
    )
    limits.add_argument("--max-message-bytes", type=int, default=defaults.DEFAULT_MAX_MESSAGE_BYTES)
    limits.add_argument("--max-text-bytes", type=int, default=defaults.DEFAULT_MAX_TEXT_BYTES)
    limits.add_argument(
        "--max-concurrent-requests", type=int, default=defaults.DEFAULT_MAX_CONCURRENT_REQUESTS
    )
    limits.add_argument(
        "--max-in-flight-per-stream", type=int, default=defaults.DEFAULT_MAX_IN_FLIGHT_PER_STREAM
    )
    security = parser.add_argument_group("security")
    security.add_argument(
        "--auth-token-file",
        type=Path,
        default=None,
        help=f"file with accepted bearer tokens, one per line, each at least "
        f"{defaults.MIN_TOKEN_LENGTH} characters (or set {TOKEN_ENV})",
    )
    security.add_argument(
        "--tls-cert", type=Path, default=None, help="server certificate chain (PEM)"
    )
    security.add_argument("--tls-key", type=Path, default=None, help="server private key (PEM)")
    security.add_argument(
        "--tls-client-ca",
        type=Path,
        default=None,
        help="CA bundle (PEM) for client certificates: enables mutual TLS",
    )
    ops = parser.add_argument_group("operations")
    ops.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port"
    )
    ops.add_argument(
        "--metrics-host", default="0.0.0.0", help="address for /metrics (default: %(default)s)"
    )
    ops.add_argument(
        "--grace",
        type=float,
        default=defaults.DEFAULT_GRACE_SECONDS,
        help="seconds to finish accepted work on SIGTERM (default: %(default)s)",
    )
    ops.add_argument(
        "--max-connection-age",
        type=float,
        default=None,
        help="close client connections after this many seconds so load spreads over new replicas",
    )
    ops.add_argument("--no-reflection", action="store_true", help="disable gRPC server reflection")
    ops.add_argument(
        "--health-port",
        type=int,
        default=None,
        help="also serve grpc.health.v1 alone, in plaintext and without tokens, on this port: "
        "for probes that cannot speak TLS (kubelet); 0: any free port (default: off)",
    )
    ops.add_argument(
        "--health-host", default=None, help="address for --health-port (default: --host)"
    )
    ops.add_argument(
        "--max-health-streams",
        type=int,
        default=defaults.DEFAULT_MAX_HEALTH_STREAMS,
        help="health Watch and reflection streams open at once per server process; more are "
        "refused with RESOURCE_EXHAUSTED (default: %(default)s)",
    )
    http = parser.add_argument_group("OpenAI-compatible HTTP endpoint (extra m2v-grpc[http])")
    http.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="also serve POST /v1/embeddings, GET /v1/models, /health and /metrics over HTTP "
        "on this port, with the same models, limits, tokens and admission (0: any free port)",
    )
    http.add_argument(
        "--http-host", default=None, help="address for the HTTP endpoint (default: --host)"
    )
    ops.add_argument(
        "--otel",
        action="store_true",
        help="OpenTelemetry tracing spans per call and stream message (m2v.embed, "
        "m2v.tokenize, m2v.embed_stream[.message], m2v.http.embeddings) through the global "
        "tracer provider, e.g. under opentelemetry-instrument; needs the extra m2v-grpc[otel]",
    )
    ops.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))


def parse_workers(text: str) -> int:
    """``--workers``: a positive number, or ``auto`` for the cores this process may use."""
    from m2v_grpc._config import available_cores

    if text.strip().lower() == "auto":
        return available_cores()
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1 server process")
    return value


def build_config(args: argparse.Namespace) -> Any:
    """Turn parsed arguments into a :class:`ServerConfig` (raises ConfigError)."""
    from m2v_grpc._config import (
        Limits,
        ModelSpec,
        ServerConfig,
        TLSConfig,
        read_tokens,
    )
    from m2v_grpc._errors import ConfigError

    tokens: tuple[str, ...] = ()
    if args.auth_token_file is not None:
        tokens = read_tokens(args.auth_token_file)
    elif os.environ.get(TOKEN_ENV, "").strip():
        tokens = (os.environ[TOKEN_ENV].strip(),)
    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise ConfigError("--tls-cert and --tls-key go together")
        tls = TLSConfig(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca)
    elif args.tls_client_ca:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key")
    extra: dict[str, Any] = {} if args.threads is None else {"workers": args.threads}
    return ServerConfig(
        models=tuple(ModelSpec.parse(text) for text in args.models),
        host=args.host,
        port=args.port,
        limits=Limits(
            max_items_per_message=args.max_items_per_message,
            max_message_bytes=args.max_message_bytes,
            max_text_bytes=args.max_text_bytes,
            max_concurrent_requests=args.max_concurrent_requests,
            max_in_flight_per_stream=args.max_in_flight_per_stream,
        ),
        tokens=tokens,
        tls=tls,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        grace_seconds=args.grace,
        max_connection_age_seconds=args.max_connection_age,
        reflection=not args.no_reflection,
        processes=args.workers,
        http_port=args.http_port,
        http_host=args.http_host,
        health_port=args.health_port,
        health_host=args.health_host,
        max_health_streams=args.max_health_streams,
        memory_map=args.memory_map,
        otel=args.otel,
        **extra,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT; 0 after a clean drain, 1 on errors."""
    from m2v_format import M2VError

    from m2v_grpc._logging import configure, log_event
    from m2v_grpc._supervisor import run_server

    configure(args.log_level)
    try:
        config = build_config(args)
        return run_server(config)
    except M2VError as error:  # logged for log collectors, then reported by the dispatcher
        log_event("server.failed", 40, code=error.code, error=str(error))
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m m2v_grpc [serve] ...``: the same as ``m2v serve ...``;
    ``python -m m2v_grpc health ...``: one health check (see ``m2v_grpc._probe``)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["health"]:
        from m2v_grpc._probe import main as health_main

        return health_main(arguments[1:])
    if arguments[:1] == ["serve"]:
        arguments = arguments[1:]
    parser = argparse.ArgumentParser(
        prog="python -m m2v_grpc",
        description="Serve static embedding models over gRPC.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    from m2v_format.cli import run_command

    return run_command("m2v serve", run_serve, parser.parse_args(arguments))
