"""Sessions, CSRF and the current user: the one place where identity is established.

Browser requests carry a signed session cookie (Starlette's SessionMiddleware) with the user id
and the time of last activity; the API uses Bearer tokens and never cookies, so CSRF checks
apply to every unsafe browser request and to no API request.
"""

from __future__ import annotations

import hmac
import secrets
import time

from fastapi import Request

from planner.errors import Forbidden
from planner.settings import get_settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def csrf_protect(request: Request) -> None:
    """Refuse an unsafe request whose token (form field or htmx header) does not match."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise Forbidden("This form has expired or did not come from Poise. Reload the page "
                        "and try again.")


def log_in(request: Request, user_id: int) -> None:
    request.session.clear()  # a fresh session (and CSRF token) on every login
    request.session["uid"] = user_id
    request.session["seen"] = int(time.time())


def log_out(request: Request) -> None:
    request.session.clear()


def session_user_id(request: Request) -> tuple[int | None, bool]:
    """(user id, expired?) from the session cookie, refreshing its idle timer."""
    uid = request.session.get("uid")
    if uid is None:
        return None, False
    seen = int(request.session.get("seen", 0))
    max_idle = get_settings().session_max_age_hours * 3600
    now = int(time.time())
    if now - seen > max_idle:
        request.session.clear()
        return None, True
    if now - seen > 60:  # avoid rewriting the cookie on every request
        request.session["seen"] = now
    return int(uid), False
