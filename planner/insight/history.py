"""Synthetic metric history: published posts with readings in which chosen values resonate on
chosen channels. Used by the demo (a quarter of history), the tests and bench/insight_bench.py.

The numbers are made up and the posts say so in their text; nothing here talks to a platform.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session

from compass.resonance import block_of, engagement_score
from planner.insight.collect import local_slot
from planner.models import (
    Account,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    Workspace,
)
from planner.models_insight import MetricCollection, MetricReading

QUADRANTS = ("try", "share", "care", "learn")
STEPS = (1, 6, 24, 72, 168, 672)  # hours: the default schedule
# Local posting hours: mornings, early afternoons and evenings (a brand's working day).
HOURS = (8, 9, 10, 13, 14, 18, 19, 20, 21)
SEEDED_REASON = "sample history seeded with the demo: never sent, so never read from a platform"
# Metrics the fakes' platforms give (the rest stay absent, as on the real platforms).
GIVEN = {"x": ("impressions", "likes", "reposts", "replies", "saves"),
         "mastodon": ("likes", "reposts", "replies"),
         "bluesky": ("likes", "reposts", "replies", "saves"),
         "linkedin": ("likes", "replies")}


def _values(platform: str, engagement: float, rng: random.Random) -> dict[str, float]:
    likes = max(0, round(engagement * 0.7))
    out = {"likes": float(likes), "reposts": float(round(engagement * 0.15)),
           "replies": float(round(engagement * 0.1)), "saves": float(round(engagement * 0.05)),
           # Reach does not follow the value: the audience sees posts alike and responds
           # to some more (an engagement *rate* effect).
           "impressions": float(round(30 * rng.uniform(25, 40) * math.exp(rng.gauss(0, 0.3))))}
    return {k: v for k, v in out.items() if k in GIVEN.get(platform, ("likes",))}


def seed_history(*, session: Session, workspace_id: int, accounts: Sequence[Account],
                 end: datetime, days: int = 91,
                 posts_per_day: float | Mapping[str, float] = 1.0,
                 effects: Mapping[tuple[str, str], float] | None = None,
                 weekday_effects: Mapping[tuple[str, int], float] | None = None,
                 slot_effects: Mapping[tuple[str, int, int], float] | None = None,
                 seed: int = 2026, readings: bool = True,
                 texts: Mapping[str, Sequence[str]] | None = None,
                 trends: Mapping[str, float] | None = None,
                 collect_more: bool = True) -> int:
    """Published posts on the ``days`` calendar days before ``end``'s (in the workspace's
    zone) on each account, at local posting hours (``HOURS``), with a latest reading.

    ``posts_per_day`` is one rate, or one per platform (a platform not named gets none).
    ``effects`` multiplies typical engagement: ``{("instagram", "care"): 2.0}``.
    ``weekday_effects``: ``{("mastodon", 5): 1.6}`` for Saturdays; ``slot_effects``:
    ``{("x", 2, 3): 2.0}`` for Wednesday evenings (local weekday, 6-hour block of
    ``compass.resonance.BLOCKS``). ``trends``: ``{"bluesky": 0.85}`` multiplies a platform's
    engagement by 0.85 per week, up to ``end`` (at most eight weeks back, so older posts do
    not dwarf the rest). Returns the number of publications made. With ``readings`` each gets
    its metric readings (six, like the default schedule), else only the summary row.
    ``collect_more=False`` marks the rows done: nobody will read them from a platform (the
    demo's history never went to one).

    Posts are placed by calendar day and local hour, so one seed gives the same local
    weekdays, hours and numbers whatever the date: a planted effect is found (or not) the
    same way on every day the demo starts, up to which weekday the window ends on.
    """
    rng = random.Random(seed)
    zone = ZoneInfo(_zone(session, workspace_id))
    last_day = end.astimezone(zone).date()
    effects = effects or {}
    weekday_effects = weekday_effects or {}
    slot_effects = slot_effects or {}
    made = 0
    for account in accounts:
        rate = (posts_per_day.get(account.platform, 0.0)
                if isinstance(posts_per_day, Mapping) else posts_per_day)
        planned: list[tuple[Post, datetime, str, float]] = []
        for i in range(int(days * rate)):
            day = last_day - timedelta(days=1 + rng.randrange(days))
            local = datetime.combine(day, time(rng.choice(HOURS), rng.randrange(60)),
                                     tzinfo=zone)
            published = local.astimezone(UTC)
            tag = QUADRANTS[rng.randrange(4)]
            engagement = 30 * math.exp(rng.gauss(0, 0.6)) * \
                effects.get((account.platform, tag), 1.0) * \
                weekday_effects.get((account.platform, local.weekday()), 1.0) * \
                slot_effects.get((account.platform, local.weekday(), block_of(local.hour)),
                                 1.0) * \
                _trend(trends, account.platform, published, end)
            choices = (texts or {}).get(tag) or (f"Sample post {i} about {tag}",)
            post = Post(workspace_id=workspace_id, text=choices[i % len(choices)], tags=tag,
                        status=PostStatus.approved, tag_source="manual",
                        scheduled_at=published, created_at=published, updated_at=published)
            planned.append((post, published, tag, engagement))
        # One flush per account: the ORM sends the rows in batches, not one by one.
        session.add_all([post for post, *_ in planned])
        session.flush()
        publications = []
        for post, published, _, _ in planned:
            publications.append(Publication(
                post_id=post.id or 0, account_id=account.id or 0, workspace_id=workspace_id,
                status=PublicationStatus.published, scheduled_at=published,
                published_at=published, remote_id=f"demo-{post.id}-{account.id}"))
        session.add_all(publications)
        session.flush()
        rows = _Rows()
        for pub, (_, _, tag, engagement) in zip(publications, planned, strict=True):
            _metrics(rows, pub, account, engagement, end, rng, readings, tag, str(zone),
                     collect_more)
        rows.insert(session)
        made += len(publications)
    return made


def cover_existing(*, session: Session, publications: Sequence[tuple[Publication, Account,
                                                                     str]],
                   end: datetime, effects: Mapping[tuple[str, str], float] | None = None,
                   slot_effects: Mapping[tuple[str, int, int], float] | None = None,
                   seed: int = 2027, trends: Mapping[str, float] | None = None,
                   collect_more: bool = True) -> None:
    """Readings for publications that exist already (the demo's recent posts), with the
    same value and time-of-week effects as ``seed_history``."""
    rng = random.Random(seed)
    rows = _Rows()
    zones: dict[int, str] = {}
    for pub, account, tag in publications:
        if pub.workspace_id not in zones:
            zones[pub.workspace_id] = _zone(session, pub.workspace_id)
        published = pub.published_at or end
        slot = local_slot(published, zones[pub.workspace_id])
        engagement = 30 * math.exp(rng.gauss(0, 0.6)) * (effects or {}).get(
            (account.platform, tag), 1.0) * (slot_effects or {}).get(
            (account.platform, *divmod(slot, 4)), 1.0) * _trend(
            trends, account.platform, published, end)
        _metrics(rows, pub, account, engagement, end, rng, True, tag, zones[pub.workspace_id],
                 collect_more)
    rows.insert(session)


def _zone(session: Session, workspace_id: int) -> str:
    workspace = session.get(Workspace, workspace_id)
    return workspace.timezone if workspace else "UTC"


def _trend(trends: Mapping[str, float] | None, platform: str, published: datetime,
           end: datetime) -> float:
    factor = (trends or {}).get(platform)
    if not factor:
        return 1.0
    weeks_back = min(max((end - published) / timedelta(weeks=1), 0.0), 8.0)
    return float(factor ** -weeks_back)


@dataclass
class _Rows:
    """Readings and summary rows to insert in a few statements (thousands of them in the
    demo: made one ORM object at a time they were most of its start-up time)."""

    readings: list[dict[str, object]] = field(default_factory=list)
    collections: list[dict[str, object]] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        session.flush()
        for table, rows in ((MetricReading, self.readings),
                            (MetricCollection, self.collections)):
            for start in range(0, len(rows), 2000):
                session.execute(insert(table), rows[start:start + 2000])
        self.readings, self.collections = [], []


def _metrics(rows: _Rows, pub: Publication, account: Account, engagement: float,
             end: datetime, rng: random.Random, readings: bool, tags: str, zone: str,
             collect_more: bool = True) -> None:
    published = pub.published_at or end
    workspace_id = pub.workspace_id
    steps = STEPS
    values = _values(account.platform, engagement, rng)
    values["link_clicks"] = float(rng.randrange(0, 3))
    stage = sum(1 for h in steps if published + timedelta(hours=h) <= end)
    engagements = sum(v for k, v in values.items() if k != "impressions")
    denominator = values.get("impressions")
    if readings:
        for h in steps[:stage]:
            grown = 1 - math.exp(-h / 12)
            for metric, value in values.items():
                rows.readings.append({
                    "publication_id": pub.id or 0, "account_id": account.id or 0,
                    "workspace_id": workspace_id, "metric": metric,
                    "value": float(round(value * grown)),
                    "read_at": published + timedelta(hours=h)})
    next_due = next((published + timedelta(hours=h) for h in steps
                     if published + timedelta(hours=h) > end), None) if collect_more else None
    rows.collections.append({
        "publication_id": pub.id or 0, "account_id": account.id or 0,
        "workspace_id": workspace_id, "post_id": pub.post_id, "published_at": published,
        "tags": tags, "slot": local_slot(published, zone),
        "status": "collecting" if next_due else "done", "stage": stage,
        "reason": "" if collect_more else SEEDED_REASON,
        "next_due_at": next_due, "lease_until": None,
        "read_at": published + timedelta(hours=steps[stage - 1]) if stage else None,
        "impressions": denominator if stage else None,
        "engagements": engagements if stage else None,
        "denominator": denominator if stage else None,
        "followers": None,
        "score": engagement_score(engagements, denominator) if stage else None,
        "latest": json.dumps(values if stage else {}, sort_keys=True)})
