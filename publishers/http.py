"""Shared HTTP plumbing: one session per thread, explicit timeouts, and error classification.

The rule every adapter follows: a failure before the request left (refused connection, DNS)
is ``Transient``; a failure after it left (read timeout, dropped connection, a reply whose
body breaks off or cannot be decoded) is ``OutcomeUnknown`` unless the platform deduplicates
the call (idempotency key, record key), in which case resending is safe and it is
``Transient`` too.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests import exceptions as rex
from urllib3 import exceptions as u3

from publishers import netguard, transport
from publishers.base import (
    AuthExpired,
    ContentRejected,
    OutcomeUnknown,
    PublishError,
    RateLimited,
    Transient,
)

log = logging.getLogger(__name__)

USER_AGENT = "Poise/0.1 (+https://github.com/poise)"
CONNECT_TIMEOUT = 5.0
DEFAULT_BACKOFF = timedelta(seconds=60)

_local = threading.local()
_TOKEN_IN_URL = re.compile(r"((?:access_|refresh_)?token)=[^&\s'\"]+", re.IGNORECASE)


def session() -> requests.Session:
    """A requests session per thread (Session is not safe to share between threads)."""
    existing: requests.Session | None = getattr(_local, "session", None)
    if existing is None:
        existing = transport.guarded_session()  # only to addresses netguard allows
        existing.headers["User-Agent"] = USER_AGENT
        _local.session = existing
    return existing


def timeouts(read_seconds: float) -> tuple[float, float]:
    return (min(CONNECT_TIMEOUT, read_seconds), read_seconds)


def base_url(api_base: str, public: str) -> str:
    return (api_base or public).rstrip("/")


def _never_sent(exc: BaseException) -> bool:
    """True when the connection failed before any byte of the request could leave."""
    if isinstance(exc, rex.ConnectTimeout):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, u3.NewConnectionError | u3.NameResolutionError
                      | ConnectionRefusedError | u3.ConnectTimeoutError):
            return True
        if isinstance(current, u3.MaxRetryError) and current.reason is not None:
            current = current.reason
            continue
        args = getattr(current, "args", ())
        nested = args[0] if args and isinstance(args[0], BaseException) else None
        current = nested or current.__cause__ or current.__context__
    return False


def request(method: str, url: str, *, timeout: float, creates: bool = False,
            idempotent: bool = False, **kwargs: Any) -> requests.Response:
    """Send one request and turn network failures into typed outcomes.

    ``creates``: the call may create something remotely. ``idempotent``: the platform
    deduplicates it, so a lost answer can be resent safely.
    """
    try:
        return session().request(method, url, timeout=timeouts(timeout), **kwargs)
    except netguard.RefusedAddress as exc:  # nothing was sent; the account's address is wrong
        raise AuthExpired(str(exc)) from None
    except rex.RequestException as exc:
        raise network_error(exc, url, creates=creates, idempotent=idempotent) from exc


# Failures that can only happen once the request has left: the server answered (or began
# to), then the reply broke off or could not be decoded. The platform may have acted on it.
_AFTER_SENDING = (rex.ConnectionError, rex.Timeout, rex.ChunkedEncodingError,
                  rex.ContentDecodingError)


def network_error(exc: rex.RequestException, url: str, *, creates: bool,
                  idempotent: bool) -> PublishError:
    """The typed outcome of a request that got no (complete) HTTP answer."""
    detail = scrub(str(exc))
    if not isinstance(exc, _AFTER_SENDING) or _never_sent(exc):
        return Transient(f"Could not connect to {_host(url)}", detail=detail)
    if not creates or idempotent:
        return Transient(f"No answer from {_host(url)}", detail=detail)
    return OutcomeUnknown(
        f"The request reached {_host(url)} but no answer came back: the post may exist",
        detail=detail)


def scrub(text: str) -> str:
    """Error text without tokens that some APIs take in the query string (Graph)."""
    return _TOKEN_IN_URL.sub(r"\1=***", text)


def _host(url: str) -> str:
    return url.split("/", 3)[2] if "://" in url else url


def json_or_empty(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"data": body}


# --- rate-limit reset parsing, one per header format -------------------------------------

def reset_from_epoch(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 time (``Z`` allowed) as an aware datetime; None when absent or garbled."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


reset_from_iso = parse_iso


def reset_from_retry_after(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    if value.strip().isdigit():
        return now + timedelta(seconds=int(value.strip()))
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def reset_at(headers: Mapping[str, str], *, epoch: str = "", iso: str = "",
             default: timedelta = DEFAULT_BACKOFF) -> datetime:
    """The platform's reset time from its own header, else Retry-After, else a default."""
    now = datetime.now(UTC)
    found = (reset_from_epoch(headers.get(epoch)) if epoch else None) or (
        reset_from_iso(headers.get(iso)) if iso else None) or reset_from_retry_after(
        headers.get("Retry-After"), now)
    return found if found is not None and found > now else now + default


# --- response classification ----------------------------------------------------------------

def classify(resp: requests.Response, *, platform: str, creates: bool, idempotent: bool,
             reason: Callable[[requests.Response], str],
             reset: Callable[[requests.Response], datetime]) -> None:
    """Raise the typed outcome for a non-2xx response; return for 2xx/3xx."""
    status = resp.status_code
    if status < 400:
        return
    words = reason(resp) or f"{platform} answered HTTP {status}"
    detail = resp.text[:500]
    error: PublishError
    if status == 401:
        error = AuthExpired(f"{platform} refused the credentials: {words}", status=status,
                            detail=detail)
    elif status == 403:
        # Forbidden is about the account, not the post (a revoked permission, a read-only
        # app, a suspended account): the same request can never succeed until someone
        # reconnects. Adapters handle the 403s that mean something else (X duplicates) first.
        error = AuthExpired(f"{platform} refused access: {words}", status=status,
                            detail=detail)
    elif status == 429:
        error = RateLimited(f"{platform} rate limit reached: {words}", reset_at=reset(resp),
                            status=status, detail=detail)
    elif status >= 500:
        if not creates or idempotent:
            error = Transient(f"{platform} had a server error: {words}", status=status,
                              detail=detail)
        else:
            error = OutcomeUnknown(
                f"{platform} had a server error after receiving the post; it may exist: {words}",
                status=status, detail=detail)
    else:
        error = ContentRejected(f"{platform} rejected the post: {words}", status=status,
                                detail=detail)
    raise error
