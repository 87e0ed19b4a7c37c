"""What resonates, best times and channel health for one workspace (reads; no writes).

The statistics are :mod:`compass.resonance`; this module fetches one row per post and account
(the latest normalised reading in ``metriccollection``), groups them and words the results.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from compass import QUADRANTS_ORDER, Quadrant, parse_tags
from compass.resonance import (
    ChannelVerdict,
    Lift,
    PostScore,
    ResonanceConfig,
    TimeCell,
    best_times,
    channel_verdict,
    quadrant_lifts,
)
from planner import conversions
from planner.db import utcnow
from planner.errors import Invalid
from planner.models import Account, Post, Workspace
from planner.models_insight import MetricCollection

PLATFORM_LABELS = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky",
                   "linkedin": "LinkedIn", "facebook": "Facebook", "instagram": "Instagram",
                   "threads": "Threads", "webhook": "Webhook"}
DEFAULT_DAYS = 91  # a quarter
HEALTH_WEEKS = 6
SALES_WEEKS = 8


@dataclass
class Row:
    """One channel (an account, or a platform pooling its accounts) across the quadrants."""

    key: str  # account id, or "platform:<name>"
    label: str
    platform: str
    posts: int
    lifts: dict[Quadrant, Lift]
    waiting: int = 0  # published posts with no reading yet
    unavailable: int = 0
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "label": self.label, "platform": self.platform,
                "posts": self.posts, "waiting": self.waiting,
                "metrics_not_available": self.unavailable, "reasons": self.reasons,
                "quadrants": {q.value: self.lifts[q].to_dict() | {
                    "label": q.label, "text": self.lifts[q].describe(
                        f"{q.label} posts on {self.label}")} for q in QUADRANTS_ORDER}}


@dataclass
class Report:
    start: datetime
    end: datetime
    config: ResonanceConfig
    accounts: list[Row]
    platforms: list[Row]
    best: dict[str, list[TimeCell]]  # account key -> clear cells, best first
    best_by_quadrant: dict[str, dict[str, list[TimeCell]]]
    health: dict[str, ChannelVerdict]

    def to_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "model": {"score": "log((engagements + 0.5) / denominator)",
                      "lift": "exp(mean score of the quadrant - mean score of the channel)",
                      "interval": f"{1 - self.config.alpha:.0%} Welch / Behrens-Fisher",
                      "min_posts": self.config.min_posts},
            "accounts": [r.to_dict() for r in self.accounts],
            "platforms": [r.to_dict() for r in self.platforms],
            "best_times": {k: [c.to_dict() for c in v] for k, v in self.best.items()},
            "best_times_by_quadrant": {k: {q: [c.to_dict() for c in cells]
                                           for q, cells in v.items()}
                                       for k, v in self.best_by_quadrant.items()},
            "health": {k: {"verdict": v.verdict, "reason": v.reason,
                           "engagement_change": None if v.change is None
                           else round(v.change, 3), "sales": v.sales}
                       for k, v in self.health.items()},
        }


@dataclass
class _Fetched:
    scores: dict[int, list[tuple[datetime, PostScore]]]
    waiting: dict[int, int]
    unavailable: dict[int, int]
    reasons: dict[int, list[str]]


def _fetch(session: Session, workspace: Workspace, start: datetime, end: datetime
           ) -> _Fetched:
    zone = ZoneInfo(workspace.timezone)
    out = _Fetched(defaultdict(list), defaultdict(int), defaultdict(int), defaultdict(list))
    rows = session.execute(
        sa_select(col(MetricCollection.account_id), col(MetricCollection.published_at),
                  col(MetricCollection.score), col(MetricCollection.status),
                  col(MetricCollection.reason), col(Post.tags))
        .join(Post, col(Post.id) == col(MetricCollection.post_id))
        .where(col(MetricCollection.workspace_id) == workspace.id,
               col(MetricCollection.published_at) >= start,
               col(MetricCollection.published_at) < end)).all()
    for account_id, published, score, status, reason, tags in rows:
        if score is None:
            if status in ("not_available", "off"):
                out.unavailable[account_id] += 1
                if reason and reason not in out.reasons[account_id]:
                    out.reasons[account_id].append(reason)
            else:
                out.waiting[account_id] += 1
            continue
        try:
            quadrants = parse_tags(tags or "")
        except ValueError:
            quadrants = ()
        local = published.astimezone(zone)
        out.scores[account_id].append((published, PostScore(
            quadrants=quadrants, score=score, weekday=local.weekday(), hour=local.hour)))
    return out


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Invalid.at("end", "The end must be after the start.")
    if end - start > timedelta(days=800):
        raise Invalid.at("start", "Choose at most about two years.")


def recent_sales(session: Session, workspace_id: int, end: datetime) -> dict[str, float]:
    """Sales per account (id as str) in the 8 weeks to ``end``: the larger of first- and
    last-touch credit, so a channel that opens or closes sales is not called a dud."""
    result = conversions.attribution.report(session=session, workspace_id=workspace_id,
                                            start=end - timedelta(weeks=SALES_WEEKS), end=end)
    out: dict[str, float] = defaultdict(float)
    for model in ("first", "last"):
        for key, funnel in result.by_channel.get(model, {}).items():
            out[key] = max(out[key], funnel.sales)
    return dict(out)


def report(*, session: Session, workspace: Workspace, start: datetime | None = None,
           end: datetime | None = None, config: ResonanceConfig | None = None,
           with_sales: bool = True) -> Report:
    """The insight report of a workspace over [start, end) (default: the last quarter)."""
    end = end or utcnow()
    start = start or end - timedelta(days=DEFAULT_DAYS)
    check_range(start, end)
    config = config or ResonanceConfig()
    sales = recent_sales(session, workspace.id or 0, end) if with_sales else {}
    fetched = _fetch(session, workspace, start, end)
    accounts_ = session.exec(select(Account).where(
        Account.workspace_id == workspace.id).order_by(col(Account.platform),
                                                        col(Account.handle))).all()
    rows: list[Row] = []
    by_platform: dict[str, list[PostScore]] = defaultdict(list)
    best: dict[str, list[TimeCell]] = {}
    best_q: dict[str, dict[str, list[TimeCell]]] = {}
    health: dict[str, ChannelVerdict] = {}
    for account in accounts_:
        aid = account.id or 0
        dated = fetched.scores.get(aid, [])
        posts = [p for _, p in dated]
        label = f"{PLATFORM_LABELS.get(account.platform, account.platform)} {account.handle}"
        rows.append(Row(key=str(aid), label=label, platform=account.platform, posts=len(posts),
                        lifts=quadrant_lifts(posts, config), waiting=fetched.waiting[aid],
                        unavailable=fetched.unavailable[aid], reasons=fetched.reasons[aid]))
        if posts:
            mean = fmean(p.score for p in posts)
            by_platform[account.platform] += [PostScore(p.quadrants, p.score - mean, p.weekday,
                                                        p.hour) for p in posts]
        best[str(aid)] = [c for c in best_times(posts, config=config) if c.clear]
        best_q[str(aid)] = {q.value: [c for c in best_times(posts, quadrant=q, config=config)
                                      if c.clear] for q in QUADRANTS_ORDER}
        health[str(aid)] = _health(label, dated, end, sales.get(str(aid), 0.0), config)
    platform_rows = [Row(key=f"platform:{name}", label=PLATFORM_LABELS.get(name, name),
                         platform=name, posts=len(posts), lifts=quadrant_lifts(posts, config))
                     for name, posts in sorted(by_platform.items())]
    return Report(start=start, end=end, config=config, accounts=rows, platforms=platform_rows,
                  best=best, best_by_quadrant=best_q, health=health)


def _health(label: str, dated: list[tuple[datetime, PostScore]], end: datetime,
            sales: float, config: ResonanceConfig) -> ChannelVerdict:
    weeks: list[list[float]] = [[] for _ in range(HEALTH_WEEKS)]
    start = end - timedelta(weeks=HEALTH_WEEKS)
    for published, post in dated:
        if published >= start:
            index = min(int((published - start) / timedelta(weeks=1)), HEALTH_WEEKS - 1)
            weeks[index].append(post.score)
    return channel_verdict(label, weeks, sales_recent=sales, sales_weeks=SALES_WEEKS,
                           min_posts=config.min_posts)


def grid_rows(report_: Report) -> list[Row]:
    """The rows the grid shows: accounts with posts, then the platforms pooling several."""
    shown = [r for r in report_.accounts if r.posts or r.unavailable or r.waiting]
    counts: dict[str, int] = defaultdict(int)
    for row in report_.accounts:
        counts[row.platform] += 1
    return shown + [r for r in report_.platforms if counts[r.platform] > 1]


CSV_HEADER = ("channel", "platform", "quadrant", "posts", "lift", "low", "high", "status",
              "channel_posts", "metrics_not_available")


def to_csv(report_: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in (*report_.accounts, *report_.platforms):
        for quadrant in QUADRANTS_ORDER:
            result = row.lifts[quadrant]
            writer.writerow([_cell(row.label), row.platform, quadrant.value, result.n,
                             _num(result.ratio), _num(result.low), _num(result.high),
                             result.status, row.posts, row.unavailable])
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _cell(text: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheets: prefix it (OWASP CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- in the flow --------------------------------------------------------------------------------

def hints(*, session: Session, workspace: Workspace, account_ids: list[int],
          quadrants: list[Quadrant], now: datetime | None = None,
          config: ResonanceConfig | None = None) -> list[str]:
    """For the composer: what the chosen value did on the chosen accounts, in one line each,
    e.g. "Care for others posts on Instagram @brand: 2.1x your typical engagement, 34 posts"."""
    if not account_ids or not quadrants:
        return []
    result = report(session=session, workspace=workspace, end=now, config=config,
                    with_sales=False)
    lines = []
    for row in result.accounts:
        if int(row.key) not in account_ids:
            continue
        for quadrant in quadrants:
            lines.append(row.lifts[quadrant].describe(f"{quadrant.label} posts on {row.label}"))
        if row.unavailable and not row.posts:
            lines.append(f"{row.label}: metrics not available ({'; '.join(row.reasons[:1])})")
    return lines


def resonance_by_quadrant(report_: Report, account_id: int) -> dict[Quadrant, Lift]:
    for row in report_.accounts:
        if row.key == str(account_id):
            return row.lifts
    return {}
