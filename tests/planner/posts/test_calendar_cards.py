"""The month grid shows one card per post (issue 14): a post on several accounts is one card
with each network's icon, and "+N more" counts posts, not publications."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from planner import accounts, posts
from planner.db import session_scope
from planner.models import Role, User, Workspace
from planner.posts import calendar


def _bluesky(session, world):
    return accounts.create_account(session=session, workspace_id=world.workspace_id,
                                   platform="bluesky", handle="acme.bsky.social").id


def test_one_card_per_post_and_more_counts_posts(world, engine, make_client):
    with session_scope(engine) as s:
        bsky = _bluesky(s, world)
        admin = s.exec(select(User).where(User.email == "admin@acme.test")).one()
        actor = posts.Actor(user_id=admin.id, role=Role.admin,
                            workspace=s.get(Workspace, world.workspace_id))
        for i in range(6):
            posts.create_post(session=s, actor=actor, now=datetime.now(UTC), data=posts.PostInput(
                text=f"Two networks {i}\nsecond line {i}", account_ids=[world.account_id, bsky],
                tags=["care"], scheduled_local=f"2026-12-09T{9 + i:02d}:00"))
        day = calendar.load_days(session=s, workspace_id=world.workspace_id,
                                 zone="Europe/Warsaw", start=date(2026, 12, 9), days=1)[0]
    assert len(day.posts) == 4 and day.total == 6 and day.more == 2
    first = day.posts[0]
    assert first.platforms == ["mastodon", "bluesky"] and len(first.publications) == 2
    assert first.display_status == "draft"
    page = make_client("viewer@acme.test").get(f"/w/{world.slug}/calendar?date=2026-12-01")
    cell = page.text.split('data-date="2026-12-09"', 1)[1].split('role="gridcell"', 1)[0]
    assert cell.count('class="card-pub') == 4 and "+2 more" in cell
    assert cell.count("pf-icon pf-bluesky") == 4 and cell.count("pf-icon pf-mastodon") == 4
    # the phone agenda is the same markup restyled: each day carries its agenda heading
    assert "Wed 09 Dec" in cell and page.text.count('id="pub-') == 4
