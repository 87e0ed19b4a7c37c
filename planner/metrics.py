"""Prometheus text exposition of the publishing pipeline, built by hand from SQL counts.

Mounted by the web layer at /metrics. Every figure is computed on the database's clock, so it
is the same whichever process answers.
"""

from __future__ import annotations

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


def _now_sql(dialect: str) -> str:
    if dialect == "sqlite":
        return "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"
    return "(now() AT TIME ZONE 'utc')"


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


def render_metrics(session: Session) -> str:
    """The figures in Prometheus text format (version 0.0.4)."""
    figures = publishing_figures(session)
    lines: list[str] = []
    for name, help_text in _GAUGES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge",
                  f"{name} {_format(figures[name])}"]
    return "\n".join(lines) + "\n"


def _format(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.3f}"
