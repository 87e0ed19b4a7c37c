"""The composer and the post workflow actions (browser)."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from planner import accounts, balance, posts
from planner.db import utcnow
from planner.errors import Invalid, NotFound, PlannerError
from planner.models import Account, Post, PostStatus, Role, Workspace
from planner.posts import calendar, media, textrules
from planner.posts.schedule import AmbiguousLocalTime, parse_local
from planner.settings import get_settings
from planner.team import workspaces
from planner.web.deps import Member, SessionDep, require
from planner.web.render import is_htmx, render
from planner.web.security import csrf_protect

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

# Stored images are named <uuid4 hex>.<ext> by planner.media; nothing else is ever served.
MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")
MIME_BY_EXT = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif",
               "webp": "image/webp"}
PENDING_MAX_AGE = 24 * 3600  # seconds an image of an unsaved form is kept for a retry


def actor_of(member: Member) -> posts.Actor:
    return posts.Actor(user_id=member.user_id, role=member.role, workspace=member.workspace)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def form_to_input(form: FormData) -> posts.PostInput:
    """The post fields of a composer form (the image is handled apart: see _attach_image)."""
    account_ids = [int(v) for v in form.getlist("account_ids")
                   if isinstance(v, str) and v.isdigit()]
    variants = {}
    for key, value in form.items():
        if (key.startswith("variant_") and key[8:].isdigit() and isinstance(value, str)
                and value.strip()):  # an empty variant means "the main text"
            variants[int(key[8:])] = value
    when = str(form.get("when") or "time")
    return posts.PostInput(
        text=str(form.get("text") or ""), account_ids=account_ids, variants=variants,
        link=str(form.get("link") or ""), tags=[str(t) for t in form.getlist("tags")],
        tag_source=str(form.get("tag_source") or "manual"),
        dm_keyword=str(form.get("dm_keyword") or ""),
        dm_product_url=str(form.get("dm_product_url") or ""),
        dm_prefill=str(form.get("dm_prefill") or ""),
        dm_call_to_action=str(form.get("dm_call_to_action") or ""),
        scheduled_local=str(form.get("scheduled_local") or "") if when == "time" else "",
        fold=_int_or_none(form.get("fold")), add_to_queue=when == "queue",
        publish_now=when == "now",
        remove_media=form.get("remove_media") == "1")


# --- the composer's image ----------------------------------------------------------------------
# A new upload is checked (type by content, size) before it is written, and written only into
# the media directory under a random name. When the form then fails (a bad time, a conflict),
# the file leaves the media directory for a pending area, and the re-rendered form carries its
# name, so the person does not upload it again; pending files older than a day are swept.

@dataclass
class ImageChoice:
    upload: tuple[bytes, str] | None  # a file chosen in this submission: (bytes, filename)
    pending: str  # or the name of an image kept from an earlier failed submission


async def image_choice(form: FormData) -> ImageChoice:
    upload = form.get("media")
    if isinstance(upload, UploadFile) and upload.filename:
        return ImageChoice(upload=(await upload.read(), upload.filename), pending="")
    token = str(form.get("pending_media") or "")
    return ImageChoice(upload=None, pending=token if MEDIA_NAME.match(token) else "")


def _pending_dir(workspace_id: int) -> Path:
    return get_settings().var_dir / "media-pending" / str(workspace_id)


def _attach_image(member: Member, data: posts.PostInput, choice: ImageChoice) -> None:
    """Point the input at the chosen image, storing a new upload once it passed the checks."""
    if choice.upload is not None:
        raw, filename = choice.upload
        data.media_path, data.media_mime = media.store_image(
            workspace_id=member.workspace_id, data=raw, filename=filename)
    elif choice.pending:
        source = _pending_dir(member.workspace_id) / choice.pending
        if not source.is_file():
            raise Invalid.at("media", "The image you chose before has expired; choose it again.")
        relative = f"{member.workspace_id}/{choice.pending}"
        target = media.absolute_path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        data.media_path = relative
        data.media_mime = MIME_BY_EXT[choice.pending.rsplit(".", 1)[1]]


def _keep_for_retry(member: Member, data: posts.PostInput, choice: ImageChoice) -> str:
    """After a failed save: move the image of this submission out of the media directory into
    the pending area; returns its name for the re-rendered form ("" when there is none)."""
    if not data.media_path:
        pending = _pending_dir(member.workspace_id) / choice.pending
        return choice.pending if choice.pending and pending.is_file() else ""
    name = Path(data.media_path).name
    folder = _pending_dir(member.workspace_id)
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder)
    source = media.absolute_path(data.media_path)
    if source.is_file():
        os.replace(source, folder / name)
    data.media_path = data.media_mime = ""
    return name


def _discard_image(data: posts.PostInput) -> None:
    """After an error that re-renders nothing: the stored file must not linger unreferenced."""
    if data.media_path:
        media.absolute_path(data.media_path).unlink(missing_ok=True)
        data.media_path = data.media_mime = ""


def _sweep(folder: Path) -> None:
    cutoff = time.time() - PENDING_MAX_AGE
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:  # another request swept it first
            continue


def image_url(member: Member, data: posts.PostInput, post: Post | None, pending: str) -> str:
    slug = member.workspace.slug
    if pending:
        return f"/w/{slug}/media/pending/{pending}"
    if data.remove_media:
        return ""
    path = data.media_path or (post.media_path if post else "")
    return f"/w/{slug}/media/{Path(path).name}" if path else ""


@router.get("/w/{slug}/media/{name}")
def media_file(name: str, member: Member = require(Role.viewer)) -> Response:
    """An image attached to a post of this workspace (members only)."""
    return _image_response(media.absolute_path(f"{member.workspace_id}/{name}"), name)


@router.get("/w/{slug}/media/pending/{name}")
def pending_media_file(name: str, member: Member = require(Role.manager)) -> Response:
    """An image of a composer form that is not saved yet."""
    return _image_response(_pending_dir(member.workspace_id) / name, name)


def _image_response(path: Path, name: str) -> Response:
    if not MEDIA_NAME.match(name) or not path.is_file():
        raise NotFound("No such image.")
    return FileResponse(path, media_type=MIME_BY_EXT[name.rsplit(".", 1)[1]],
                        headers={"Cache-Control": "private, max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})


# --- the composer ------------------------------------------------------------------------------

def composer_context(session: SessionDep, member: Member, data: posts.PostInput,
                     post: Post | None = None, error: PlannerError | None = None,
                     pending_media: str = "") -> dict[str, Any]:
    workspace_accounts = accounts.list_accounts(session=session,
                                                workspace_id=member.workspace_id)
    errors: dict[str, str] = {}
    if error is not None:
        for problem in error.problems:
            errors.setdefault(problem.field.split(".")[0] or "form", problem.message)
    image = image_url(member, data, post, pending_media)
    return {
        "data": data, "post": post, "accounts": workspace_accounts, "errors": errors,
        "error": error, "platform_names": accounts.PLATFORMS,
        "ambiguous": error.choices if isinstance(error, AmbiguousLocalTime) else None,
        "previews": _previews(member, data, workspace_accounts, post, session=session,
                              has_image=bool(image)),
        "quadrants": posts.QUADRANTS, "image_url": image, "pending_media": pending_media,
        "prompt_templates": workspaces.list_prompt_templates(
            session=session, workspace_id=member.workspace_id),
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
              post: Post | None, *, session: SessionDep | None = None,
              has_image: bool = False) -> list[dict[str, Any]]:
    """Per target account: the final text, its count under that platform's rules, how the
    network shows it (``feed``: name, fold, link card), and a warning when the day is
    already at the account's daily cap."""
    draft = Post(id=post.id if post else None, workspace_id=member.workspace_id,
                 text=data.text, link=data.link, dm_keyword=data.dm_keyword.strip(),
                 dm_product_url=data.dm_product_url.strip(), dm_prefill=data.dm_prefill.strip(),
                 dm_call_to_action=" ".join(data.dm_call_to_action.split()))
    chosen = [a for a in all_accounts if a.id in data.account_ids]
    sent = {p.account_id: p for p in posts.publications_of(session=session, post_id=post.id)
            } if post is not None and post.id and session is not None else {}
    result = []
    for account in chosen:
        text = data.variants.get(account.id or 0) or data.text
        try:
            shown = textrules.as_sent(post=draft, publication=sent.get(account.id or 0),
                                      account=account, text=text, session=session,
                                      utm_campaign=member.workspace.utm_campaign)
            feed = textrules.feed_look(post=draft, publication=sent.get(account.id or 0),
                                       account=account, shown=shown, has_image=has_image,
                                       session=session,
                                       utm_campaign=member.workspace.utm_campaign)
        except Exception:  # a preview must never break the composer
            log.exception("preview failed for account %s", account.id)
            continue
        warning = _cap_warning(session, member, account, data, post) if session else ""
        result.append({"account": account, "preview": shown, "feed": feed,
                       "cap_warning": warning,
                       "placeholder": "/r/" + textrules.PLACEHOLDER_CODE,
                       "variant": bool((data.variants.get(account.id or 0) or "").strip())})
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
    data = form_to_input(form)
    choice = await image_choice(form)
    try:
        _attach_image(member, data, choice)
        post = posts.create_post(session=session, actor=actor_of(member), data=data,
                                 now=utcnow())
        if form.get("action") == "submit":
            post = posts.submit_for_review(session=session, actor=actor_of(member),
                                           post_id=post.id or 0,
                                           expected_version=post.version, now=utcnow())
    except Invalid as exc:
        session.rollback()
        pending = _keep_for_retry(member, data, choice)
        return render(request, "posts/compose.html",
                      composer_context(session, member, data, error=exc,
                                       pending_media=pending),
                      partial="posts/_form.html", status_code=422)
    except BaseException:
        _discard_image(data)
        raise
    return _after_save(request, member, post)


def _after_save(request: Request, member: Member, post: Post) -> Response:
    target = f"/w/{member.workspace.slug}/posts/{post.id}?saved=1"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/w/{slug}/posts/{post_id}")
def edit_post(request: Request, post_id: int, session: SessionDep, saved: int = 0,
              duplicated: int = 0, member: Member = require(Role.viewer)) -> Response:
    context = post_page_context(session, member, post_id, saved=bool(saved))
    context["duplicated"] = duplicated
    return render(request, "posts/compose.html", context)


def post_page_context(session: SessionDep, member: Member, post_id: int, *,
                      saved: bool = False) -> dict[str, Any]:
    """Everything the post's own page shows: the composer, the workflow, the thread."""
    post = posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    data = posts.input_from_post(session=session, post=post)
    context = composer_context(session, member, data, post=post)
    context.update(_post_extras(session, post, saved=saved))
    context["over_limit"] = [item["account"].handle for item in context["previews"]
                             if item["preview"].count.over]
    return context


def _post_extras(session: SessionDep, post: Post, *, saved: bool) -> dict[str, Any]:
    publications = posts.publications_of(session=session, post_id=post.id or 0)
    impacts = balance.approval_warnings(
        session=session, workspace=session.get(Workspace, post.workspace_id) or Workspace(
            name="", slug=""), post=post,
        publications=[p for p in publications if p.status not in posts.SETTLED]
    ) if post.status == PostStatus.in_review else []
    zone = session.get(Workspace, post.workspace_id)
    names = {a.id: a for a in accounts.list_accounts(session=session,
                                                     workspace_id=post.workspace_id)}
    shown = [{"publication": p, "account": names.get(p.account_id)} for p in publications
             if p.status != "cancelled"]
    return {"thread": posts.review_thread(session=session, post_id=post.id or 0),
            "comment_max": posts.COMMENT_MAX, "saved": saved, "publications": publications,
            "per_account": shown, "outcome": posts.publication_outcome(publications),
            "locked": any(p.status not in posts.UNSENT and p.status != "cancelled"
                          for p in publications),
            "impacts": impacts, "deletable": post.status in posts.DELETABLE,
            "local_when": posts.local_time_of(post, zone.timezone if zone else
                                              post.scheduled_tz)}


@router.post("/w/{slug}/posts/{post_id}")
async def update_post(request: Request, post_id: int, session: SessionDep,
                      member: Member = require(Role.manager)) -> Response:
    form = await request.form()
    posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    version = _int_or_none(form.get("version")) or 0
    data = form_to_input(form)
    choice = await image_choice(form)
    try:
        _attach_image(member, data, choice)
        post = posts.update_post(session=session, actor=actor_of(member), post_id=post_id,
                                 expected_version=version, data=data, now=utcnow())
        if form.get("action") == "submit":
            post = posts.submit_for_review(session=session, actor=actor_of(member),
                                           post_id=post_id, expected_version=post.version,
                                           now=utcnow())
    except Invalid as exc:
        session.rollback()
        pending = _keep_for_retry(member, data, choice)
        post = posts.get_post(session=session, workspace_id=member.workspace_id,
                              post_id=post_id)
        context = composer_context(session, member, data, post=post, error=exc,
                                   pending_media=pending)
        context.update(_post_extras(session, post, saved=False))
        return render(request, "posts/compose.html", context, partial="posts/_form.html",
                      status_code=422)
    except BaseException:
        _discard_image(data)
        raise
    return _after_save(request, member, post)


@router.post("/w/{slug}/compose/preview")
async def compose_preview(request: Request, session: SessionDep,
                          member: Member = require(Role.manager)) -> Response:
    """Live per-account counters while typing (no upload, nothing saved)."""
    form = await request.form()
    data = form_to_input(form)
    data.fold = None
    all_accounts = accounts.list_accounts(session=session, workspace_id=member.workspace_id)
    post_id = _int_or_none(form.get("post_id"))
    post = posts.get_post(session=session, workspace_id=member.workspace_id,
                          post_id=post_id) if post_id else None
    pending = str(form.get("pending_media") or "")
    image = image_url(member, data, post, pending if MEDIA_NAME.match(pending) else "")
    return render(request, "posts/_previews.html", {
        "previews": _previews(member, data, all_accounts, post, session=session,
                              has_image=bool(image)),
        "platform_names": accounts.PLATFORMS, "oob": True, "image_url": image})


@router.get("/w/{slug}/compose/prompt")
def compose_prompt(request: Request, session: SessionDep, prompt_template: str = "",
                   member: Member = require(Role.manager)) -> Response:
    """The DM prompt fields filled from a saved template (htmx swaps them into the form)."""
    if not prompt_template.isdigit():
        return Response(status_code=204)  # "choose a template" again: leave the fields
    template = workspaces.get_prompt_template(session=session, workspace_id=member.workspace_id,
                                              template_id=int(prompt_template))
    data = posts.PostInput(dm_keyword=template.keyword, dm_product_url=template.product_url,
                           dm_prefill=template.prefill,
                           dm_call_to_action=template.call_to_action)
    return render(request, "posts/_dm_fields.html", {"data": data, "errors": {},
                                                     "refresh_previews": True})


@router.post("/w/{slug}/compose/compass")
async def compose_compass(request: Request, session: SessionDep,
                          member: Member = require(Role.manager)) -> Response:
    """Suggested value tags (with why) and the what-if balance per target account.

    The what-if uses the chosen time (where the post lands in each window) and, when editing,
    leaves the post's own publications out so it is not counted twice.
    """
    form = await request.form()
    # The suggester runs a sentence model (and a workspace's first suggestion may encode its
    # confirmed examples): never on the event loop, where it would hold up every request.
    return await run_in_threadpool(_compose_compass, request, session, member, form)


def _compose_compass(request: Request, session: Session, member: Member,
                     form: FormData) -> Response:
    text = str(form.get("text") or "")
    suggestion = balance.suggest(session=session, workspace_id=member.workspace_id, text=text)
    chosen = [str(t) for t in form.getlist("tags") if isinstance(t, str)]
    tags = chosen or [str(q) for q in suggestion.tags]
    account_ids = [int(v) for v in form.getlist("account_ids")
                   if isinstance(v, str) and v.isdigit()]
    impacts = balance.composer_impacts(
        session=session, workspace=member.workspace, tags=tags, account_ids=account_ids,
        post_id=_int_or_none(form.get("post_id")), fold=_int_or_none(form.get("fold")),
        scheduled_local=str(form.get("scheduled_local") or "")
        if form.get("when", "time") == "time" else "") if tags and account_ids else []
    warnings = [f"{i.account.handle}: {i.warning}" for i in impacts if i.warning]
    return render(request, "posts/_compass.html", {
        "suggestion": suggestion, "warnings": warnings, "impacts": impacts,
        "using_suggestion": not chosen,
        "labels": {"try": "Try new things", "share": "Share with others",
                   "care": "Care for others", "learn": "Learn new things"}})
