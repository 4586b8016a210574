"""Addresses, and the port a multi-process server's workers share.

The supervisor of ``m2v serve --workers N`` decides the port before any worker starts:

1. a port given explicitly must be free: a plain bind (no ``SO_REUSEPORT``) fails if any
   socket listens there, even another server's ``SO_REUSEPORT`` group, so a taken port
   fails loudly here as it does in a single-process server;
2. it then binds a socket with ``SO_REUSEPORT`` and never listens on it (port 0: the kernel
   picks a free port and this socket holds it), so the workers, which bind with
   ``grpc.so_reuseport`` 1, get that concrete port, and no other program can take it while
   they start.  A bound socket that does not listen receives no connections.

Standard library only: the supervisor imports no grpc.
"""

from __future__ import annotations

import socket

from m2v_grpc._errors import ConfigError, ServerStartError


def format_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


class PortReservation:
    """A bound, never listening ``SO_REUSEPORT`` socket holding :attr:`port`."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket: socket.socket | None = sock
        self.port = int(sock.getsockname()[1])

    def close(self) -> None:
        """Release the socket (the workers' listeners keep the port)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def reserve_port(host: str, port: int) -> PortReservation:
    """Check that ``host:port`` is free and hold it for workers binding with SO_REUSEPORT.

    Raises ConfigError where SO_REUSEPORT does not exist and ServerStartError when the
    address cannot be used (taken port, unknown host).
    """
    reuse_port = getattr(socket, "SO_REUSEPORT", None)
    if reuse_port is None:  # pragma: no cover - Windows
        raise ConfigError("several server processes need SO_REUSEPORT, missing on this platform")
    address = format_address(host, port)
    try:
        family, kind, proto, _name, sockaddr = socket.getaddrinfo(
            host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as error:
        raise ServerStartError(f"cannot listen on {address}: {error}") from error
    try:
        if port:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does
                probe.bind(sockaddr)
        held = socket.socket(family, kind, proto)
        try:
            held.setsockopt(socket.SOL_SOCKET, reuse_port, 1)
            held.bind(sockaddr)
        except OSError:
            held.close()
            raise
    except OSError as error:
        raise ServerStartError(
            f"cannot listen on {address}: {error.strerror} (port in use?)"
        ) from error
    return PortReservation(held)
