"""Calendar reads: month, week and list views of a workspace's publications.

Built for months with thousands of publications: two indexed queries per view, columns only
(no ORM objects), the local day of each publication computed in SQL from precomputed UTC day
boundaries (portable across SQLite and PostgreSQL, correct across DST), and at most
``per_day`` cards loaded per day with a count of the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from compass import QUADRANTS_ORDER
from planner.models import (
    Account,
    Post,
    PostStatus,
    Publication,
    PublicationStatus,
    post_shown,
    publication_shown,
)

# One source for names and colours (a colour-blind-safe palette): the compass model.
QUADRANT_COLOURS = {q.value: q.colour for q in QUADRANTS_ORDER}
QUADRANT_LABELS = {q.value: q.label for q in QUADRANTS_ORDER}
# A status filter names a publishing state or a workflow state.
STATUSES = frozenset({s.value for s in PublicationStatus} | {s.value for s in PostStatus})


@dataclass(frozen=True)
class Filters:
    account_id: int | None = None
    status: str = ""  # a publication status or a post status
    author_id: int | None = None
    quadrant: str = ""

    def query_string(self) -> str:
        parts = []
        if self.account_id:
            parts.append(f"account={self.account_id}")
        if self.status:
            parts.append(f"status={self.status}")
        if self.author_id:
            parts.append(f"author={self.author_id}")
        if self.quadrant:
            parts.append(f"quadrant={self.quadrant}")
        return "&".join(parts)


@dataclass(frozen=True)
class Card:
    publication_id: int
    post_id: int
    post_version: int
    at: datetime  # UTC
    local: datetime  # in the workspace zone
    status: str
    post_status: str
    platform: str
    handle: str
    first_line: str
    tags: tuple[str, ...]
    media_path: str = ""

    @property
    def colour(self) -> str:
        return QUADRANT_COLOURS.get(self.tags[0], "#9aa3b2") if self.tags else "#9aa3b2"

    @property
    def display_status(self) -> str:
        """The publication's own state once publishing started, else the post's workflow."""
        if self.status in ("pending",) and self.post_status != "approved":
            return self.post_status
        if self.status == "pending":
            return "scheduled"
        return self.status


@dataclass(frozen=True)
class PostCard:
    """One post on one day of the month or week grid: its accounts shown as network icons."""

    first: Card
    publications: tuple[Card, ...]

    def __getattr__(self, name: str) -> object:
        return getattr(self.first, name)  # post_id, post_version, at, local, tags, ...

    @property
    def platforms(self) -> list[str]:
        """Each network once, in the order its first account appears."""
        return list(dict.fromkeys(card.platform for card in self.publications))

    @property
    def handles(self) -> str:
        return ", ".join(card.handle for card in self.publications)

    @property
    def display_status(self) -> str:
        """The shared state, or the furthest one a person should see (failed before sent)."""
        states = [card.display_status for card in self.publications]
        if len(set(states)) == 1:
            return states[0]
        for worst in ("needs_review", "failed", "missed", "unknown", "sending", "published"):
            if worst in states:
                return "partly_published" if worst == "published" else worst
        return states[0]

    @property
    def text(self) -> str:
        return self.first.first_line


@dataclass
class Day:
    date: date
    cards: list[Card] = field(default_factory=list)
    total: int = 0  # posts the filters select on this day (for "+N more")
    in_month: bool = True
    per_account: dict[int, int] = field(default_factory=dict)

    @property
    def posts(self) -> list[PostCard]:
        """The day's cards grouped into one per post and time, in time order."""
        grouped: dict[tuple[int, datetime], list[Card]] = {}
        for card in self.cards:
            grouped.setdefault((card.post_id, card.at), []).append(card)
        return [PostCard(first=cards[0], publications=tuple(cards))
                for cards in grouped.values()]

    @property
    def more(self) -> int:
        return max(0, self.total - len({card.post_id for card in self.cards}))


@dataclass
class CalendarView:
    start: date
    end: date  # exclusive
    zone: str
    days: list[Day]

    @property
    def weeks(self) -> list[list[Day]]:
        return [self.days[i:i + 7] for i in range(0, len(self.days), 7)]


def day_bounds(start: date, days: int, zone_name: str) -> list[datetime]:
    """UTC instants of local midnights from ``start`` for ``days`` days (days + 1 values)."""
    zone = ZoneInfo(zone_name)
    return [datetime.combine(start + timedelta(days=i), time(0), tzinfo=zone).astimezone(UTC)
            for i in range(days + 1)]


def _live() -> ColumnElement[bool]:
    """Publications that still count: everything but cancelled ones (the daily cap, the
    composer's warning and the calendar's counts share this one rule)."""
    return col(Publication.status) != PublicationStatus.cancelled


def _counted() -> list[ColumnElement[bool]]:
    """What the daily cap counts (a query without ``Post``): live, and not part of an
    import that has not finished."""
    return [_live(), publication_shown()]


def _filter_clauses(workspace_id: int, filters: Filters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [col(Publication.workspace_id) == workspace_id]
    clauses.extend(_shown_clauses(filters))
    return clauses


def _shown_clauses(filters: Filters) -> list[ColumnElement[bool]]:
    """What the filters select. Cancelled publications are hidden unless asked for; the
    posts of an import that has not finished always are."""
    clauses: list[ColumnElement[bool]] = [post_shown()]
    if filters.status != PublicationStatus.cancelled:
        clauses.append(_live())
    if filters.account_id:
        clauses.append(col(Publication.account_id) == filters.account_id)
    if filters.status:
        if filters.status in {s.value for s in PublicationStatus}:
            clauses.append(col(Publication.status) == filters.status)
        else:
            clauses.append(col(Post.status) == filters.status)
    if filters.author_id:
        clauses.append(col(Post.author_id) == filters.author_id)
    if filters.quadrant:
        clauses.append(or_(col(Post.tags) == filters.quadrant,
                           col(Post.tags).like(f"{filters.quadrant},%"),
                           col(Post.tags).like(f"%,{filters.quadrant}")))
    return clauses


def _day_index(bounds: list[datetime]) -> ColumnElement[int]:
    """CASE expression numbering each publication's local day from the boundaries."""
    return case(*[(col(Publication.scheduled_at) < b, literal(i))
                  for i, b in enumerate(bounds[1:])], else_=literal(len(bounds) - 1))


def load_days(*, session: Session, workspace_id: int, zone: str, start: date, days: int,
              filters: Filters = Filters(), per_day: int = 4) -> list[Day]:
    """Each local day's first ``per_day`` posts (all their publications' cards), how many
    posts the filters select ("+N more"), and every account's live count for the daily cap,
    which no filter changes."""
    bounds = day_bounds(start, days, zone)
    in_window = [col(Publication.workspace_id) == workspace_id,
                 col(Publication.scheduled_at) >= bounds[0],
                 col(Publication.scheduled_at) < bounds[-1]]
    in_range = [*in_window, *_shown_clauses(filters)]
    day_idx = _day_index(bounds).label("day_idx")

    # The daily cap counts every live publication of an account; no filter changes it.
    counts_q = (select(day_idx, col(Publication.account_id), func.count())
                .select_from(Publication).where(and_(*in_window), *_counted())
                .group_by(day_idx, col(Publication.account_id)))

    # Posts, not publications, are ranked: a post on three accounts is one card, and a day
    # shows its first ``per_day`` posts with all their accounts. The highest rank of a day is
    # how many posts it has, which the "+N more" link needs.
    ranking = (
        select(col(Publication.id).label("pid"), day_idx,
               func.dense_rank().over(partition_by=day_idx,
                                      order_by=(col(Publication.scheduled_at),
                                                col(Publication.post_id))).label("rn"))
        .select_from(Publication).join(Post, col(Post.id) == col(Publication.post_id))
        .where(and_(*in_range))
    ).subquery()
    ranked = select(ranking, func.max(ranking.c.rn).over(
        partition_by=ranking.c.day_idx).label("posts")).subquery()
    cards_q = (
        select(col(Publication.id), col(Publication.post_id), col(Post.version),
               col(Publication.scheduled_at), col(Publication.status), col(Post.status),
               col(Account.platform), col(Account.handle),
               func.substr(func.coalesce(col(Publication.text_variant), col(Post.text)), 1, 140),
               col(Post.tags), ranked.c.day_idx, ranked.c.posts, col(Post.media_path))
        .select_from(ranked)
        .join(Publication, col(Publication.id) == ranked.c.pid)
        .join(Post, col(Post.id) == col(Publication.post_id))
        .join(Account, col(Account.id) == col(Publication.account_id))
        .where(ranked.c.rn <= per_day)
        .order_by(ranked.c.day_idx, col(Publication.scheduled_at), col(Publication.id))
    )
    result = [Day(date=start + timedelta(days=i)) for i in range(days)]
    for idx, account_id, live in session.execute(counts_q):
        if 0 <= idx < days and live:
            result[idx].per_account[account_id] = int(live)
    tz = ZoneInfo(zone)
    for row in session.execute(cards_q):
        (pid, post_id, version, at, status, post_status, platform, handle, text, tags,
         idx, day_posts, media_path) = row
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        result[idx].total = int(day_posts)
        result[idx].cards.append(Card(media_path=media_path or "",
            publication_id=pid, post_id=post_id, post_version=version, at=at,
            local=at.astimezone(tz), status=str(status), post_status=str(post_status),
            platform=platform, handle=handle, first_line=(text or "").split("\n", 1)[0],
            tags=tuple(t for t in (tags or "").split(",") if t)))
    return result


def month_view(*, session: Session, workspace_id: int, zone: str, year: int, month: int,
               filters: Filters = Filters(), per_day: int = 4) -> CalendarView:
    first = date(year, month, 1)
    grid_start = first - timedelta(days=first.weekday())
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    grid_end = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    days = load_days(session=session, workspace_id=workspace_id, zone=zone, start=grid_start,
                     days=(grid_end - grid_start).days, filters=filters, per_day=per_day)
    for day in days:
        day.in_month = day.date.month == month
    return CalendarView(grid_start, grid_end, zone, days)


def week_view(*, session: Session, workspace_id: int, zone: str, any_day: date,
              filters: Filters = Filters()) -> CalendarView:
    start = any_day - timedelta(days=any_day.weekday())
    days = load_days(session=session, workspace_id=workspace_id, zone=zone, start=start, days=7,
                     filters=filters, per_day=50)
    return CalendarView(start, start + timedelta(days=7), zone, days)


def list_view(*, session: Session, workspace_id: int, zone: str, start: date, days: int,
              filters: Filters = Filters(), limit: int = 200, offset: int = 0
              ) -> tuple[list[Card], int]:
    """Publications in order for a range, one page at a time, with the total."""
    bounds = day_bounds(start, days, zone)
    where = and_(col(Publication.scheduled_at) >= bounds[0],
                 col(Publication.scheduled_at) < bounds[-1],
                 *_filter_clauses(workspace_id, filters))
    total = session.execute(select(func.count()).select_from(Publication)
                            .join(Post, col(Post.id) == col(Publication.post_id))
                            .where(where)).scalar_one()
    rows = session.execute(
        select(col(Publication.id), col(Publication.post_id), col(Post.version),
               col(Publication.scheduled_at), col(Publication.status), col(Post.status),
               col(Account.platform), col(Account.handle),
               func.coalesce(col(Publication.text_variant), col(Post.text)), col(Post.tags))
        .select_from(Publication).join(Post, col(Post.id) == col(Publication.post_id))
        .join(Account, col(Account.id) == col(Publication.account_id))
        .where(where).order_by(col(Publication.scheduled_at), col(Publication.id))
        .limit(limit).offset(offset))
    tz = ZoneInfo(zone)
    cards = []
    for pid, post_id, version, at, status, post_status, platform, handle, text, tags in rows:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        cards.append(Card(pid, post_id, version, at, at.astimezone(tz), str(status),
                          str(post_status), platform, handle, (text or "").split("\n", 1)[0],
                          tuple(t for t in (tags or "").split(",") if t)))
    return cards, total


def over_cap(days: list[Day], cap: int) -> dict[date, list[int]]:
    """Days on which an account has more publications than the workspace's daily cap."""
    if cap <= 0:
        return {}
    return {d.date: [a for a, n in d.per_account.items() if n > cap]
            for d in days if any(n > cap for n in d.per_account.values())}


def posts_on_local_day(*, session: Session, account_id: int, zone: str, day: date,
                       exclude_post_id: int | None = None) -> int:
    """How many live publications an account has on a local day (for the daily cap)."""
    start, end = day_bounds(day, 1, zone)
    query = (select(func.count()).select_from(Publication)
             .where(col(Publication.account_id) == account_id,
                    col(Publication.scheduled_at) >= start, col(Publication.scheduled_at) < end,
                    *_counted()))
    if exclude_post_id:
        query = query.where(col(Publication.post_id) != exclude_post_id)
    return int(session.execute(query).scalar_one())
