"""The composer and the post workflow actions (browser)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from planner import accounts, balance, calendar, media, posts
from planner.db import utcnow
from planner.errors import Invalid, PlannerError
from planner.models import Account, Post, PostStatus, Publication, Role, Workspace
from planner.schedule import AmbiguousLocalTime, parse_local
from planner.textrules import preview_for
from planner.web.deps import Member, SessionDep, require
from planner.web.render import is_htmx, render
from planner.web.security import csrf_protect

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def actor_of(member: Member) -> posts.Actor:
    return posts.Actor(user_id=member.user_id, role=member.role, workspace=member.workspace)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


async def form_to_input(form: FormData, *, workspace_id: int) -> posts.PostInput:
    account_ids = [int(v) for v in form.getlist("account_ids")
                   if isinstance(v, str) and v.isdigit()]
    variants = {}
    for key, value in form.items():
        if key.startswith("variant_") and key[8:].isdigit() and isinstance(value, str):
            variants[int(key[8:])] = value
    when = str(form.get("when") or "time")
    data = posts.PostInput(
        text=str(form.get("text") or ""), account_ids=account_ids, variants=variants,
        link=str(form.get("link") or ""), tags=[str(t) for t in form.getlist("tags")],
        tag_source=str(form.get("tag_source") or "manual"),
        dm_keyword=str(form.get("dm_keyword") or ""),
        dm_product_url=str(form.get("dm_product_url") or ""),
        dm_prefill=str(form.get("dm_prefill") or ""),
        scheduled_local=str(form.get("scheduled_local") or "") if when == "time" else "",
        fold=_int_or_none(form.get("fold")), add_to_queue=when == "queue")
    upload = form.get("media")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read()
        data.media_path, data.media_mime = media.store_image(
            workspace_id=workspace_id, data=raw, filename=upload.filename)
    return data


def composer_context(session: SessionDep, member: Member, data: posts.PostInput,
                     post: Post | None = None, error: PlannerError | None = None
                     ) -> dict[str, Any]:
    workspace_accounts = accounts.list_accounts(session=session,
                                                workspace_id=member.workspace_id)
    errors: dict[str, str] = {}
    if error is not None:
        for problem in error.problems:
            errors.setdefault(problem.field.split(".")[0] or "form", problem.message)
    return {
        "data": data, "post": post, "accounts": workspace_accounts, "errors": errors,
        "error": error, "platform_names": accounts.PLATFORMS,
        "ambiguous": error.choices if isinstance(error, AmbiguousLocalTime) else None,
        "previews": _previews(member, data, workspace_accounts, post, session=session),
        "quadrants": posts.QUADRANTS,
    }


def _cap_warning(session: SessionDep, member: Member, account: Account, data: posts.PostInput,
                 post: Post | None) -> str:
    """A warning when this post would exceed the workspace's daily cap for the account."""
    cap = member.workspace.daily_cap_per_account
    if cap <= 0 or not data.scheduled_local:
        return ""
    try:
        day = parse_local(data.scheduled_local).date()
    except Invalid:
        return ""
    already = calendar.posts_on_local_day(session=session, account_id=account.id or 0,
                                          zone=member.workspace.timezone, day=day,
                                          exclude_post_id=post.id if post else None)
    if already + 1 <= cap:
        return ""
    return (f"{account.handle} already has {already} post(s) on {day:%a %d %b}; the daily cap "
            f"is {cap}. Followers do not like being flooded.")


def _previews(member: Member, data: posts.PostInput, all_accounts: list[Account],
              post: Post | None, *, session: SessionDep | None = None
              ) -> list[dict[str, Any]]:
    """Per target account: the final text, its count under that platform's rules, and a
    warning when the day is already at the account's daily cap."""
    draft = Post(id=post.id if post else None, workspace_id=member.workspace_id,
                 text=data.text, link=data.link, dm_keyword=data.dm_keyword,
                 dm_product_url=data.dm_product_url, dm_prefill=data.dm_prefill)
    chosen = [a for a in all_accounts if a.id in data.account_ids]
    result = []
    for account in chosen:
        text = data.variants.get(account.id or 0) or data.text
        try:
            shown = preview_for(post=draft, publication=None, account=account, text=text,
                                utm_campaign=member.workspace.utm_campaign)
        except Exception:  # a preview must never break the composer
            log.exception("preview failed for account %s", account.id)
            continue
        warning = _cap_warning(session, member, account, data, post) if session else ""
        result.append({"account": account, "preview": shown, "cap_warning": warning})
    return result


@router.get("/w/{slug}/posts/new")
def new_post(request: Request, session: SessionDep, date: str = "", time: str = "09:00",
             member: Member = require(Role.manager)) -> Response:
    data = posts.PostInput(scheduled_local=f"{date}T{time}" if date else "")
    return render(request, "posts/compose.html", composer_context(session, member, data))


@router.post("/w/{slug}/posts")
async def create_post(request: Request, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    data = posts.PostInput()
    try:
        data = await form_to_input(form, workspace_id=member.workspace_id)
        post = posts.create_post(session=session, actor=actor_of(member), data=data,
                                 now=utcnow())
        if form.get("action") == "submit":
            post = posts.submit_for_review(session=session, actor=actor_of(member),
                                           post_id=post.id or 0,
                                           expected_version=post.version, now=utcnow())
    except Invalid as exc:
        session.rollback()
        return render(request, "posts/compose.html",
                      composer_context(session, member, data, error=exc),
                      partial="posts/_form.html", status_code=422)
    return _after_save(request, member, post)


def _after_save(request: Request, member: Member, post: Post) -> Response:
    target = f"/w/{member.workspace.slug}/posts/{post.id}?saved=1"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/w/{slug}/posts/{post_id}")
def edit_post(request: Request, post_id: int, session: SessionDep, saved: int = 0,
              member: Member = require(Role.viewer)) -> Response:
    post = posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    data = posts.input_from_post(session=session, post=post)
    context = composer_context(session, member, data, post=post)
    context.update(_post_extras(session, post, saved=bool(saved)))
    return render(request, "posts/compose.html", context)


def _post_extras(session: SessionDep, post: Post, *, saved: bool) -> dict[str, Any]:
    from sqlmodel import col, select

    from planner.models import Review, User

    reviews = session.exec(select(Review, User.name).join(User, col(User.id) == col(
        Review.reviewer_id)).where(Review.post_id == post.id)
        .order_by(col(Review.created_at).desc())).all()
    publications = posts.publications_of(session=session, post_id=post.id or 0)
    impacts = balance.approval_warnings(
        session=session, workspace=session.get(Workspace, post.workspace_id) or Workspace(
            name="", slug=""), post=post,
        publications=[p for p in publications if p.status not in posts.SETTLED]
    ) if post.status == PostStatus.in_review else []
    return {"reviews": reviews, "saved": saved, "publications": publications,
            "impacts": impacts}


@router.post("/w/{slug}/posts/{post_id}")
async def update_post(request: Request, post_id: int, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    post = posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    data = posts.input_from_post(session=session, post=post)
    version = _int_or_none(form.get("version")) or 0
    try:
        data = await form_to_input(form, workspace_id=member.workspace_id)
        post = posts.update_post(session=session, actor=actor_of(member), post_id=post_id,
                                 expected_version=version, data=data, now=utcnow())
        if form.get("action") == "submit":
            post = posts.submit_for_review(session=session, actor=actor_of(member),
                                           post_id=post_id, expected_version=post.version,
                                           now=utcnow())
    except Invalid as exc:
        session.rollback()
        post = posts.get_post(session=session, workspace_id=member.workspace_id,
                              post_id=post_id)
        context = composer_context(session, member, data, post=post, error=exc)
        context.update(_post_extras(session, post, saved=False))
        return render(request, "posts/compose.html", context, partial="posts/_form.html",
                      status_code=422)
    return _after_save(request, member, post)


@router.post("/w/{slug}/compose/preview")
async def compose_preview(request: Request, session: SessionDep,
                          member: Member = require(Role.manager)) -> Response:
    """Live per-account counters while typing (no upload, nothing saved)."""
    form = await request.form()
    data = posts.PostInput(
        text=str(form.get("text") or ""),
        account_ids=[int(v) for v in form.getlist("account_ids")
                     if isinstance(v, str) and v.isdigit()],
        variants={int(k[8:]): str(v) for k, v in form.items()
                  if k.startswith("variant_") and k[8:].isdigit()},
        link=str(form.get("link") or ""), dm_keyword=str(form.get("dm_keyword") or ""),
        dm_product_url=str(form.get("dm_product_url") or ""),
        dm_prefill=str(form.get("dm_prefill") or ""),
        scheduled_local=str(form.get("scheduled_local") or "")
        if form.get("when", "time") == "time" else "")
    all_accounts = accounts.list_accounts(session=session, workspace_id=member.workspace_id)
    post_id = _int_or_none(form.get("post_id"))
    post = posts.get_post(session=session, workspace_id=member.workspace_id,
                          post_id=post_id) if post_id else None
    return render(request, "posts/_previews.html",
                  {"previews": _previews(member, data, all_accounts, post, session=session),
                   "platform_names": accounts.PLATFORMS})


ACTIONS = {
    "submit": (Role.manager, posts.submit_for_review),
    "approve": (Role.brand_lead, posts.approve),
    "withdraw": (Role.manager, posts.back_to_draft),
    "cancel": (Role.manager, posts.cancel),
}


@router.post("/w/{slug}/posts/{post_id}/{action}")
async def post_action(request: Request, post_id: int, action: str, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    """Workflow buttons: submit, approve, request-changes, withdraw, cancel, move."""
    form = await request.form()
    version = _int_or_none(form.get("version")) or 0
    actor, now = actor_of(member), utcnow()
    if action == "request-changes":
        post = posts.request_changes(session=session, actor=actor, post_id=post_id,
                                     expected_version=version,
                                     comment=str(form.get("comment") or ""), now=now)
    elif action == "move":
        post = posts.reschedule(session=session, actor=actor, post_id=post_id,
                                expected_version=version,
                                scheduled_local=_move_target(session, member, post_id, form),
                                fold=_int_or_none(form.get("fold")), now=now)
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
    back = str(form.get("return_to") or "")
    if back == "review":
        from planner.web.review import review_item_response

        return review_item_response(request, session, member, post)
    if back == "calendar":
        return Response(status_code=204, headers={"HX-Refresh": "true"}) if is_htmx(
            request) else RedirectResponse(f"/w/{member.workspace.slug}/calendar", 303)
    return _after_save(request, member, post)


def _move_target(session: SessionDep, member: Member, post_id: int, form: FormData) -> str:
    """A new local time: an explicit one, or another day at the same local time."""
    explicit = str(form.get("scheduled_local") or "")
    if explicit:
        return explicit
    day = str(form.get("date") or "")
    if not day:
        raise Invalid.at("date", "Choose the day to move the post to.")
    post = posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    clock = post.scheduled_local[11:16] if post.scheduled_local else "09:00"
    return f"{day}T{clock}"


@router.post("/w/{slug}/compose/compass")
async def compose_compass(request: Request, session: SessionDep,
                          member: Member = require(Role.manager)) -> Response:
    """Suggested value tags (with why) and the what-if balance warning per target account."""
    form = await request.form()
    text = str(form.get("text") or "")
    suggestion = balance.suggest(session=session, workspace_id=member.workspace_id, text=text)
    chosen = [str(t) for t in form.getlist("tags") if isinstance(t, str)]
    tags = chosen or [str(q) for q in suggestion.tags]
    account_ids = {int(v) for v in form.getlist("account_ids")
                   if isinstance(v, str) and v.isdigit()}
    warnings = []
    if tags and account_ids:
        draft = Post(workspace_id=member.workspace_id, text=text, tags=",".join(tags))
        targets = [a for a in accounts.list_accounts(session=session,
                                                     workspace_id=member.workspace_id)
                   if a.id in account_ids]
        for account in targets:
            warnings.extend(balance.approval_warnings(
                session=session, workspace=member.workspace, post=draft,
                publications=[Publication(id=0, post_id=0, account_id=account.id or 0,
                                          workspace_id=member.workspace_id)]))
    return render(request, "posts/_compass.html", {
        "suggestion": suggestion, "warnings": warnings, "using_suggestion": not chosen,
        "labels": {"try": "Try new things", "share": "Share with others",
                   "care": "Care for others", "learn": "Learn new things"}})
