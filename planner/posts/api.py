"""REST API: posts and their workflow, the calendar, queue slots, CSV import."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from planner import accounts, posts
from planner.db import utcnow
from planner.errors import FieldProblem, Invalid
from planner.models import Post, PostStatus, Role, post_shown
from planner.posts import calendar, csvio, schedule
from planner.web.deps import Member, SessionDep, require_api
from planner.web.problems import COMMON_ERRORS, WRITE_ERRORS
from publishers import netguard

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["posts"])


class PostIn(BaseModel):
    text: str = Field(examples=["How to dial in a V60 in three steps."])
    account_ids: list[int] = Field(default_factory=list, examples=[[1, 2]])
    variants: dict[int, str] = Field(default_factory=dict,
                                     description="Per-account text, keyed by account id")
    link: str = ""
    tags: list[str] = Field(default_factory=list, examples=[["learn"]],
                            description="One or two of try, share, care, learn")
    tag_source: str = "manual"
    dm_keyword: str = ""
    dm_product_url: str = ""
    dm_prefill: str = ""
    dm_call_to_action: str = Field("", examples=["DM us GLOW for 10% off"],
                                   description="Empty: \"DM us KEYWORD for the link\"")
    scheduled_local: str = Field("", examples=["2026-12-01T09:30"],
                                 description="Wall time in the workspace's zone")
    fold: int | None = Field(None, description="0/1: which of a repeated wall time (DST)")
    add_to_queue: bool = Field(False, description="Take the next queue slot that every "
                               "target account has and that is free on all of them")
    publish_now: bool = Field(False, description="Publish as soon as approved (no time)")

    def to_input(self) -> posts.PostInput:
        return posts.PostInput(**self.model_dump())


class PostUpdateIn(PostIn):
    version: int = Field(description="The version you edited; a stale one gets 409")


class VersionIn(BaseModel):
    version: int


class ApproveIn(VersionIn):
    comment: str = ""
    confirm_balance: bool = Field(False, description="Approve even though it makes an account "
                                  "overweight (otherwise 409 with the reason)")


class CommentIn(VersionIn):
    comment: str = ""


class PublicationOut(BaseModel):
    id: int
    account_id: int
    status: str
    scheduled_at: datetime | None
    text_variant: str | None
    remote_url: str
    last_error: str


class PostOut(BaseModel):
    id: int
    status: str
    version: int
    text: str
    link: str
    tags: list[str]
    tag_source: str
    dm_keyword: str
    dm_product_url: str
    dm_prefill: str
    dm_call_to_action: str
    author_id: int | None
    scheduled_at: datetime | None
    scheduled_local: str
    timezone: str
    publications: list[PublicationOut]


def _out(session: SessionDep, post: Post) -> PostOut:
    pubs = posts.publications_of(session=session, post_id=post.id or 0)
    return PostOut(
        id=post.id or 0, status=str(post.status), version=post.version, text=post.text,
        link=post.link, tags=[t for t in post.tags.split(",") if t], tag_source=post.tag_source,
        dm_keyword=post.dm_keyword, dm_product_url=post.dm_product_url,
        dm_prefill=post.dm_prefill, dm_call_to_action=post.dm_call_to_action,
        author_id=post.author_id, scheduled_at=post.scheduled_at,
        scheduled_local=post.scheduled_local,
        timezone=post.scheduled_tz,
        publications=[PublicationOut(id=p.id or 0, account_id=p.account_id, status=str(p.status),
                                     scheduled_at=p.scheduled_at, text_variant=p.text_variant,
                                     remote_url=netguard.safe_link(p.remote_url),
                                     last_error=p.last_error)
                      for p in pubs])


def _actor(member: Member) -> posts.Actor:
    return posts.Actor(user_id=member.user_id, role=member.role, workspace=member.workspace)


@router.get("/posts", response_model=list[PostOut], responses=COMMON_ERRORS)
def list_posts(session: SessionDep, status: PostStatus | None = None,
               limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0),
               member: Member = require_api(Role.viewer)) -> list[PostOut]:
    """Posts of the workspace, newest first, optionally by workflow status."""
    query = select(Post).where(Post.workspace_id == member.workspace_id, post_shown())
    if status:
        query = query.where(Post.status == status)
    rows = session.exec(query.order_by(col(Post.id).desc()).limit(min(limit, 500))
                        .offset(offset)).all()
    return [_out(session, p) for p in rows]


@router.post("/posts", response_model=PostOut, status_code=201, responses=WRITE_ERRORS)
def create_post(body: PostIn, session: SessionDep,
                member: Member = require_api(Role.manager)) -> PostOut:
    """Create a draft post for one or more accounts."""
    post = posts.create_post(session=session, actor=_actor(member), data=body.to_input(),
                             now=utcnow())
    return _out(session, post)


@router.get("/posts/{post_id}", response_model=PostOut, responses=COMMON_ERRORS)
def get_post(post_id: int, session: SessionDep,
             member: Member = require_api(Role.viewer)) -> PostOut:
    """One post with its publications (404 for a post of another workspace)."""
    return _out(session, posts.get_post(session=session, workspace_id=member.workspace_id,
                                        post_id=post_id))


@router.delete("/posts/{post_id}", status_code=204, responses=WRITE_ERRORS,
               response_class=Response)
def delete_post(post_id: int, session: SessionDep,
                member: Member = require_api(Role.manager)) -> Response:
    """Delete a draft, a post sent back for changes, or a cancelled post that never went out.

    Anything else is refused with 409: withdraw or cancel it first; a post that was sent
    (or tried) on any account stays as a record.
    """
    posts.delete_post(session=session, actor=_actor(member), post_id=post_id)
    return Response(status_code=204)


@router.put("/posts/{post_id}", response_model=PostOut, responses=WRITE_ERRORS)
def update_post(post_id: int, body: PostUpdateIn, session: SessionDep,
                member: Member = require_api(Role.manager)) -> PostOut:
    """Replace a post's content (compare-and-set on `version`). Approved posts go back to
    review."""
    data = PostIn.model_validate(body.model_dump(exclude={"version"})).to_input()
    post = posts.update_post(session=session, actor=_actor(member), post_id=post_id,
                             expected_version=body.version, data=data, now=utcnow())
    return _out(session, post)


def _workflow(name: str, summary: str) -> None:
    service = {"submit": posts.submit_for_review, "withdraw": posts.back_to_draft,
               "cancel": posts.cancel, "publish-now": posts.publish_now}[name]

    def endpoint(post_id: int, body: VersionIn, session: SessionDep,
                 member: Member = require_api(Role.manager)) -> PostOut:
        post = service(session=session, actor=_actor(member), post_id=post_id,
                       expected_version=body.version, now=utcnow())
        return _out(session, post)

    endpoint.__doc__ = summary
    router.add_api_route(f"/posts/{{post_id}}/{name}", endpoint, methods=["POST"],
                         response_model=PostOut, responses=WRITE_ERRORS, name=f"{name}_post",
                         summary=summary)


_workflow("submit", "Submit a draft for review")


@router.post("/posts/{post_id}/approve", response_model=PostOut, responses=WRITE_ERRORS)
def approve_post(post_id: int, body: ApproveIn, session: SessionDep,
                 member: Member = require_api(Role.manager)) -> PostOut:
    """Approve a post in review (brand leads and admins). 409 if it tips an account's value
    balance, unless `confirm_balance` is true."""
    post = posts.approve(session=session, actor=_actor(member), post_id=post_id,
                         expected_version=body.version, comment=body.comment,
                         confirm_balance=body.confirm_balance, now=utcnow())
    return _out(session, post)

_workflow("withdraw", "Take a post back to draft")
_workflow("cancel", "Cancel every unsent publication of a post")
_workflow("publish-now", "Publish as soon as approved: an approved post is due now, a draft "
          "goes to review")


@router.post("/posts/{post_id}/duplicate", response_model=PostOut, status_code=201,
             responses=WRITE_ERRORS)
def duplicate_post(post_id: int, session: SessionDep,
                   member: Member = require_api(Role.manager)) -> PostOut:
    """Copy a post as a new draft (managers and up): the same text, per-account texts, link,
    image, tags, DM prompt and accounts. The time is kept only while it is still ahead; a
    "Publish now" post's copy has no time. Any post can be copied, a published one too; the
    original is not changed. 404 for a post of another workspace."""
    copy = posts.duplicate(session=session, actor=_actor(member), post_id=post_id,
                           now=utcnow())
    return _out(session, copy)


class CommentOut(BaseModel):
    id: int
    author_id: int
    author_name: str
    decision: str = Field(description="approved, changes_requested, or comment (a comment "
                          "outside any decision)")
    comment: str
    created_at: datetime


class NewComment(BaseModel):
    comment: str = Field(examples=["@ola can you check the photo?"],
                         description="1 to 2000 characters; @first-name or @e-mail-name "
                         "tells a teammate")


@router.get("/posts/{post_id}/comments", response_model=list[CommentOut],
            responses=COMMON_ERRORS)
def list_comments(post_id: int, session: SessionDep,
                  member: Member = require_api(Role.viewer)) -> list[CommentOut]:
    """The post's review thread, oldest first: decisions with their comments, and comments."""
    posts.get_post(session=session, workspace_id=member.workspace_id, post_id=post_id)
    return [CommentOut(id=r.id or 0, author_id=r.reviewer_id, author_name=name,
                       decision=r.decision, comment=r.comment, created_at=r.created_at)
            for r, name in posts.review_thread(session=session, post_id=post_id)]


@router.post("/posts/{post_id}/comments", response_model=CommentOut, status_code=201,
             responses=WRITE_ERRORS)
def add_comment(post_id: int, body: NewComment, session: SessionDep,
                member: Member = require_api(Role.manager)) -> CommentOut:
    """Add a comment to the post's thread (managers and up). The author and the others in the
    thread are notified, and anyone @mentioned."""
    review = posts.add_comment(session=session, actor=_actor(member), post_id=post_id,
                               comment=body.comment, now=utcnow())
    name = next((n for r, n in posts.review_thread(session=session, post_id=post_id)
                 if r.id == review.id), "")
    return CommentOut(id=review.id or 0, author_id=review.reviewer_id, author_name=name,
                      decision=review.decision, comment=review.comment,
                      created_at=review.created_at)


@router.post("/posts/{post_id}/request-changes", response_model=PostOut,
             responses=WRITE_ERRORS)
def request_changes(post_id: int, body: CommentIn, session: SessionDep,
                    member: Member = require_api(Role.manager)) -> PostOut:
    """Send a post in review back to its author with a comment (brand leads and admins)."""
    post = posts.request_changes(session=session, actor=_actor(member), post_id=post_id,
                                 expected_version=body.version, comment=body.comment,
                                 now=utcnow())
    return _out(session, post)


class CalendarItem(BaseModel):
    publication_id: int
    post_id: int
    at: datetime
    local: str
    status: str
    platform: str
    handle: str
    first_line: str
    tags: list[str]


class CalendarPage(BaseModel):
    total: int
    items: list[CalendarItem]


STATUSES = sorted(calendar.STATUSES)


@router.get("/calendar", response_model=CalendarPage, responses=COMMON_ERRORS)
def calendar_range(session: SessionDep, start: date, days: int = 31, account: int | None = None,
                   status: str = "", author: int | None = None, quadrant: str = "",
                   limit: int = 500, offset: int = 0,
                   member: Member = require_api(Role.viewer)) -> CalendarPage:
    """Publications from local day `start` for `days` days, in time order.

    Filters: `account` (id), `status` (a workflow or publishing state; cancelled ones are
    left out unless you ask for `cancelled`), `author` (user id), `quadrant` (try, share,
    care, learn)."""
    problems = []
    if not 1 <= days <= 366:
        problems.append(FieldProblem(("query", "days"), "days must be between 1 and 366."))
    if status and status not in STATUSES:
        problems.append(FieldProblem(("query", "status"), f"Unknown status {status!r}; use "
                                     f"one of {', '.join(STATUSES)}."))
    if quadrant and quadrant not in posts.QUADRANTS:
        problems.append(FieldProblem(("query", "quadrant"), f"Unknown quadrant {quadrant!r}; "
                                     f"use one of {', '.join(posts.QUADRANTS)}."))
    if offset < 0 or limit < 1:
        problems.append(FieldProblem(("query", "limit"), "limit must be 1 or more and offset "
                                     "0 or more."))
    if problems:
        raise Invalid("; ".join(p.message for p in problems), problems=problems)
    cards, total = calendar.list_view(
        session=session, workspace_id=member.workspace_id, zone=member.workspace.timezone,
        start=start, days=days, filters=calendar.Filters(account_id=account, status=status,
                                                         author_id=author, quadrant=quadrant),
        limit=min(limit, 5000), offset=offset)
    return CalendarPage(total=total, items=[CalendarItem(
        publication_id=c.publication_id, post_id=c.post_id, at=c.at,
        local=c.local.strftime("%Y-%m-%dT%H:%M"), status=c.display_status, platform=c.platform,
        handle=c.handle, first_line=c.first_line, tags=list(c.tags)) for c in cards])


class SlotIO(BaseModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    local_time: str = Field(examples=["09:00"])


@router.get("/accounts/{account_id}/slots", response_model=list[SlotIO],
            responses=COMMON_ERRORS, tags=["queue"])
def get_slots(account_id: int, session: SessionDep,
              member: Member = require_api(Role.viewer)) -> list[SlotIO]:
    """The account's weekly posting schedule (workspace local time)."""
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    return [SlotIO(weekday=s.weekday, local_time=s.local_time.strftime("%H:%M"))
            for s in schedule.slots_of(session=session, account_id=account.id or 0)]


@router.put("/accounts/{account_id}/slots", response_model=list[SlotIO],
            responses=WRITE_ERRORS, tags=["queue"])
def put_slots(account_id: int, body: list[SlotIO], session: SessionDep,
              member: Member = require_api(Role.manager)) -> list[SlotIO]:
    """Replace the account's weekly posting schedule."""
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    slots = schedule.set_slots(session=session, account=account,
                               slots=[(s.weekday, s.local_time) for s in body],
                               actor_id=member.user_id)
    return [SlotIO(weekday=s.weekday, local_time=s.local_time.strftime("%H:%M")) for s in slots]


@router.post("/accounts/{account_id}/slots", response_model=list[SlotIO],
             responses=WRITE_ERRORS, tags=["queue"])
def add_slot(account_id: int, body: SlotIO, session: SessionDep,
             member: Member = require_api(Role.manager)) -> list[SlotIO]:
    """Add one weekly time (an existing one is left as it is); answers the whole schedule."""
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    slots = schedule.add_slot(session=session, account=account, weekday=body.weekday,
                              at=body.local_time, actor_id=member.user_id)
    return [SlotIO(weekday=s.weekday, local_time=s.local_time.strftime("%H:%M")) for s in slots]


@router.delete("/accounts/{account_id}/slots/{weekday}/{local_time}",
               response_model=list[SlotIO], responses=WRITE_ERRORS, tags=["queue"])
def delete_slot(account_id: int, weekday: int, local_time: str, session: SessionDep,
                member: Member = require_api(Role.manager)) -> list[SlotIO]:
    """Remove one weekly time (``local_time`` as HH:MM; a missing one is not an error)."""
    account = accounts.get_account(session=session, workspace_id=member.workspace_id,
                                   account_id=account_id)
    slots = schedule.remove_slot(session=session, account=account, weekday=weekday,
                                 at=local_time, actor_id=member.user_id)
    return [SlotIO(weekday=s.weekday, local_time=s.local_time.strftime("%H:%M")) for s in slots]


class ImportOut(BaseModel):
    created: int
    submitted: int


@router.post("/import", response_model=ImportOut, responses=WRITE_ERRORS, tags=["import"],
             openapi_extra={"requestBody": {"content": {"text/csv": {"example":
                 "local_time,accounts,text,tags\n2026-12-01 09:00,@brand,Hello,learn\n"}}}})
async def import_posts(request: Request, session: SessionDep,
                       member: Member = require_api(Role.manager)) -> ImportOut:
    """Import a calendar from CSV (see the README for columns): all rows or none, in batches.

    The body is UTF-8 (or UTF-16 with a BOM). Any problem refuses the whole file with 422;
    `errors` lists each one as `["line", n, column]`, or `["file"]` for the file itself
    (wrong encoding, missing columns ...)."""
    raw = await request.body()
    workspace_id, user_id = member.workspace_id, member.user_id
    session.commit()  # the import owns its short transactions; this request holds no lock
    result = await run_in_threadpool(csvio.import_file, workspace_id=workspace_id,
                                     user_id=user_id, raw=raw, now=utcnow())
    return ImportOut(created=result.created, submitted=result.submitted)

