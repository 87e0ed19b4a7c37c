"""Which network addresses Poise may send requests to, and which links it may show.

Account API bases, webhook URLs and OAuth instances are typed in by people, and whatever a
platform answers is untrusted. Two guards follow from that:

* ``checked_addresses(host, port)`` resolves a name and refuses it when any of its addresses
  is loopback, private, link-local, unique-local, multicast, reserved or unspecified (IPv4 and
  IPv6, including IPv4-mapped IPv6 and the decimal/octal/hex spellings the resolver accepts,
  such as ``2130706433`` for 127.0.0.1). The transport (``publishers/transport.py``) connects
  to exactly the addresses returned here, so a name cannot resolve to a public address for the
  check and a private one for the connection. Hosts the operator names in
  ``POISE_ALLOWED_PRIVATE_HOSTS`` (a company Mastodon, the demo sandbox) are let through.
* ``safe_link(url)`` keeps a link a platform returned only when it is ``https:`` (``http:``
  only for a loopback host, the local fakes); anything else (``javascript:``, ``data:``) is
  dropped, at storage and again at output.

Pure: standard library only.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_lock = threading.Lock()
_allowed_private: frozenset[str] = frozenset()


class RefusedAddress(ValueError):
    """A request to a host Poise must not reach from the server (not an OSError on purpose:
    the HTTP stack must not retry it or turn it into a connection error)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"Poise does not send requests to {host}: {reason}. An operator can "
                         "allow a private host by name with POISE_ALLOWED_PRIVATE_HOSTS.")
        self.host = host


def _normal(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def configure(allowed_private_hosts: Iterable[str]) -> None:
    """Replace the operator's list of private hosts that may be reached (names or IPs)."""
    global _allowed_private
    with _lock:
        _allowed_private = frozenset(_normal(h) for h in allowed_private_hosts if h.strip())


def allow(*hosts: str) -> None:
    """Add hosts to the allowed private hosts (the demo's loopback sandbox)."""
    configure(set(_allowed_private) | set(hosts))


def allowed_private_hosts() -> frozenset[str]:
    return _allowed_private


@contextmanager
def allowing(hosts: Iterable[str]) -> Iterator[None]:
    """Temporarily use another allow-list (tests)."""
    before = _allowed_private
    configure(hosts)
    try:
        yield
    finally:
        configure(before)


def parse_host_list(value: str) -> list[str]:
    return [part for part in (p.strip() for p in value.replace(" ", ",").split(",")) if part]


def _as_ipv4_when_mapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a server-side request must not go to ``address``; None when it is public."""
    address = _as_ipv4_when_mapped(address)
    checks = (
        ("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
        ("private", address.is_private), ("reserved", address.is_reserved),
    )
    for label, hit in checks:
        if hit:
            return f"it is a {label} address ({address})"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return f"it is a unique-local address ({address})"
    if not address.is_global:
        return f"it is not a public address ({address})"
    return None


_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = str(sockaddr[0]).split("%", 1)[0]
        if ip not in seen:
            seen.append(ip)
    return seen


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host``, every one of them allowed.

    Raises ``RefusedAddress`` when the host is not allowed, ``socket.gaierror`` when it does
    not resolve. An allowed private host is resolved but not checked."""
    name = _normal(host)
    addresses = _resolve(name, port)
    if name in _allowed_private:
        return addresses
    for ip in addresses:
        # Every address must pass: connecting falls back from one to the next.
        reason = forbidden_reason(ipaddress.ip_address(ip))
        if reason is not None:
            if ip in _allowed_private:
                continue
            raise RefusedAddress(host, reason)
    return addresses


def check_url(url: str) -> None:
    """Refuse a URL whose scheme is not http(s) or whose host is not allowed (a check before
    the request, for a plain-words error in forms; the transport checks again on connect)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress(url, "only http:// and https:// addresses are allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedAddress(url, "the port is not a number") from None
    try:
        checked_addresses(parts.hostname, port)
    except (socket.gaierror, UnicodeError):
        raise RefusedAddress(parts.hostname, "the name does not resolve") from None


def _is_loopback_name(host: str) -> bool:
    name = _normal(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return _as_ipv4_when_mapped(ipaddress.ip_address(name)).is_loopback
    except ValueError:
        return False


def safe_link(url: object) -> str:
    """``url`` when it may become a link in Poise's pages, else ''.

    https: always (with a host); http: only to a loopback host (the local fakes); no
    credentials in the URL, no control characters, nothing else (javascript:, data:, ...)."""
    if not isinstance(url, str):
        return ""
    text = url.strip()
    if not text or len(text) > 2000 or any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        return ""
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return ""
    if not host or parts.username is not None or parts.password is not None:
        return ""
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and _is_loopback_name(host)):
        return text
    return ""
