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
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, select

from compass import QUADRANTS_ORDER, Quadrant, parse_tags
from compass.resonance import (
    Cell,
    ChannelVerdict,
    Lift,
    Moments,
    ResonanceConfig,
    TimeCell,
    best_times,
    channel_verdict,
    quadrant_lifts,
)
from planner import conversions
from planner.db import utcnow
from planner.dbtypes import UTCDateTime
from planner.errors import Invalid
from planner.models import Account, Workspace

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
    cells: dict[int, list[Cell]]
    weekly: dict[int, list[Moments]]
    waiting: dict[int, int]
    unavailable: dict[int, int]
    reasons: dict[int, list[str]]


def _dt(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime)


def _fetch(session: Session, workspace: Workspace, start: datetime, end: datetime
           ) -> _Fetched:
    """Sums of scores per account, tags and local weekday x block (``slot``, stored when the
    row was made), added up by the database so a report over 100,000 posts moves about a
    thousand rows; weekly sums for the health trend; posts without metrics and why."""
    out = _Fetched(_cells(session, workspace, start, end), {}, defaultdict(int),
                   defaultdict(int), defaultdict(list))
    conn = session.connection()
    hstart = end - timedelta(weeks=HEALTH_WEEKS)
    # Week buckets by plain timestamp comparisons: cheaper than date arithmetic per row.
    bounds = {f"b{i}": hstart + timedelta(weeks=i) for i in range(1, HEALTH_WEEKS)}
    bucket = "CASE " + " ".join(f"WHEN mc.published_at < :b{i} THEN {i - 1}"
                                for i in range(1, HEALTH_WEEKS)) + f" ELSE {HEALTH_WEEKS - 1} END"
    for account_id, week, n, total, squares in conn.execute(text(
            f"SELECT mc.account_id, {bucket} AS wk, COUNT(*), SUM(mc.score), "
            f"SUM(mc.score * mc.score) FROM metriccollection mc WHERE mc.workspace_id = :ws "
            f"AND mc.published_at >= :hstart AND mc.published_at < :end "
            f"AND mc.score IS NOT NULL GROUP BY mc.account_id, wk")
            .bindparams(_dt("hstart"), _dt("end"), *(_dt(name) for name in bounds)),
            {"ws": workspace.id, "hstart": hstart, "end": end, **bounds}).all():
        weeks = out.weekly.setdefault(account_id, [Moments() for _ in range(HEALTH_WEEKS)])
        weeks[min(max(int(week), 0), HEALTH_WEEKS - 1)].merge(
            Moments(int(n), float(total), float(squares)))
    _without_metrics(session, workspace, start, end, out)
    return out


def _where(account_id: int | None) -> str:
    return ("mc.workspace_id = :ws AND mc.published_at >= :start AND mc.published_at < :end"
            + (" AND mc.account_id = :acc" if account_id is not None else ""))


def _cells(session: Session, workspace: Workspace, start: datetime, end: datetime,
           account_id: int | None = None) -> dict[int, list[Cell]]:
    """Score sums per account, tags and ``slot``; one account's only when ``account_id``."""
    out: dict[int, list[Cell]] = defaultdict(list)
    rows = session.connection().execute(text(
        f"SELECT mc.account_id, mc.tags, mc.slot, COUNT(*), SUM(mc.score), "
        f"SUM(mc.score * mc.score) FROM metriccollection mc WHERE {_where(account_id)} "
        f"AND mc.score IS NOT NULL GROUP BY mc.account_id, mc.tags, mc.slot")
        .bindparams(_dt("start"), _dt("end")),
        {"ws": workspace.id, "start": start, "end": end, "acc": account_id}).all()
    tags_cache: dict[str, tuple[Quadrant, ...]] = {}
    for row_account, tags, slot, n, total, squares in rows:
        wd, blk = divmod(int(slot), 4)
        key = tags or ""
        if key not in tags_cache:
            try:
                tags_cache[key] = parse_tags(key)
            except ValueError:
                tags_cache[key] = ()
        out[row_account].append(Cell(tags_cache[key], int(wd), min(int(blk), 3),
                                     Moments(int(n), float(total), float(squares))))
    return out


def _without_metrics(session: Session, workspace: Workspace, start: datetime, end: datetime,
                     out: _Fetched, account_id: int | None = None) -> None:
    """Published posts with no score yet: waiting for a reading, or never to have one."""
    for row_account, status, reason, n in session.connection().execute(text(
            f"SELECT mc.account_id, mc.status, mc.reason, COUNT(*) FROM metriccollection mc "
            f"WHERE {_where(account_id)} AND mc.score IS NULL "
            f"GROUP BY mc.account_id, mc.status, mc.reason")
            .bindparams(_dt("start"), _dt("end")),
            {"ws": workspace.id, "start": start, "end": end, "acc": account_id}).all():
        if status in ("not_available", "off"):
            out.unavailable[row_account] += int(n)
            if reason and reason not in out.reasons[row_account]:
                out.reasons[row_account].append(reason)
        else:
            out.waiting[row_account] += int(n)


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
    by_platform: dict[str, list[Cell]] = defaultdict(list)
    best: dict[str, list[TimeCell]] = {}
    best_q: dict[str, dict[str, list[TimeCell]]] = {}
    health: dict[str, ChannelVerdict] = {}
    for account in accounts_:
        aid = account.id or 0
        cells = fetched.cells.get(aid, [])
        posts = sum(c.moments.n for c in cells)
        label = f"{PLATFORM_LABELS.get(account.platform, account.platform)} {account.handle}"
        rows.append(Row(key=str(aid), label=label, platform=account.platform, posts=posts,
                        lifts=quadrant_lifts(cells, config), waiting=fetched.waiting[aid],
                        unavailable=fetched.unavailable[aid], reasons=fetched.reasons[aid]))
        if posts:
            # Pooled per platform relative to each account's own mean.
            mean = sum(c.moments.total for c in cells) / posts
            by_platform[account.platform] += [
                Cell(c.quadrants, c.weekday, c.block, c.moments.shifted(mean)) for c in cells]
        best[str(aid)] = [c for c in best_times(cells, config=config) if c.clear]
        best_q[str(aid)] = {q.value: [c for c in best_times(cells, quadrant=q, config=config)
                                      if c.clear] for q in QUADRANTS_ORDER}
        health[str(aid)] = channel_verdict(
            label, fetched.weekly.get(aid, [Moments() for _ in range(HEALTH_WEEKS)]),
            sales_recent=sales.get(str(aid), 0.0), sales_weeks=SALES_WEEKS,
            min_posts=config.min_posts)
    platform_rows = [Row(key=f"platform:{name}", label=PLATFORM_LABELS.get(name, name),
                         platform=name, posts=sum(c.moments.n for c in cells),
                         lifts=quadrant_lifts(cells, config))
                     for name, cells in sorted(by_platform.items())]
    return Report(start=start, end=end, config=config, accounts=rows, platforms=platform_rows,
                  best=best, best_by_quadrant=best_q, health=health)


@dataclass
class AccountTimes:
    """One account's best times, as the report computes them, without the rest of it."""

    posts: int  # posts with metrics in the period
    unavailable: int  # published posts whose platform gives no metrics
    cells: list[TimeCell]  # the clear cells, best first


def account_best_times(*, session: Session, workspace: Workspace, account_id: int,
                       end: datetime | None = None, config: ResonanceConfig | None = None
                       ) -> AccountTimes:
    """Best times of one account over the quarter to ``end``: the same numbers as
    ``report(...).best[str(account_id)]``, from that account's rows only (the slot grid asks
    on every click; the whole report also weighs every quadrant, platform and channel)."""
    end = end or utcnow()
    start = end - timedelta(days=DEFAULT_DAYS)
    config = config or ResonanceConfig()
    cells = _cells(session, workspace, start, end, account_id).get(account_id, [])
    missing = _Fetched(defaultdict(list), {}, defaultdict(int), defaultdict(int),
                       defaultdict(list))
    _without_metrics(session, workspace, start, end, missing, account_id)
    return AccountTimes(posts=sum(c.moments.n for c in cells),
                        unavailable=missing.unavailable[account_id],
                        cells=[c for c in best_times(cells, config=config) if c.clear])


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
