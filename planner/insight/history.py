"""Synthetic metric history: published posts with readings in which chosen values resonate on
chosen channels. Used by the demo (a quarter of history), the tests and bench/insight_bench.py.

The numbers are made up and the posts say so in their text; nothing here talks to a platform.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from compass.resonance import engagement_score
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
                 end: datetime, days: int = 91, posts_per_day: float = 1.0,
                 effects: Mapping[tuple[str, str], float] | None = None,
                 weekday_effects: Mapping[tuple[str, int], float] | None = None,
                 seed: int = 2026, readings: bool = True,
                 texts: Mapping[str, Sequence[str]] | None = None,
                 trends: Mapping[str, float] | None = None,
                 collect_more: bool = True) -> int:
    """Published posts over ``days`` before ``end`` on each account, with a latest reading.

    ``effects`` multiplies typical engagement: ``{("instagram", "care"): 2.0}``.
    ``weekday_effects``: ``{("mastodon", 5): 1.6}`` for Saturdays. ``trends``:
    ``{"bluesky": 0.85}`` multiplies a platform's engagement by 0.85 per week, up to ``end``
    (at most eight weeks back, so older posts do not dwarf the rest). Returns the number of
    publications made. With ``readings`` each gets its metric readings (six, like the
    default schedule), else only the summary row. ``collect_more=False`` marks the rows
    done: nobody will read them from a platform (the demo's history never went to one).
    """
    rng = random.Random(seed)
    effects = effects or {}
    weekday_effects = weekday_effects or {}
    made = 0
    for account in accounts:
        count = int(days * posts_per_day)
        for i in range(count):
            published = end - timedelta(days=days) + timedelta(
                seconds=rng.uniform(0, days * 86400))
            published = published.replace(hour=rng.choice((7, 8, 9, 12, 13, 17, 18, 19, 20)))
            if published >= end:
                continue
            tag = QUADRANTS[rng.randrange(4)]
            base = 30 * math.exp(rng.gauss(0, 0.6))
            engagement = base * effects.get((account.platform, tag), 1.0) * \
                weekday_effects.get((account.platform, published.weekday()), 1.0) * \
                _trend(trends, account.platform, published, end)
            choices = (texts or {}).get(tag) or (f"Sample post {i} about {tag}",)
            text = choices[i % len(choices)]
            post = Post(workspace_id=workspace_id, text=text, tags=tag,
                        status=PostStatus.approved, tag_source="manual",
                        scheduled_at=published, created_at=published, updated_at=published)
            session.add(post)
            session.flush()
            pub = Publication(post_id=post.id or 0, account_id=account.id or 0,
                              workspace_id=workspace_id, status=PublicationStatus.published,
                              scheduled_at=published, published_at=published,
                              remote_id=f"demo-{post.id}-{account.id}")
            session.add(pub)
            session.flush()
            _metrics(session, pub, account, engagement, end, rng, readings, tag,
                     collect_more)
            made += 1
        session.flush()
    return made


def cover_existing(*, session: Session, publications: Sequence[tuple[Publication, Account,
                                                                     str]],
                   end: datetime, effects: Mapping[tuple[str, str], float] | None = None,
                   seed: int = 2027, trends: Mapping[str, float] | None = None,
                   collect_more: bool = True) -> None:
    """Readings for publications that exist already (the demo's recent posts)."""
    rng = random.Random(seed)
    for pub, account, tag in publications:
        engagement = 30 * math.exp(rng.gauss(0, 0.6)) * (effects or {}).get(
            (account.platform, tag), 1.0) * _trend(trends, account.platform,
                                                   pub.published_at or end, end)
        _metrics(session, pub, account, engagement, end, rng, True, tag, collect_more)
    session.flush()


def _trend(trends: Mapping[str, float] | None, platform: str, published: datetime,
           end: datetime) -> float:
    factor = (trends or {}).get(platform)
    if not factor:
        return 1.0
    weeks_back = min(max((end - published) / timedelta(weeks=1), 0.0), 8.0)
    return float(factor ** -weeks_back)


def _metrics(session: Session, pub: Publication, account: Account, engagement: float,
             end: datetime, rng: random.Random, readings: bool, tags: str,
             collect_more: bool = True) -> None:

    published = pub.published_at or end
    workspace_id = pub.workspace_id
    workspace = session.get(Workspace, workspace_id)
    zone = workspace.timezone if workspace else "UTC"
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
                session.add(MetricReading(
                    publication_id=pub.id or 0, account_id=account.id or 0,
                    workspace_id=workspace_id, metric=metric,
                    value=round(value * grown), read_at=published + timedelta(hours=h)))
    next_due = next((published + timedelta(hours=h) for h in steps
                     if published + timedelta(hours=h) > end), None) if collect_more else None
    session.add(MetricCollection(
        publication_id=pub.id or 0, account_id=account.id or 0,
        workspace_id=workspace_id, post_id=pub.post_id, published_at=published,
        tags=tags, slot=local_slot(published, zone),
        status="collecting" if next_due else "done", stage=stage,
        reason="" if collect_more else SEEDED_REASON,
        next_due_at=next_due, read_at=published + timedelta(hours=steps[stage - 1])
        if stage else None,
        impressions=denominator if stage else None,
        engagements=engagements if stage else None,
        denominator=denominator if stage else None,
        score=engagement_score(engagements, denominator) if stage else None,
        latest=json.dumps(values if stage else {}, sort_keys=True)))
