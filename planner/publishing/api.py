"""REST API: the Publishing view, scriptable. Every publication with its status, filters and
paging, its attempts (the whole story), and the page's actions: retry, mark published, cancel."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from planner.models import PublicationStatus, Role
from planner.publishing import overview
from planner.web.deps import Member, SessionDep, require_api
from planner.web.problems import COMMON_ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["publishing"])


class AttemptOut(BaseModel):
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    error_class: str
    http_status: int | None
    detail: str
    worker: str


class PublicationItem(BaseModel):
    id: int
    post_id: int
    account_id: int
    platform: str
    handle: str
    status: str
    scheduled_at: datetime | None
    published_at: datetime | None
    attempts: int = Field(description="Sends made so far")
    remote_id: str
    remote_url: str
    last_error: str
    text: str
    history: list[AttemptOut] = Field(default_factory=list,
                                      description="Every send and lookup, oldest first")


class PublicationPage(BaseModel):
    total: int = Field(description="Every publication matching the filters")
    limit: int
    offset: int
    items: list[PublicationItem]
    counts: dict[str, int] = Field(description="Real totals per section of the Publishing "
                                   "page (upcoming, in_flight, needs_review, failed, missed, "
                                   "published), ignoring the filters")


class MarkPublishedIn(BaseModel):
    remote_url: str = Field(examples=["https://x.com/acme/status/1234567890"],
                            description="The post's https address on the platform")


def _utc(value: datetime | None) -> datetime | None:
    """A query's time in UTC; one without a zone is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _item(view: overview.PublicationView) -> PublicationItem:
    p = view.publication
    return PublicationItem(
        id=p.id or 0, post_id=p.post_id, account_id=p.account_id,
        platform=view.account.platform, handle=view.account.handle, status=str(p.status),
        scheduled_at=p.scheduled_at, published_at=p.published_at, attempts=p.attempts,
        remote_id=p.remote_id, remote_url=p.remote_url, last_error=p.last_error,
        text=p.text_variant or view.post.text,
        history=[AttemptOut(started_at=a.started_at, finished_at=a.finished_at,
                            outcome=a.outcome, error_class=a.error_class,
                            http_status=a.http_status, detail=a.detail, worker=a.worker)
                 for a in view.attempts])


def _one(session: SessionDep, member: Member, publication_id: int) -> PublicationItem:
    _, views = overview.find_publications(
        session=session, workspace_id=member.workspace_id,
        flt=overview.PublicationFilter(), limit=1, offset=0, publication_id=publication_id)
    return _item(views[0])


@router.get("/publications", response_model=PublicationPage, responses=COMMON_ERRORS)
def list_publications(
        session: SessionDep,
        status: list[PublicationStatus] = Query(default_factory=list,  # noqa: B008
                                                description="Repeat for several"),
        account_id: int | None = None, platform: str | None = None,
        since: datetime | None = Query(None, description="scheduled_at >= this (UTC)"),
        until: datetime | None = Query(None, description="scheduled_at < this (UTC)"),
        limit: int = 50, offset: int = 0,
        member: Member = require_api(Role.viewer)) -> PublicationPage:
    """Publications of the workspace, most recently changed first, with their attempts.
    `?status=needs_review` lists what needs a person."""
    flt = overview.PublicationFilter(
        statuses=tuple(status), account_id=account_id, platform=platform or None,
        since=_utc(since), until=_utc(until))
    total, views = overview.find_publications(session=session, workspace_id=member.workspace_id,
                                              flt=flt, limit=limit, offset=offset)
    return PublicationPage(total=total, limit=limit, offset=offset,
                           items=[_item(v) for v in views],
                           counts=overview.section_counts(session=session,
                                                          workspace_id=member.workspace_id))


@router.get("/publications/{publication_id}", response_model=PublicationItem,
            responses=COMMON_ERRORS)
def get_publication(publication_id: int, session: SessionDep,
                    member: Member = require_api(Role.viewer)) -> PublicationItem:
    """One publication with its whole story (404 for one of another workspace)."""
    return _one(session, member, publication_id)


@router.post("/publications/{publication_id}/retry", response_model=PublicationItem,
             responses=WRITE_ERRORS)
def retry(publication_id: int, session: SessionDep,
          member: Member = require_api(Role.manager)) -> PublicationItem:
    """Send again now with a fresh budget (failed, needs_review, missed; else 409). For
    needs_review this is your judgement that it did not go out."""
    overview.retry_publication(session=session, workspace_id=member.workspace_id,
                               publication_id=publication_id, actor_id=member.user_id)
    return _one(session, member, publication_id)


@router.post("/publications/{publication_id}/mark-published", response_model=PublicationItem,
             responses=WRITE_ERRORS)
def mark_published(publication_id: int, body: MarkPublishedIn, session: SessionDep,
                   member: Member = require_api(Role.manager)) -> PublicationItem:
    """You found it on the platform (or posted it by hand): record its https address."""
    overview.mark_published(session=session, workspace_id=member.workspace_id,
                            publication_id=publication_id, remote_url=body.remote_url,
                            actor_id=member.user_id)
    return _one(session, member, publication_id)


@router.post("/publications/{publication_id}/cancel", response_model=PublicationItem,
             responses=WRITE_ERRORS)
def cancel(publication_id: int, session: SessionDep,
           member: Member = require_api(Role.manager)) -> PublicationItem:
    """Cancel before it is sent (409 once it is being sent)."""
    overview.cancel_publication(session=session, workspace_id=member.workspace_id,
                                publication_id=publication_id, actor_id=member.user_id)
    return _one(session, member, publication_id)
