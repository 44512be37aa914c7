"""Whether a server can listen on an address, asked before it loads anything: ``pathatlas serve`` and ``pathatlas mcp
--http`` loaded the index and the models first, then uvicorn logged "[Errno 98] address already in use" among its INFO
lines and exited."""

from __future__ import annotations

import errno
import socket

from pathatlas.errors import BadInputError


def ensure_listenable(host: str, port: int, host_option: str = "--host", port_option: str = "--port") -> None:
    """Bind ``host``:``port`` once and let go, as uvicorn (asyncio's ``create_server``) binds it: every address the
    host name gives, with SO_REUSEADDR, IPv6 sockets IPv6 only. A refusal is one line naming the option to change;
    an address taken between this check and the server's start is still uvicorn's to report."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        known = "is no host name this machine knows: give an address of this machine"
        raise BadInputError(f"{host_option} {host} {known}, e.g. 127.0.0.1") from None
    for family, kind, protocol, _, address in dict.fromkeys(addresses):
        try:
            bind_once(family, kind, protocol, address)
        except OSError as exc:
            raise BadInputError(refusal(exc, host, port, host_option, port_option)) from None


def bind_once(family: int, kind: int, protocol: int, address: tuple) -> None:
    """Bind a socket to ``address`` with the options asyncio sets, then close it: nothing listened, nothing lingers."""
    try:
        probe = socket.socket(family, kind, protocol)
    except OSError:  # a family this machine lacks (IPv6 turned off): asyncio passes it by as well
        return
    with probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind(address)


def refusal(exc: OSError, host: str, port: int, host_option: str, port_option: str) -> str:
    """Why binding failed, in one line that says which option to change."""
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host_option} {host} is not an address of this machine: give one of its own, e.g. 127.0.0.1"
    where = f"cannot listen on {host} port {port}"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: it is in use (another server?); give another {port_option}"
    if exc.errno == errno.EACCES and port < 1024:
        return f"{where}: ports below 1024 need administrator rights; give another {port_option}, above 1023"
    return f"{where}: {(exc.strerror or str(exc)).lower()}"
