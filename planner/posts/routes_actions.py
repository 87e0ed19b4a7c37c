"""The post workflow buttons in the browser: submit, approve, request changes, withdraw,
cancel, move (with its "Move to" form), duplicate, delete, and a comment in the thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from planner import posts
from planner.db import utcnow
from planner.errors import Invalid
from planner.models import Post, Role
from planner.posts.routes import _after_save, _int_or_none, actor_of, post_page_context
from planner.posts.schedule import AmbiguousLocalTime
from planner.web.deps import Member, SessionDep, require
from planner.web.render import is_htmx, render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

ACTIONS: dict[str, tuple[Role, Callable[..., Post]]] = {
    "submit": (Role.manager, posts.submit_for_review),
    "approve": (Role.brand_lead, posts.approve),
    "withdraw": (Role.manager, posts.back_to_draft),
    "cancel": (Role.manager, posts.cancel),
    "publish-now": (Role.manager, posts.publish_now),
}


@router.get("/w/{slug}/posts/{post_id}/move")
def move_form(request: Request, post_id: int, session: SessionDep, return_to: str = "",
              member: Member = require(Role.manager)) -> Response:
    """The "Move to" form of a calendar card: a day and a time, no dragging needed."""
    post = posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    local = posts.local_time_of(post, member.workspace.timezone)
    return render(request, "calendar/move.html", _move_context(
        post, date=local[:10], clock=local[11:16] or "09:00", return_to=return_to),
        partial="calendar/_move.html")


def _move_context(post: Post, *, date: str, clock: str, return_to: str,
                  choices: list[Any] | None = None, message: str = "") -> dict[str, Any]:
    first_line = post.text.split("\n", 1)[0]
    return {"post": post, "first_line": first_line[:80], "date": date, "clock": clock,
            "return_to": return_to, "choices": choices, "message": message}


@router.post("/w/{slug}/posts/{post_id}/{action}")
async def post_action(request: Request, post_id: int, action: str, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    """Workflow buttons: submit, approve, request-changes, withdraw, cancel, move, delete."""
    form = await request.form()
    version = _int_or_none(form.get("version")) or 0
    actor, now = actor_of(member), utcnow()
    back = str(form.get("return_to") or "")
    if action == "comment":
        return _comment(request, session, member, post_id, str(form.get("comment") or ""))
    if action == "request-changes":
        post = posts.request_changes(session=session, actor=actor, post_id=post_id,
                                     expected_version=version,
                                     comment=str(form.get("comment") or ""), now=now)
    elif action == "move":
        target = _move_target(session, member, post_id, form)
        try:
            post = posts.reschedule(session=session, actor=actor, post_id=post_id,
                                    expected_version=version, scheduled_local=target,
                                    fold=_int_or_none(form.get("fold")), now=now)
        except Invalid as exc:  # a time that does not exist, or happens twice: ask again
            return _ask_again(request, session, member, post_id, target, back, exc)
    elif action == "duplicate":
        copy = posts.duplicate(session=session, actor=actor, post_id=post_id, now=now)
        target_url = f"/w/{member.workspace.slug}/posts/{copy.id}?duplicated={post_id}"
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target_url})
        return RedirectResponse(target_url, status_code=303)
    elif action == "delete":
        posts.delete_post(session=session, actor=actor, post_id=post_id)
        target_url = f"/w/{member.workspace.slug}/calendar"
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target_url})
        return RedirectResponse(target_url, status_code=303)
    elif action in ACTIONS:
        _, service = ACTIONS[action]
        kwargs: dict[str, Any] = {"session": session, "actor": actor, "post_id": post_id,
                                  "expected_version": version, "now": now}
        if action == "approve":
            kwargs["comment"] = str(form.get("comment") or "")
            kwargs["confirm_balance"] = form.get("confirm") == "1"
        post = service(**kwargs)
    else:
        raise Invalid.at("action", f"Unknown action {action!r}.")
    if back == "review":
        from planner.posts.routes_review import review_item_response

        return review_item_response(request, session, member, post)
    if back == "calendar":
        return _back_to_calendar(request, member, post.scheduled_local[:10])
    return _after_save(request, member, post)


def _comment(request: Request, session: SessionDep, member: Member, post_id: int,
             comment: str) -> Response:
    """A comment in the post's thread; back on the post's page at the thread. An empty or
    too long comment re-renders the page with the message at the field and the text kept."""
    try:
        posts.add_comment(session=session, actor=actor_of(member), post_id=post_id,
                          comment=comment, now=utcnow())
    except Invalid as exc:
        session.rollback()
        context = post_page_context(session, member, post_id)
        context.update(comment_error=exc.problems[0].message if exc.problems else exc.message,
                       comment_text=comment)
        return render(request, "posts/compose.html", context, status_code=422)
    target = f"/w/{member.workspace.slug}/posts/{post_id}#thread"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _back_to_calendar(request: Request, member: Member, day: str) -> Response:
    """The calendar around the post's new day, in the view and filters the person had."""
    path = f"/w/{member.workspace.slug}/calendar"
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    query = [(k, v) for k, v in parse_qsl(current.query) if k not in ("date", "page")]
    if current.path != path:
        query = []
    if day:
        query.append(("date", day))
    target = path + (f"?{urlencode(query)}" if query else "")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _ask_again(request: Request, session: SessionDep, member: Member, post_id: int,
               target: str, back: str, exc: Invalid) -> Response:
    """A move that cannot land as asked: the move form again with the reason. On a wall time
    that happens twice, it offers both instants, each sending its ``fold``."""
    post = posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    choices = exc.choices if isinstance(exc, AmbiguousLocalTime) else None
    context = _move_context(post, date=target[:10], clock=target[11:16], return_to=back,
                            choices=choices, message=exc.message)
    # From a drag (or the card's inline form) the question goes to the page's flash area.
    headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML show:top"} if is_htmx(
        request) else None
    return render(request, "calendar/move.html", context, partial="calendar/_move.html",
                  status_code=422, headers=headers)


def _move_target(session: SessionDep, member: Member, post_id: int, form: FormData) -> str:
    """A new local time: an explicit one, or a day (and optional time; by default the post
    keeps its local time)."""
    explicit = str(form.get("scheduled_local") or "")
    if explicit:
        return explicit
    day = str(form.get("date") or "")
    if not day:
        raise Invalid.at("date", "Choose the day to move the post to.")
    clock = str(form.get("time") or "")
    if not clock:
        post = posts.get_post(session=session, workspace_id=member.workspace_id,
                              post_id=post_id)
        clock = posts.local_time_of(post, member.workspace.timezone)[11:16] or "09:00"
    return f"{day}T{clock}"
