"""Local wall time <-> UTC, honest about DST (a shared foundation: posts and balance use it).

A user picks a wall-clock time in the workspace's zone. A time that does not exist (the
spring-forward gap) is refused; one that exists twice (the fall-back overlap) must be
disambiguated by the user (``fold`` 0 = the first, summer-time instance; 1 = the second).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from planner.errors import FieldProblem, Invalid

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class AmbiguousLocalTime(Invalid):
    """The wall time happens twice in this zone; the user must say which."""

    def __init__(self, local: datetime, zone: str, choices: list[datetime]) -> None:
        first, second = choices
        super().__init__(
            f"{local:%d %b %Y %H:%M} happens twice in {zone} (clocks go back). Choose the "
            f"first ({first:%H:%M %Z}, UTC{first:%z}) or the second ({second:%H:%M %Z}, "
            f"UTC{second:%z}).")
        self.choices = choices
        self.problems = [_problem("scheduled_local", self.message)]


def _problem(field: str, message: str) -> FieldProblem:
    return FieldProblem((field,), message)


def parse_local(value: str) -> datetime:
    """A naive wall time from the form/API format ``YYYY-MM-DDTHH:MM`` (seconds allowed)."""
    text = value.strip().replace(" ", "T")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid.at("scheduled_local", f"{value!r} is not a date and time; use "
                         "YYYY-MM-DDTHH:MM, e.g. 2026-03-29T09:30.") from None
    if parsed.tzinfo is not None:
        raise Invalid.at("scheduled_local", "Give the local wall time without an offset; the "
                         "workspace's time zone is applied.")
    return parsed.replace(second=0, microsecond=0)


def to_utc(local: datetime, zone_name: str, *, fold: int | None = None) -> datetime:
    """The UTC instant of a naive wall time in ``zone_name``; refuses gaps and asks on overlaps.

    ``fold`` None means "the user has not chosen": an ambiguous time raises AmbiguousLocalTime.
    """
    zone = ZoneInfo(zone_name)
    candidates = []
    for f in (0, 1):
        aware = local.replace(tzinfo=zone, fold=f)
        instant = aware.astimezone(UTC)
        # A wall time exists iff converting back gives the same wall time.
        if instant.astimezone(zone).replace(tzinfo=None) == local:
            candidates.append((f, instant))
    if not candidates:
        raise Invalid.at("scheduled_local", f"{local:%d %b %Y %H:%M} does not exist in "
                         f"{zone_name}: the clocks jump forward over it. Pick a time outside "
                         "the gap, e.g. one hour later.")
    distinct = {instant for _, instant in candidates}
    if len(distinct) == 1:
        return candidates[0][1]
    if fold is None:
        raise AmbiguousLocalTime(local, zone_name,
                                 [instant.astimezone(zone) for _, instant in candidates])
    return dict(candidates)[1 if fold else 0]


def to_local(instant: datetime, zone_name: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone_name))


def fold_of(instant: datetime, zone_name: str) -> int | None:
    """Which occurrence of its wall time ``instant`` is (0 first, 1 second), or None when
    that wall time happens only once in the zone."""
    local = to_local(instant, zone_name)
    wall = local.replace(tzinfo=None)
    zone = ZoneInfo(zone_name)
    if wall.replace(tzinfo=zone, fold=0).utcoffset() == wall.replace(tzinfo=zone,
                                                                     fold=1).utcoffset():
        return None
    return local.fold
