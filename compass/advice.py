"""What-if (before approving a post) and what-next (which quadrant to post in)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from compass.balance import BalanceConfig, TaggedItem, check_balance
from compass.headlines import format_count
from compass.model import QUADRANTS_ORDER, Quadrant
from compass.report import BalanceReport

__all__ = ["Recommendation", "approval_warning", "what_if", "what_if_warning", "what_next"]


def what_if(
    items: Iterable[TaggedItem], new_item: TaggedItem, config: BalanceConfig | None = None
) -> BalanceReport:
    """The report the account would have with ``new_item`` added.

    An item with the same key as ``new_item`` is replaced (re-tagging or moving a post).
    """
    others = [i for i in items if i.key != new_item.key]
    return check_balance([*others, new_item], config)


def what_if_warning(before: BalanceReport, after: BalanceReport) -> str | None:
    """Warning text when ``after`` is worse than ``before``, else None.

    Worse means a quadrant (or need) turns overweight or missing that was not. Example:
    "approving this makes Try new things overweight (9 of last 20)".
    """
    problems: list[str] = []
    for old, new in zip(before.quadrants, after.quadrants, strict=True):
        if new.overweight and not old.overweight:
            problems.append(
                f"{new.quadrant.label} overweight ({format_count(new.count)} of last {after.n})"
            )
        elif new.missing and not old.missing:
            problems.append(f"{new.quadrant.label} missing (none in last {new.posts_since_last})")
    if not problems:
        for old_need, new_need in zip(before.needs, after.needs, strict=True):
            if new_need.overweight and not old_need.overweight:
                problems.append(
                    f"the need for {new_need.need.value} overweight "
                    f"({format_count(new_need.engaged)} of last {after.n})"
                )
    if not problems:
        return None
    return "approving this makes " + " and ".join(problems)


def approval_warning(
    items: Iterable[TaggedItem], new_item: TaggedItem, config: BalanceConfig | None = None
) -> str | None:
    """Shortcut: the :func:`what_if_warning` for approving ``new_item``."""
    item_list = [i for i in items if i.key != new_item.key]
    before = check_balance(item_list, config)
    after = what_if(item_list, new_item, config)
    return what_if_warning(before, after)


@dataclass(frozen=True)
class Recommendation:
    """The quadrant that would help the balance most, and why (plain words)."""

    quadrant: Quadrant
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "quadrant": self.quadrant.value,
            "label": self.quadrant.label,
            "colour": self.quadrant.colour,
            "reason": self.reason,
        }


def what_next(report: BalanceReport) -> Recommendation:
    """The quadrant to post in next.

    A missing quadrant comes first (the longest absent wins); otherwise the quadrant most
    under its target share (target - share). Ties go to the first in circular order
    (try, share, care, learn). Works on any report, also below the minimum sample.
    """
    missing = [q for q in report.quadrants if q.missing]
    if missing:
        pick = max(missing, key=lambda q: (q.posts_since_last, -_order(q.quadrant)))
        return Recommendation(
            pick.quadrant,
            f"{pick.quadrant.label} is missing from the last {pick.posts_since_last} posts",
        )
    pick = max(report.quadrants, key=lambda q: (round(q.target - q.share, 12), -_order(q.quadrant)))
    if report.n == 0:
        reason = f"No posts yet; {pick.quadrant.label} is a good start"
    elif pick.share >= pick.target:
        reason = f"All quadrants are at or above their fair share; {pick.quadrant.label} is next"
    else:
        reason = (
            f"{pick.quadrant.label} is furthest below its fair share: "
            f"{format_count(pick.count)} of the last {report.n} posts ({pick.share:.0%}, "
            f"fair share {pick.target:.0%})"
        )
    return Recommendation(pick.quadrant, reason)


def _order(quadrant: Quadrant) -> int:
    return QUADRANTS_ORDER.index(quadrant)
