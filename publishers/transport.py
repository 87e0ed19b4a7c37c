"""A requests transport that connects only to addresses ``netguard`` allows.

The check happens where the socket is opened: the connection resolves the host once, checks
every address, and connects to those very addresses (pinned), so DNS rebinding between a check
and the connection is not possible. Redirects are requests opening new connections, so every
hop is checked the same way; ``MAX_REDIRECTS`` bounds them. TLS still verifies the
certificate against the host name (SNI and hostname checks use the name, not the address).
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from publishers import netguard

MAX_REDIRECTS = 5


def _guarded_socket(conn: HTTPConnection) -> socket.socket:
    """Open a socket to the first reachable checked address of ``conn``'s host."""
    try:
        addresses = netguard.checked_addresses(conn._dns_host, conn.port)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    last: OSError | None = None
    for ip in addresses:  # bounded by what the resolver returned
        try:
            sock = socket.create_connection((ip, conn.port), conn.timeout,
                                            source_address=conn.source_address)
        except TimeoutError as exc:
            last = exc
            continue
        except OSError as exc:
            last = exc
            continue
        for option in conn.socket_options or []:
            sock.setsockopt(*option)
        return sock
    if isinstance(last, TimeoutError):
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. "
                                        f"(connect timeout={conn.timeout})") from last
    raise NewConnectionError(conn, f"Failed to establish a new connection: {last}") from last


class GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self)


class GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self)


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections go only where ``netguard`` allows."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def guard(session: requests.Session) -> requests.Session:
    """Route every http(s) request of ``session`` through the guard; bound its redirects."""
    adapter = GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = MAX_REDIRECTS
    # A proxy from the environment would make the request on Poise's behalf, past the
    # guard: outgoing requests to people's hosts go direct.
    session.trust_env = False
    return session


def guarded_session() -> requests.Session:
    return guard(requests.Session())
