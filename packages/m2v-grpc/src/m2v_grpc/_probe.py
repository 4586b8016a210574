"""``python -m m2v_grpc health``: a one-shot grpc.health.v1 check for container HEALTHCHECKs.

Exit status 0 when the service is SERVING, 1 when it answers anything else (NOT_SERVING
while loading or draining, SERVICE_UNKNOWN), 2 when it cannot be reached in time.  It
speaks plaintext: point it at the health-only port (``m2v serve --health-port``) when the
main port uses TLS.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

SERVICE = "m2v.embed.v1.EmbedService"

_EPILOG = """\
examples:
  python -m m2v_grpc health                                  # 127.0.0.1:50051, the service
  python -m m2v_grpc health --address 127.0.0.1:50052         # the --health-port
  python -m m2v_grpc health --service ""                      # the whole server

exit status: 0 SERVING, 1 another status (loading, draining, unknown service),
2 unreachable or timed out.
"""


def check_health(address: str, service: str = SERVICE, timeout: float = 3.0) -> str:
    """The health status name of ``service`` at ``address`` (plaintext).

    Raises ``grpc.RpcError`` when the server cannot be reached within ``timeout`` seconds.
    """
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def main(argv: Sequence[str] | None = None) -> int:
    """Check once, print the status, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m m2v_grpc health",
        description="Ask a server's grpc.health.v1 service once (for container HEALTHCHECKs).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--address", default="127.0.0.1:50051", help="HOST:PORT (default: %(default)s)"
    )
    parser.add_argument(
        "--service", default=SERVICE, help="service to ask about (default: %(default)s)"
    )
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    import grpc

    try:
        status = check_health(args.address, args.service, args.timeout)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:  # the server does not know the service
            print(f"{args.address} {args.service}: SERVICE_UNKNOWN", file=sys.stderr)
            return 1
        print(f"{args.address}: unreachable ({error.code().name})", file=sys.stderr)
        return 2
    print(f"{args.address} {args.service or '(server)'}: {status}")
    return 0 if status == "SERVING" else 1
