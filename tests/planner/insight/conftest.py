"""A brand with Mastodon, Bluesky, X and a webhook connected to the loopback fake platforms,
and helpers that publish real posts there and record them as published publications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from webclients import app, client, make_client  # noqa: F401 - shared fixtures
from webhelpers import PASSWORD

from planner import accounts
from planner.db import session_scope
from planner.models import Account, Post, PostStatus, Publication, PublicationStatus, Role
from planner.team import users, workspaces
from publishers import get_publisher
from publishers.base import Content, PublishContext
from sandbox import EXTERNAL_IDS, FakePlatform, credentials_for

HANDLES = {"mastodon": "@brand@fake.social", "bluesky": "brand.bsky.social", "x": "@brandx",
           "webhook": "hook"}



@dataclass
class Brand:
    workspace_id: int
    slug: str
    accounts: dict[str, int]
    admin_id: int
    engine: Engine
    fake: FakePlatform

    def publish(self, platform: str, text: str, tags: str, at: datetime) -> int:
        """Publish ``text`` on the fake through the real adapter; record it as published."""
        with session_scope(self.engine) as s:
            account = s.get(Account, self.accounts[platform])
            ref = accounts.account_ref(account, accounts.decrypt_credentials(
                account.credentials_enc))
        remote = ""
        if platform != "webhook":
            remote = get_publisher(platform).publish(
                Content(text=text), ref, PublishContext(idempotency_key=text[:60],
                                                        fingerprint="f")).remote_id
        with session_scope(self.engine) as s:
            post = Post(workspace_id=self.workspace_id, text=text, tags=tags,
                        status=PostStatus.approved)
            s.add(post)
            s.flush()
            pub = Publication(post_id=post.id, account_id=self.accounts[platform],
                              workspace_id=self.workspace_id,
                              status=PublicationStatus.published, published_at=at,
                              scheduled_at=at, remote_id=remote or f"hook-{post.id}")
            s.add(pub)
            s.flush()
            return pub.id or 0


@pytest.fixture
def brand(engine: Engine, fake: FakePlatform) -> Brand:
    with session_scope(engine) as s:
        ws = workspaces.create_workspace(session=s, name="Glow", timezone="Europe/Warsaw")
        admin = users.create_user(session=s, email="admin@glow.test", password=PASSWORD)
        users.add_member(session=s, workspace=ws, user=admin, role=Role.admin)
        for email, role in (("viewer@glow.test", Role.viewer),
                            ("manager@glow.test", Role.manager)):
            u = users.create_user(session=s, email=email, password=PASSWORD)
            users.add_member(session=s, workspace=ws, user=u, role=role)
        ids = {}
        for platform, handle in HANDLES.items():
            ids[platform] = accounts.create_account(
                session=s, workspace_id=ws.id, platform=platform, handle=handle,
                api_base=fake.base_url, credentials=credentials_for(platform, handle),
                external_id=EXTERNAL_IDS[platform]).id
        return Brand(ws.id, ws.slug, ids, admin.id, engine, fake)


def hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)
