"""The Review card carries the conversation (issue 14): a post sent back and resubmitted shows
the earlier comments, who wrote them and what they decided."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from planner import posts
from planner.db import session_scope
from planner.models import Membership, Post, Role, User, Workspace


def _actor(session, world, email):
    user = session.exec(select(User).where(User.email == email)).one()
    role = session.exec(select(Membership.role).where(
        Membership.user_id == user.id, Membership.workspace_id == world.workspace_id)).one()
    return posts.Actor(user_id=user.id, role=Role(role),
                       workspace=session.get(Workspace, world.workspace_id))


def test_resubmitted_post_shows_the_earlier_comments(world, engine, make_client):
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        manager, lead = (_actor(s, world, "manager@acme.test"),
                         _actor(s, world, "lead@acme.test"))
        post = posts.create_post(session=s, actor=manager, now=now, data=posts.PostInput(
            text="Spring tune-up checklist", account_ids=[world.account_id], tags=["learn"],
            scheduled_local="2027-03-20T09:30"))
        post = posts.submit_for_review(session=s, actor=manager, post_id=post.id,
                                       expected_version=post.version, now=now)
        post = posts.request_changes(session=s, actor=lead, post_id=post.id,
                                     expected_version=post.version,
                                     comment="Name the <b>chain</b> lube brand", now=now)
        post_id = post.id
    with session_scope(engine) as s:
        post = s.get(Post, post_id)
        posts.submit_for_review(session=s, actor=_actor(s, world, "manager@acme.test"),
                                post_id=post_id, expected_version=post.version, now=now)
    page = make_client("manager@acme.test").get(f"/w/{world.slug}/review")
    card = page.text.split(f'id="review-{post_id}"', 1)[1].split("</article>", 1)[0]
    assert "Conversation (1)" in card and "asked for changes" in card
    assert "Name the &lt;b&gt;chain&lt;/b&gt; lube brand" in card  # escaped
