"""The weekly queue slots of an account, and the next free one (in the workspace's zone).

Wall time <-> UTC lives in ``planner.localtime``; its names are re-exported here because the
posts area's callers read them as ``schedule.parse_local`` and friends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from planner.errors import Invalid
from planner.localtime import LOCAL_FORMAT as LOCAL_FORMAT
from planner.localtime import AmbiguousLocalTime as AmbiguousLocalTime
from planner.localtime import fold_of as fold_of
from planner.localtime import parse_local as parse_local
from planner.localtime import to_local as to_local
from planner.localtime import to_utc as to_utc
from planner.models import Account, Post, PostStatus, Publication, PublicationStatus, QueueSlot
from planner.team import audit

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --- queue slots -------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Slot:
    weekday: int
    local_time: time

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.local_time:%H:%M}"


def parse_slot_time(value: str) -> time:
    try:
        parsed = time.fromisoformat(value.strip())
    except ValueError:
        raise Invalid.at("local_time", f"{value!r} is not a time; use HH:MM.") from None
    return parsed.replace(second=0, microsecond=0)


def slots_of(*, session: Session, account_id: int) -> list[Slot]:
    rows = session.exec(select(QueueSlot).where(QueueSlot.account_id == account_id)).all()
    return sorted(Slot(r.weekday, parse_slot_time(r.local_time)) for r in rows)


def set_slots(*, session: Session, account: Account, slots: Iterable[tuple[int, str]],
              actor_id: int | None) -> list[Slot]:
    """Replace an account's weekly schedule."""
    clean: set[tuple[int, str]] = set()
    for weekday, at in slots:
        if not 0 <= int(weekday) <= 6:
            raise Invalid.at("weekday", "Weekday must be 0 (Monday) to 6 (Sunday).")
        clean.add((int(weekday), parse_slot_time(at).strftime("%H:%M")))
    before = [s.label for s in slots_of(session=session, account_id=account.id or 0)]
    for row in session.exec(select(QueueSlot).where(QueueSlot.account_id == account.id)).all():
        session.delete(row)
    session.flush()
    for weekday, at in sorted(clean):
        session.add(QueueSlot(account_id=account.id or 0, weekday=weekday, local_time=at))
    session.flush()
    after = slots_of(session=session, account_id=account.id or 0)
    audit.record(session=session, action="queue.slots_set", entity="account",
                 entity_id=account.id, actor_id=actor_id, workspace_id=account.workspace_id,
                 before={"slots": before}, after={"slots": [s.label for s in after]})
    return after


def add_slot(*, session: Session, account: Account, weekday: int, at: str,
             actor_id: int | None) -> list[Slot]:
    """Add one weekly time (idempotent: an existing one stays as it is)."""
    wanted = _clean_slot(weekday, at)
    current = slots_of(session=session, account_id=account.id or 0)
    if wanted in current:
        return current
    return set_slots(session=session, account=account, actor_id=actor_id,
                     slots=[*((s.weekday, f"{s.local_time:%H:%M}") for s in current),
                            (wanted.weekday, f"{wanted.local_time:%H:%M}")])


def remove_slot(*, session: Session, account: Account, weekday: int, at: str,
                actor_id: int | None) -> list[Slot]:
    """Take one weekly time out (idempotent: a missing one is not an error)."""
    unwanted = _clean_slot(weekday, at)
    current = slots_of(session=session, account_id=account.id or 0)
    if unwanted not in current:
        return current
    return set_slots(session=session, account=account, actor_id=actor_id,
                     slots=[(s.weekday, f"{s.local_time:%H:%M}") for s in current
                            if s != unwanted])


def _clean_slot(weekday: int | str, at: str) -> Slot:
    try:
        day = int(weekday)
    except (TypeError, ValueError):
        day = -1
    if not 0 <= day <= 6:
        raise Invalid.at("weekday", "Weekday must be 0 (Monday) to 6 (Sunday).")
    return Slot(day, parse_slot_time(at))


def upcoming_slot_instants(slots: list[Slot], zone_name: str, after: datetime,
                           *, days: int = 366) -> Iterable[datetime]:
    """Each slot's UTC instant from ``after`` on, in order, computed per local day.

    The wall time is applied on each local date, so a 09:00 slot is 09:00 local on both
    sides of a DST change. A slot inside a spring-forward gap moves to the first valid
    minute after the gap; in an overlap the first occurrence is used.
    """
    if not slots:
        return
    zone = ZoneInfo(zone_name)
    start = after.astimezone(zone).date()
    for offset in range(days + 1):
        day: date = start + timedelta(days=offset)
        for slot in (s for s in slots if s.weekday == day.weekday()):
            local = datetime.combine(day, slot.local_time)
            instant = _slot_instant(local, zone_name)
            if instant > after:
                yield instant


def _slot_instant(local: datetime, zone_name: str) -> datetime:
    try:
        return to_utc(local, zone_name, fold=0)
    except Invalid:
        # In a gap: the same UTC instant as the wall time "pushed" forward by the jump.
        return local.replace(tzinfo=ZoneInfo(zone_name)).astimezone(UTC)


def next_free_slot(*, session: Session, account: Account, zone_name: str,
                   after: datetime, exclude_post_id: int | None = None) -> datetime:
    """The first slot instant after ``after`` with no live publication on this account."""
    return next_common_free_slot(session=session, accounts=[account], zone_name=zone_name,
                                 after=after, exclude_post_id=exclude_post_id)


def next_common_free_slot(*, session: Session, accounts: Sequence[Account], zone_name: str,
                          after: datetime, exclude_post_id: int | None = None) -> datetime:
    """The first instant after ``after`` that is a queue slot of *every* account and free on
    each of them (no live publication there), so one post goes out to all at once.

    Slots are weekly wall times in the workspace's zone, so "a slot of every account" is the
    intersection of their weekly schedules. ``exclude_post_id`` is the post being re-queued:
    its own publications do not block a slot.
    """
    if not accounts:
        raise Invalid.at("account_ids", "Choose at least one account to queue the post on.")
    schedules = {a.id or 0: set(slots_of(session=session, account_id=a.id or 0))
                 for a in accounts}
    empty = [a.handle for a in accounts if not schedules[a.id or 0]]
    if empty:
        verb = "has" if len(empty) == 1 else "have"
        raise Invalid.at("account_ids", f"{', '.join(empty)} {verb} no queue slots yet; set "
                         "the weekly schedule on the Accounts page or pick a time.")
    common = sorted(set.intersection(*schedules.values()))
    if not common:
        described = "; ".join(
            f"{a.handle}: {', '.join(s.label for s in sorted(schedules[a.id or 0]))}"
            for a in accounts)
        raise Invalid.at("account_ids", "These accounts share no queue slot, so no single "
                         f"time is free on all of them ({described}). Add a common slot on the "
                         "Accounts page, pick a time, or queue them as separate posts.")
    horizon = after + timedelta(days=370)
    query = (select(Publication.scheduled_at)
             .join(Post, col(Post.id) == col(Publication.post_id))
             .where(col(Publication.account_id).in_([a.id or 0 for a in accounts]),
                    col(Publication.scheduled_at) > after,
                    col(Publication.scheduled_at) <= horizon,
                    col(Publication.status) != PublicationStatus.cancelled,
                    col(Post.status) != PostStatus.cancelled))
    if exclude_post_id:
        query = query.where(col(Publication.post_id) != exclude_post_id)
    taken = {t for t in session.exec(query).all() if t is not None}
    for instant in upcoming_slot_instants(common, zone_name, after):
        if instant not in taken:
            return instant
    names = ", ".join(a.handle for a in accounts)
    raise Invalid.at("account_ids", f"Every common queue slot of {names} is taken for the "
                     "next year.")
