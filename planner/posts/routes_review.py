"""The Review page: what waits for approval, oldest first, approved or sent back inline.

Every waiting post shows what approving it does to each target account's balance ("Try new
things 7 -> 8 of last 20 on @brand"); one that makes an account overweight asks first.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import col, select

from planner import accounts, balance, posts
from planner.models import Account, Post, PublicationStatus, Role, User
from planner.posts.textrules import feed_look, preview_for
from planner.web.deps import Member, SessionDep, require
from planner.web.render import render
from planner.web.security import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def review_item(session: SessionDep, member: Member, post: Post) -> dict[str, Any]:
    publications = [p for p in posts.publications_of(session=session, post_id=post.id or 0)
                    if p.status != PublicationStatus.cancelled]
    by_id = {a.id: a for a in session.exec(select(Account).where(
        col(Account.id).in_([p.account_id for p in publications]))).all()}
    author = session.get(User, post.author_id) if post.author_id else None
    previews: list[dict[str, Any]] = []
    over_limit: list[str] = []
    for p in publications:
        account = by_id[p.account_id]
        shown = preview_for(post=post, publication=p, account=account, session=session,
                            utm_campaign=member.workspace.utm_campaign)
        previews.append({"account": account, "preview": shown, "feed": feed_look(
            post=post, publication=p, account=account, shown=shown,
            has_image=bool(post.media_path), session=session,
            utm_campaign=member.workspace.utm_campaign)})
        if shown.count.over:
            over_limit.append(account.handle)
    impacts = balance.post_impacts(session=session, workspace=member.workspace, post=post,
                                   publications=publications)
    return {"post": post, "author": author, "previews": previews, "impacts": impacts,
            "warnings": [f"{i.account.handle}: {i.warning}" for i in impacts if i.warning],
            "thread": posts.review_thread(session=session, post_id=post.id or 0),
            # Approve waits until every target fits (the server refuses too: workflow.approve
            # checks content_problems, which counts the same as_sent text).
            "over_limit": over_limit}


@router.get("/w/{slug}/review")
def review_page(request: Request, session: SessionDep,
                member: Member = require(Role.viewer)) -> Response:
    waiting = posts.review_queue(session=session, workspace_id=member.workspace_id)
    return render(request, "review/index.html", {
        "items": [review_item(session, member, p) for p in waiting],
        "can_approve": member.can(Role.brand_lead), "platform_names": accounts.PLATFORMS})


def review_item_response(request: Request, session: SessionDep, member: Member,
                         post: Post) -> Response:
    """After approve / request changes: the item replaced by its outcome."""
    return render(request, "review/_item.html", {
        "item": review_item(session, member, post), "can_approve": member.can(Role.brand_lead),
        "platform_names": accounts.PLATFORMS, "done": True})
