"""One handler for every error: JSON problem details for /api, a partial for htmx, else a page.

Tracebacks go to the log, never to the user.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from planner.errors import FieldProblem, PlannerError
from planner.web.deps import LoginRequired
from planner.web.render import is_htmx, render

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", ""))


def problem_response(request: Request, *, status: int, title: str, detail: str,
                     problems: list[FieldProblem] | None = None) -> Response:
    if wants_json(request):
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status,
                                "detail": detail}
        if problems:
            body["errors"] = [{"loc": list(p.loc), "field": p.field, "msg": p.message}
                              for p in problems]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    context = {"status": status, "title": title, "detail": detail, "problems": problems or []}
    _reload_detached(request)
    try:
        return _render_problem(request, context, status)
    except Exception:  # the page must never fail: without the logged-in frame, then
        log.exception("error page for %s %s failed; shown without the navigation",
                      request.method, request.url.path)
        context.update(user=None, workspace=None, role=None, memberships=[], nav_badges={})
        return _render_problem(request, context, status)


def _render_problem(request: Request, context: dict[str, Any], status: int) -> Response:
    if is_htmx(request):
        # Errors from a fragment request land in the page's flash area, not in the fragment.
        return render(request, "partials/_error.html", context, status_code=status,
                      headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    return render(request, "error.html", context, status_code=status)


def _reload_detached(request: Request) -> None:
    """After a write failed in the database, the request's objects (who is logged in, the
    workspace, the menu) are expired by the rollback and detached by the unit of work:
    load them again in a short read of their own so the error page can show them."""
    user = getattr(request.state, "user", None)
    workspace = getattr(request.state, "workspace", None)
    memberships = getattr(request.state, "memberships", None) or []
    if not any(_stale(o) for o in (user, workspace, *(w for w, _ in memberships))):
        return
    from planner.db import session_scope
    from planner.models import User, Workspace

    try:
        with session_scope() as session:
            if _stale(user):
                request.state.user = session.get(User, _id(user))
            if _stale(workspace):
                request.state.workspace = session.get(Workspace, _id(workspace))
            request.state.memberships = [
                (session.get(Workspace, _id(w)) if _stale(w) else w, role)
                for w, role in memberships]
    except Exception:  # the database is what failed: the page goes without the frame
        log.warning("could not reload the logged-in frame for the error page", exc_info=True)
        request.state.user = request.state.workspace = None
        request.state.memberships = []


def _stale(obj: object) -> bool:
    if obj is None:
        return False
    state = sa_inspect(obj, raiseerr=False)
    return state is not None and state.detached and bool(state.expired_attributes)


def _id(obj: object) -> Any:
    identity = sa_inspect(obj).identity
    return identity[0] if identity else None


async def _planner_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PlannerError)
    if isinstance(exc, LoginRequired) and not wants_json(request):
        target = "/login?expired=1" if exc.expired else "/login"
        if request.method == "GET" and not is_htmx(request):
            target += ("&" if "?" in target else "?") + "next=" + request.url.path
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    return problem_response(request, status=exc.status_code, title=exc.title,
                            detail=exc.message, problems=exc.problems)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [FieldProblem(tuple(err.get("loc", ())), str(err.get("msg", "invalid")))
                for err in exc.errors()]
    detail = "; ".join(f"{p.field or 'body'}: {p.message}" for p in problems)
    return problem_response(request, status=422, title="Invalid input", detail=detail,
                            problems=problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}
    detail = {404: "There is nothing at this address.",
              405: "This address does not accept that kind of request."}.get(
        exc.status_code, str(exc.detail))
    return problem_response(request, status=exc.status_code,
                            title=titles.get(exc.status_code, "Error"), detail=detail)


async def _out_of_range(request: Request, exc: Exception) -> Response:
    """A number no column can hold (an id above 2**63, a year 10000): the input is wrong."""
    log.info("out-of-range input on %s %s: %s", request.method, request.url.path,
             exc.__class__.__name__)
    return problem_response(request, status=422, title="Invalid input",
                            detail="A number or date in the request is out of range.")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, status=500, title="Something went wrong",
                            detail="The error was logged; nothing you did was half-saved. "
                                   "Try again, and tell your admin if it keeps happening.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(PlannerError, _planner_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)  # PostgreSQL: integer out of range
    app.add_exception_handler(Exception, _unexpected_error)
