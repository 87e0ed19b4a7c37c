"""Each conversion event's first and last touch, stored with the event.

An event is credited to the first or the last touchpoint of its contact at or before the
event (ordered by time, then id). Computing that at report time means a window over every
touchpoint of every contact with an event in the range; storing it makes the report a
GROUP BY over the events alone. The stored credit depends only on the contact's touchpoints
up to the event, so it is refreshed exactly where those change:

- an event is recorded (``contacts.identify`` for the ``contact`` event, ``record_event``);
- a touchpoint is added to a known contact (``links.follow``, ``inbox.record_dm``): only
  the contact's events at or after the touch can change;
- a visitor's anonymous sessions join a contact, or two contacts merge (``identify``).

``refresh`` is two UPDATEs with correlated subqueries over the ``touchpoint (contact_id, at)``
index, for a handful of events; ``refresh`` without a contact backfills a workspace (the
migration and the benchmark do that).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from planner.models_conversions import ConversionEvent, Touchpoint

_EVENT: Table = ConversionEvent.__table__  # type: ignore[attr-defined]
_TOUCH: Table = Touchpoint.__table__  # type: ignore[attr-defined]


def _touch_id(last: bool) -> Any:
    t = _TOUCH.alias("t")
    order = (t.c.at.desc(), t.c.id.desc()) if last else (t.c.at, t.c.id)
    return (select(t.c.id)
            .where(t.c.contact_id == _EVENT.c.contact_id, t.c.at <= _EVENT.c.at)
            .order_by(*order).limit(1).scalar_subquery())


def _touch_column(column: str, id_column: str) -> Any:
    t = _TOUCH.alias("t")
    return (select(t.c[column]).where(t.c.id == _EVENT.c[id_column]).scalar_subquery())


def _where(*, workspace_id: int | None, contact_ids: Iterable[int] | None,
           event_ids: Iterable[int] | None, since: datetime | None) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = true()
    if workspace_id is not None:
        clause = clause & (_EVENT.c.workspace_id == workspace_id)
    if contact_ids is not None:
        clause = clause & _EVENT.c.contact_id.in_(sorted(set(contact_ids)))
    if event_ids is not None:
        clause = clause & _EVENT.c.id.in_(sorted(set(event_ids)))
    if since is not None:
        clause = clause & (_EVENT.c.at >= since)
    return clause


def refresh(db: Session | Connection, *, workspace_id: int | None = None,
            contact_ids: Iterable[int] | None = None, event_ids: Iterable[int] | None = None,
            since: datetime | None = None) -> int:
    """Recompute the stored first and last touch of the events selected; how many.

    Select by contact (after its touchpoints changed; ``since`` = the earliest changed
    touch, as earlier events cannot see it), by event (just recorded), or a whole workspace.
    """
    if isinstance(db, Session):
        db.flush()
    where = _where(workspace_id=workspace_id, contact_ids=contact_ids, event_ids=event_ids,
                   since=since)
    ids = db.execute(update(_EVENT).where(where).values(
        first_touch_id=_touch_id(last=False), last_touch_id=_touch_id(last=True)))
    db.execute(update(_EVENT).where(where).values(
        first_account_id=_touch_column("account_id", "first_touch_id"),
        first_post_id=_touch_column("post_id", "first_touch_id"),
        last_account_id=_touch_column("account_id", "last_touch_id"),
        last_post_id=_touch_column("post_id", "last_touch_id")))
    return int(ids.rowcount or 0)  # type: ignore[attr-defined]
