"""Demo data: one brand, four accounts, an admin and a brand lead, a month of posts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from planner import accounts
from planner.db import utcnow
from planner.models import (
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    QueueSlot,
    Role,
    Workspace,
)
from planner.team import users, workspaces

DEMO_WORKSPACE = "Juniper Coffee Roasters"
DEMO_TIMEZONE = "Europe/Warsaw"
DEMO_USERS = (
    ("admin@poise.local", "Ada Admin", Role.admin),
    ("lead@poise.local", "Lena Lead", Role.brand_lead),
    ("manager@poise.local", "Max Manager", Role.manager),
)
DEMO_PASSWORD = "poise-demo-2026"  # noqa: S105 - printed at start; demo data only, never a real account
DEMO_ACCOUNTS = (
    ("mastodon", "@juniper@coffee.social", "Juniper on Mastodon"),
    ("bluesky", "juniper.bsky.social", "Juniper on Bluesky"),
    ("x", "@junipercoffee", "Juniper on X"),
    ("linkedin", "Juniper Coffee Roasters", "Juniper on LinkedIn"),
)

SAMPLE_POSTS: tuple[tuple[str, str], ...] = (
    ("try", "New this week: our Ethiopian Guji as a cold brew tonic. Be among the first!"),
    ("try", "Dare to skip the sugar? Order your flat white with oat and cardamom and tell us."),
    ("try", "Limited drop: a honey-processed Costa Rica. 200 bags, first come, first served."),
    ("share", "Show us your morning cup! Tag @junipercoffee and we'll repost our favourites."),
    ("share", "Bring a friend on Saturday: two cappuccinos for the price of one, all day."),
    ("share", "Which name for our winter blend? Reply with your pick: Ember, Hearth or Drift."),
    ("care", "Every bag sold this month plants a tree with our partner farms in Huila."),
    ("care", "Our baristas get paid training and a living wage. Meet Ola, six years with us."),
    ("care", "Cups are now 100% compostable, and bring-your-own gets 2 zł off."),
    ("learn", "How to dial in a V60 in three steps: grind, bloom 30 s, pour in circles."),
    ("learn", "Why does fresh coffee bubble? Degassing explained in 60 seconds."),
    ("learn", "Tip: store beans in an airtight tin away from light, never in the fridge."),
)


@dataclass(frozen=True)
class DemoSummary:
    workspace: Workspace
    created: bool
    logins: tuple[tuple[str, str, str], ...]  # (email, password, role)


def demo_platform_accounts(port: int) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """API bases and credentials pointing the demo accounts at the loopback fake platforms."""
    from sandbox import credentials_for

    base = f"http://127.0.0.1:{port}"
    bases = {platform: base for platform, _, _ in DEMO_ACCOUNTS}
    creds = {platform: credentials_for(platform, handle.lstrip("@").split("@")[0])
             for platform, handle, _ in DEMO_ACCOUNTS}
    return bases, creds


def demo_exists(session: Session) -> bool:
    return session.exec(select(Workspace).where(Workspace.name == DEMO_WORKSPACE)).first() \
        is not None


def seed_demo(*, session: Session, now: datetime | None = None,
              account_api_bases: dict[str, str] | None = None,
              account_credentials: dict[str, dict[str, str]] | None = None) -> DemoSummary:
    """Create the demo workspace once; later calls return it unchanged."""
    logins = tuple((email, DEMO_PASSWORD, role.value) for email, _, role in DEMO_USERS)
    existing = session.exec(select(Workspace).where(Workspace.name == DEMO_WORKSPACE)).first()
    if existing:
        return DemoSummary(existing, False, logins)
    now = now or utcnow()
    workspace = workspaces.create_workspace(session=session, name=DEMO_WORKSPACE,
                                            timezone=DEMO_TIMEZONE)
    people = []
    for email, name, role in DEMO_USERS:
        user = users.create_user(session=session, email=email, password=DEMO_PASSWORD, name=name)
        users.add_member(session=session, workspace=workspace, user=user, role=role)
        people.append(user)
    bases = account_api_bases or {}
    creds = account_credentials or {}
    demo_accounts = [
        accounts.create_account(session=session, workspace_id=workspace.id or 0,
                                platform=platform, handle=handle, display_name=display,
                                api_base=bases.get(platform, ""),
                                credentials=creds.get(platform, {}),
                                external_id=_external_id(platform),
                                actor_id=people[0].id)
        for platform, handle, display in DEMO_ACCOUNTS
    ]
    for account in demo_accounts:
        for weekday in (0, 2, 4):
            session.add(QueueSlot(account_id=account.id or 0, weekday=weekday, local_time="09:00"))
        session.add(QueueSlot(account_id=account.id or 0, weekday=5, local_time="11:30"))
    _seed_posts(session, workspace, people, demo_accounts, now)
    session.flush()
    seed_metric_history(session, workspace, demo_accounts, now)
    return DemoSummary(workspace, True, logins)


def _external_id(platform: str) -> str:
    from sandbox import EXTERNAL_IDS

    return EXTERNAL_IDS.get(platform, "")


def _seed_posts(session: Session, workspace: Workspace, people: list, accounts_: list,
                now: datetime) -> None:
    """A month around today: published in the past, approved ahead, some waiting for review."""
    rng = random.Random(7)
    zone = ZoneInfo(workspace.timezone)
    today = now.astimezone(zone).date()
    for offset in range(-14, 17):
        day = today + timedelta(days=offset)
        for slot in (time(9, 0), time(17, 30)):
            if rng.random() < 0.35:
                continue
            quadrant, text = rng.choice(SAMPLE_POSTS)
            local = datetime.combine(day, slot, tzinfo=zone)
            when = local.astimezone(UTC)
            past = when < now
            status = PostStatus.approved if past or offset < 9 else rng.choice(
                [PostStatus.draft, PostStatus.in_review, PostStatus.approved])
            post = Post(workspace_id=workspace.id or 0, author_id=people[2].id, text=text,
                        tags=quadrant, status=status, scheduled_at=when,
                        scheduled_local=local.strftime("%Y-%m-%dT%H:%M"),
                        scheduled_tz=workspace.timezone, created_at=when - timedelta(days=3),
                        submitted_at=when - timedelta(days=2)
                        if status != PostStatus.draft else None)
            session.add(post)
            session.flush()
            targets = rng.sample(accounts_, k=rng.choice([1, 2, 2, 3]))
            for account in targets:
                publication = Publication(
                    post_id=post.id or 0, account_id=account.id, workspace_id=workspace.id or 0,
                    scheduled_at=when, due_at=when,
                    idempotency_key=f"poise-demo-{post.id}-{account.id}",
                    status=PublicationStatus.published if past else PublicationStatus.pending)
                if past:
                    publication.published_at = when + timedelta(seconds=2)
                    publication.remote_id = f"demo-{post.id}-{account.id}"
                session.add(publication)


# --- insight (issue 15) ---------------------------------------------------------------------------

# What the demo's made-up audience responds to: a brand lead should see Care resonate on
# Mastodon and Learn on LinkedIn, Try fall flat on X, and nothing stand out on Bluesky.
DEMO_EFFECTS = {("mastodon", "care"): 2.3, ("linkedin", "learn"): 2.0, ("x", "try"): 0.5,
                ("x", "share"): 1.6}


def seed_metric_history(session: Session, workspace: Workspace, accounts_: list,
                        now: datetime) -> None:
    """A quarter of metric history: older published posts with readings, and readings for
    the month's published posts (their remote ids are made up, so the worker must not try to
    read them from the sandbox)."""
    from planner.insight import history
    from planner.models_insight import MetricCollection, MetricsOptIn

    texts: dict[str, list[str]] = {}
    for quadrant, text in SAMPLE_POSTS:
        texts.setdefault(quadrant, []).append(text)
    history.seed_history(session=session, workspace_id=workspace.id or 0, accounts=accounts_,
                         end=now - timedelta(days=15), days=76, posts_per_day=0.7,
                         effects=DEMO_EFFECTS, weekday_effects={("mastodon", 5): 1.8},
                         readings=True, texts=texts)
    existing = session.exec(select(Publication, Post.tags).join(
        Post, col(Post.id) == col(Publication.post_id)).where(
        Publication.workspace_id == workspace.id,
        Publication.status == PublicationStatus.published)).all()
    by_id = {a.id: a for a in accounts_}
    history.cover_existing(session=session, end=now, effects=DEMO_EFFECTS, publications=[
        (pub, by_id[pub.account_id], tags) for pub, tags in existing
        if pub.account_id in by_id and not session.get(
            MetricCollection, pub.id)])
    for account in accounts_:
        if account.platform == "x":  # the demo's X reads are free: it is the sandbox
            session.add(MetricsOptIn(account_id=account.id, enabled=True))
    session.flush()
