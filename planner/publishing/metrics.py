"""Prometheus text exposition of the publishing pipeline, built by hand from SQL counts.

Mounted by the web layer at /metrics. Every figure is computed on the database's clock, so it
is the same whichever process answers.

Besides the counts by state: how late published posts went out (``published_at -
scheduled_at``), as a cumulative histogram over every published publication (for rates and
``histogram_quantile``) and as exact quantiles over those published in the last hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from planner.models import PublicationStatus

_GAUGES = [
    ("poise_publications_due", "Publications due now and not yet claimed."),
    ("poise_publications_in_flight", "Publications claimed or being sent."),
    ("poise_publications_published", "Publications published."),
    ("poise_publications_failed", "Publications that failed for good."),
    ("poise_publications_unknown", "Publications whose outcome is being reconciled."),
    ("poise_publications_needs_review", "Publications a person must check."),
    ("poise_publications_missed", "Publications later than the lateness window, not sent."),
    ("poise_publishing_oldest_due_lateness_seconds",
     "How late the oldest due publication is, in seconds (0 when none is due)."),
]

LATENESS = "poise_publishing_lateness_seconds"
RECENT_LATENESS = "poise_publishing_recent_lateness_seconds"
# Upper bounds in seconds: "at its instant" through "after an outage" (the window is 1 h).
LATENESS_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
RECENT_QUANTILES = (0.5, 0.95, 0.99)
RECENT_WINDOW_SECONDS = 3600


def _now_sql(dialect: str) -> str:
    if dialect == "sqlite":
        return "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"
    return "(now() AT TIME ZONE 'utc')"


def _seconds_between_sql(dialect: str, start: str, end: str) -> str:
    if dialect == "sqlite":
        return f"((julianday({end}) - julianday({start})) * 86400.0)"
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def _as_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value if isinstance(value, datetime) else None


def publishing_figures(session: Session) -> dict[str, float]:
    bind = session.get_bind()
    now = _now_sql(bind.dialect.name)
    by_status = {str(status): int(count) for status, count in session.execute(text(
        "SELECT status, count(*) FROM publication GROUP BY status")).all()}
    due_row = session.execute(text(
        f"SELECT count(*), min(due_at), {now} FROM publication p "
        "JOIN account a ON a.id = p.account_id JOIN post ON post.id = p.post_id "
        f"WHERE p.status IN ('pending', 'retry_wait') AND p.due_at <= {now} "
        "AND post.status = 'approved' AND a.status = 'ok'")).one()
    oldest, db_now = _as_datetime(due_row[1]), _as_datetime(due_row[2])
    lateness = (db_now - oldest).total_seconds() if oldest and db_now else 0.0
    status = PublicationStatus
    return {
        "poise_publications_due": float(due_row[0]),
        "poise_publications_in_flight": float(by_status.get(status.claimed, 0)
                                              + by_status.get(status.sending, 0)),
        "poise_publications_published": float(by_status.get(status.published, 0)),
        "poise_publications_failed": float(by_status.get(status.failed, 0)),
        "poise_publications_unknown": float(by_status.get(status.unknown, 0)),
        "poise_publications_needs_review": float(by_status.get(status.needs_review, 0)),
        "poise_publications_missed": float(by_status.get(status.missed, 0)),
        "poise_publishing_oldest_due_lateness_seconds": max(0.0, lateness),
    }


def _lateness_sql(dialect: str) -> str:
    seconds = _seconds_between_sql(dialect, "scheduled_at", "published_at")
    # Marked published by hand before its time counts as on time, not as negative lateness.
    return f"CASE WHEN {seconds} < 0 THEN 0 ELSE {seconds} END"


def lateness_histogram(session: Session) -> tuple[list[int], int, float]:
    """Cumulative counts per bucket of LATENESS_BUCKETS, the count and the sum, over every
    published publication with a scheduled time: one scan, aggregated in SQL."""
    lateness = _lateness_sql(session.get_bind().dialect.name)
    buckets = ", ".join(f"sum(CASE WHEN late <= {bound!r} THEN 1 ELSE 0 END)"
                        for bound in LATENESS_BUCKETS)
    row = session.execute(text(
        f"SELECT count(*), coalesce(sum(late), 0), {buckets} FROM (SELECT {lateness} AS late "
        "FROM publication WHERE status = 'published' AND scheduled_at IS NOT NULL "
        "AND published_at IS NOT NULL) AS published")).one()
    return [int(n or 0) for n in row[2:]], int(row[0]), float(row[1] or 0)


def recent_lateness(session: Session) -> list[float]:
    """Lateness of the publications published within the last RECENT_WINDOW_SECONDS."""
    dialect = session.get_bind().dialect.name
    since = _seconds_between_sql(dialect, "published_at", _now_sql(dialect))
    return [float(v) for v in session.execute(text(
        f"SELECT {_lateness_sql(dialect)} FROM publication WHERE status = 'published' "
        "AND scheduled_at IS NOT NULL AND published_at IS NOT NULL "
        f"AND {since} <= {RECENT_WINDOW_SECONDS}")).scalars()]


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of ``values`` (NaN when there are none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def render_metrics(session: Session) -> str:
    """The figures in Prometheus text format (version 0.0.4)."""
    figures = publishing_figures(session)
    lines: list[str] = []
    for name, help_text in _GAUGES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge",
                  f"{name} {_format(figures[name])}"]
    cumulative, count, total = lateness_histogram(session)
    lines += [f"# HELP {LATENESS} How late published posts went out "
              "(published_at - scheduled_at), in seconds.", f"# TYPE {LATENESS} histogram"]
    lines += [f'{LATENESS}_bucket{{le="{bound:g}"}} {n}'
              for bound, n in zip(LATENESS_BUCKETS, cumulative, strict=True)]
    lines += [f'{LATENESS}_bucket{{le="+Inf"}} {count}', f"{LATENESS}_sum {_format(total)}",
              f"{LATENESS}_count {count}"]
    recent = recent_lateness(session)
    lines += [f"# HELP {RECENT_LATENESS} Lateness quantiles of the posts published in the "
              "last hour, in seconds (NaN when none was).", f"# TYPE {RECENT_LATENESS} gauge"]
    lines += [f'{RECENT_LATENESS}{{quantile="{q}"}} {_format(quantile(recent, q))}'
              for q in RECENT_QUANTILES]
    return "\n".join(lines) + "\n"


def _format(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if value.is_integer() else f"{value:.3f}"
