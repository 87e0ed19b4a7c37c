"""A small brand with three channels, published posts with tags and a DM prompt, and people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from webclients import app, client, make_client  # noqa: F401 - shared fixtures
from webhelpers import PASSWORD

from planner import accounts
from planner.db import session_scope
from planner.models import Post, PostStatus, Publication, PublicationStatus, Role
from planner.team import users, workspaces

NOV = datetime(2026, 11, 1, tzinfo=UTC)


def day(n: int, hour: int = 9, minute: int = 0) -> datetime:
    """November 2026, day n (UTC)."""
    return datetime(2026, 11, n, hour, minute, tzinfo=UTC)


@dataclass
class Conv:
    workspace_id: int
    slug: str
    other_workspace_id: int
    x: int  # account ids
    ig: int
    masto: int
    p_try: int  # post ids: P1 "try" with DM keyword GLOW, P2 "try,learn", P3 "care"
    p_two: int
    p_care: int
    pub: dict[str, int]  # "x-try", "ig-try", "ig-two", "masto-care" -> publication id
    admin_id: int
    manager_id: int
    other_pub: int


@pytest.fixture
def conv(engine: Engine) -> Conv:
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Acme Glow", timezone="Europe/Warsaw")
        other = workspaces.create_workspace(session=s, name="Other", timezone="Europe/Warsaw")
        ids = {}
        for email, role in (("admin@acme.test", Role.admin), ("manager@acme.test", Role.manager),
                            ("viewer@acme.test", Role.viewer)):
            u = users.create_user(session=s, email=email, password=PASSWORD)
            users.add_member(session=s, workspace=ws, user=u, role=role)
            ids[role] = u.id
        stranger = users.create_user(session=s, email="admin@other.test", password=PASSWORD)
        users.add_member(session=s, workspace=other, user=stranger, role=Role.admin)
        x = accounts.create_account(session=s, workspace_id=ws.id, platform="x",
                                    handle="@acmeglow", external_id="1000",
                                    credentials={"access_token": "x-token"})
        ig = accounts.create_account(session=s, workspace_id=ws.id, platform="instagram",
                                     handle="acmeglow", external_id="17841400000",
                                     credentials={"access_token": "ig-token"})
        masto = accounts.create_account(session=s, workspace_id=ws.id, platform="mastodon",
                                        handle="@acme@glow.social")
        other_acct = accounts.create_account(session=s, workspace_id=other.id, platform="x",
                                             handle="@other")

        def post(tags: str, keyword: str = "", workspace_id: int = ws.id) -> Post:
            p = Post(workspace_id=workspace_id, text=f"A {tags} post", tags=tags,
                     status=PostStatus.approved, dm_keyword=keyword,
                     dm_product_url="https://shop.acme.test/glow" if keyword else "",
                     link="https://shop.acme.test/serum")
            s.add(p)
            s.flush()
            return p

        def publish(p: Post, account_id: int, when: datetime,
                    workspace_id: int = ws.id) -> int:
            pub = Publication(post_id=p.id, account_id=account_id, workspace_id=workspace_id,
                              status=PublicationStatus.published, published_at=when,
                              scheduled_at=when, remote_id=f"r{p.id}-{account_id}")
            s.add(pub)
            s.flush()
            return pub.id

        p_try, p_two, p_care = post("try", "GLOW"), post("try,learn"), post("care")
        pubs = {"x-try": publish(p_try, x.id, datetime(2026, 10, 15, tzinfo=UTC)),
                "ig-try": publish(p_try, ig.id, datetime(2026, 10, 15, tzinfo=UTC)),
                "ig-two": publish(p_two, ig.id, datetime(2026, 10, 20, tzinfo=UTC)),
                "masto-care": publish(p_care, masto.id, datetime(2026, 10, 25, tzinfo=UTC))}
        other_post = post("try", "GLOW", workspace_id=other.id)
        other_pub = publish(other_post, other_acct.id, datetime(2026, 10, 15, tzinfo=UTC),
                            workspace_id=other.id)
        return Conv(ws.id, ws.slug, other.id, x.id, ig.id, masto.id, p_try.id, p_two.id,
                    p_care.id, pubs, ids[Role.admin], ids[Role.manager], other_pub)
