"""Log in and out (also everywhere at once), with the login throttle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from planner.db import utcnow
from planner.team import sessions, users
from planner.web.deps import SessionDep, UserDep
from planner.web.render import render
from planner.web.security import csrf_protect, log_in, log_out, session_user

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" and "https://..." would be open redirects.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str = "/",
               expired: int = 0) -> Response:
    user, _ = session_user(request, session)
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    notice = "Your session expired; please log in again." if expired else ""
    return render(request, "auth/login.html", {"next": _safe_next(next), "notice": notice,
                                               "email": "", "error": ""})


def _client_address(request: Request) -> str:
    # Behind a reverse proxy, run uvicorn with --proxy-headers so this is the client's.
    return request.client.host if request.client else "unknown"


@router.post("/login")
def login(request: Request, session: SessionDep, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    now, address = utcnow(), _client_address(request)
    context = {"next": _safe_next(next), "email": email[:254], "notice": ""}
    # Checked before the password, and the same for known and unknown e-mails: the answer
    # says nothing about whether the account exists.
    wait = sessions.retry_after(session=session, email=email, address=address, now=now)
    if wait:
        minutes = max(1, round(wait / 60))
        return render(request, "auth/login.html", {
            **context, "error": f"Too many failed attempts. Try again in about {minutes} "
                                f"minute{'s' if minutes > 1 else ''}."},
            status_code=429, headers={"Retry-After": str(wait)})
    user = users.authenticate(session=session, email=email, password=password)
    if user is None:
        sessions.record_failure(session=session, email=email, address=address, now=now)
        return render(request, "auth/login.html",
                      {**context, "error": "That e-mail and password do not match an account."},
                      status_code=401)
    sessions.forget_failures(session=session, email=email)
    log_in(request, session, user.id or 0)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    log_out(request, session)
    return RedirectResponse("/login", status_code=303)


@router.post("/sign-out-everywhere")
def sign_out_everywhere(request: Request, session: SessionDep, user: UserDep) -> Response:
    """End every login of this person, this browser's included."""
    ended = sessions.end_all(session=session, user_id=user.id or 0, now=utcnow())
    sessions.record_signed_out_everywhere(session=session, user_id=user.id or 0, ended=ended)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
