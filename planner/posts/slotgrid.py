"""The weekly grid of an account's queue slots, with the best times the Insight area found.

The grid is 7 days x 24 hourly rows of the workspace's local time (the zone queue slots are
kept in). A slot on the hour is the cell itself; a slot at another minute (entered as an exact
time) is shown inside its hour's cell. Best times come from Insight
(``planner.insight.account_best_times``: the report's model on this account's rows only),
the weekday x 6-hour block lifts whose interval excludes "no effect"; every hourly
cell inside such a block carries the mark, and each marked block is offered as a one-click
add at the middle of the block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from compass.resonance import BLOCKS, ResonanceConfig, block_of
from planner import insight
from planner.models import Account, Workspace
from planner.posts.schedule import WEEKDAYS, Slot

HOURS = tuple(range(24))


@dataclass(frozen=True)
class BestMark:
    """One weekday x block where this account clearly did better (or worse) than usual."""

    weekday: int
    block: int
    ratio: float
    low: float
    high: float
    posts: int

    @property
    def good(self) -> bool:
        return self.low > 1

    @property
    def percent(self) -> str:
        change = round((self.ratio - 1) * 100)
        return f"+{change}%" if change >= 0 else f"\u2212{-change}%"

    @property
    def text(self) -> str:
        verb = "often does well" if self.good else "often does less well"
        return f"{verb}: {self.percent}, {self.posts} posts"

    @property
    def where(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {BLOCKS[self.block][1]}"

    @property
    def suggested(self) -> str:
        """The time a one-click add uses: the middle of the block (03, 09, 15 or 21 h)."""
        return f"{BLOCKS[self.block][0] + 3:02d}:00"


@dataclass
class BestTimes:
    """What the grid can say about best times for one account."""

    marks: dict[tuple[int, int], BestMark] = field(default_factory=dict)
    posts: int = 0  # posts with metrics in the report's period
    needed: int = 0  # posts the best-times model needs before it says anything
    unavailable: int = 0  # published posts whose platform gives no metrics

    @property
    def status(self) -> str:
        if self.marks:
            return "found"
        if self.posts < self.needed:
            return "not_enough_data"
        return "nothing_clear"

    @property
    def message(self) -> str:
        if self.status == "not_enough_data":
            extra = (f"; {self.unavailable} published posts have no metrics on this platform"
                     if self.unavailable else "")
            return (f"Best times: not enough data yet ({self.posts} posts with engagement "
                    f"figures in the last quarter, {self.needed} needed{extra}).")
        if self.status == "nothing_clear":
            return (f"Best times: no time stands out yet ({self.posts} posts); every weekday "
                    "and time of day did about as well as the others.")
        return ""

    def good(self) -> list[BestMark]:
        return sorted((m for m in self.marks.values() if m.good), key=lambda m: -m.ratio)


def best_times_for(*, session: Session, workspace: Workspace, account: Account,
                   config: ResonanceConfig | None = None, now: datetime | None = None
                   ) -> BestTimes:
    """The clear best-time cells of one account over the quarter to ``now`` (Insight's
    model, on this account's rows only: the grid asks on every click)."""
    config = config or ResonanceConfig()
    found = insight.account_best_times(session=session, workspace=workspace,
                                       account_id=account.id or 0, end=now, config=config)
    out = BestTimes(posts=found.posts, needed=2 * config.min_posts,
                    unavailable=found.unavailable)
    for cell in found.cells:
        out.marks[(cell.weekday, cell.block)] = BestMark(
            weekday=cell.weekday, block=cell.block, ratio=cell.ratio, low=cell.low,
            high=cell.high, posts=cell.n)
    return out


@dataclass(frozen=True)
class GridCell:
    weekday: int
    at: str  # "HH:00", the cell's own time
    on: bool  # a slot at exactly this time
    others: tuple[str, ...]  # slots at other minutes of this hour ("09:30")
    best: BestMark | None

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at}"


@dataclass(frozen=True)
class GridRow:
    hour: int
    cells: tuple[GridCell, ...]

    @property
    def label(self) -> str:
        return f"{self.hour:02d}:00"


def week_grid(slots: list[Slot], best: BestTimes | None = None) -> list[GridRow]:
    """24 rows (hours) of 7 cells (Monday first) for ``slots``."""
    marks = best.marks if best else {}
    taken: dict[tuple[int, int], list[str]] = {}
    for slot in slots:
        taken.setdefault((slot.weekday, slot.local_time.hour), []).append(
            f"{slot.local_time:%H:%M}")
    rows = []
    for hour in HOURS:
        cells = []
        for weekday in range(7):
            here = taken.get((weekday, hour), [])
            at = f"{hour:02d}:00"
            cells.append(GridCell(weekday=weekday, at=at, on=at in here,
                                  others=tuple(t for t in sorted(here) if t != at),
                                  best=marks.get((weekday, block_of(hour)))))
        rows.append(GridRow(hour=hour, cells=tuple(cells)))
    return rows


def parse_cell(value: str) -> tuple[int, str]:
    """A grid button's value, "<weekday> <HH:MM>", as (weekday, time); schedule checks both."""
    day, _, at = value.strip().partition(" ")
    return (int(day) if day.isdigit() else -1), at
