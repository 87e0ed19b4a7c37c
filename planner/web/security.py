"""Sessions, CSRF and the current user: the one place where identity is established.

Browser requests carry a signed session cookie (Starlette's SessionMiddleware) holding an
opaque session token and the CSRF token; the session itself lives on the server
(``planner.team.sessions``), so it can be ended. The API uses Bearer tokens and never
cookies, so CSRF checks apply to every unsafe browser request and to no API request.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from fastapi import Request
from sqlmodel import Session

from planner.db import get_engine, utcnow
from planner.errors import Forbidden
from planner.models import User
from planner.settings import get_settings
from planner.team import sessions

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


def log_in(request: Request, session: Session, user_id: int) -> None:
    """A fresh session (and CSRF token) on every login, recorded on the server."""
    token = sessions.start(session=session, user_id=user_id, now=utcnow(),
                           user_agent=request.headers.get("user-agent", ""))
    request.session.clear()
    request.session["sid"] = token


def log_out(request: Request, session: Session) -> None:
    sessions.end(session=session, token=str(request.session.get("sid") or ""), now=utcnow())
    request.session.clear()


def session_token(request: Request) -> str:
    return str(request.session.get("sid") or "")


def session_user(request: Request, session: Session) -> tuple[User | None, bool]:
    """(user, expired?) for the request's cookie, moving the session's idle timer.

    The cookie alone proves nothing: the server-side row must exist and live, so a logged-out
    or replayed cookie is refused."""
    settings = get_settings()
    now = utcnow()
    found = sessions.find(session=session, token=session_token(request), now=now,
                          idle=timedelta(hours=settings.session_max_age_hours),
                          absolute=timedelta(hours=settings.session_absolute_hours))
    if found.user is None:
        if found.expired or request.session.get("uid") is not None:
            request.session.clear()  # an ended session, or a cookie from before sessions
        return None, found.expired
    if found.row is not None and now - found.row.last_seen_at > sessions.TOUCH_EVERY:
        if request.method in SAFE_METHODS:
            # A reading request holds no write lock: its own short write, so the idle timer
            # moves without turning the page view into a write transaction.
            with get_engine().begin() as conn:
                conn.execute(sessions.touch_statement(found.row.id, now))
        else:
            found.row.last_seen_at = now
    return found.user, False
