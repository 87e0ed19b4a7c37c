"""Log in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from planner.team import users
from planner.web.deps import SessionDep
from planner.web.render import render
from planner.web.security import csrf_protect, log_in, log_out, session_user_id

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" and "https://..." would be open redirects.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str = "/", expired: int = 0) -> Response:
    uid, _ = session_user_id(request)
    if uid is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    notice = "Your session expired; please log in again." if expired else ""
    return render(request, "auth/login.html", {"next": _safe_next(next), "notice": notice,
                                               "email": "", "error": ""})


@router.post("/login")
def login(request: Request, session: SessionDep, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    user = users.authenticate(session=session, email=email, password=password)
    if user is None:
        return render(request, "auth/login.html",
                      {"next": _safe_next(next), "email": email, "notice": "",
                       "error": "That e-mail and password do not match an account."},
                      status_code=401)
    log_in(request, user.id or 0)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    log_out(request)
    return RedirectResponse("/login", status_code=303)
