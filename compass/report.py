"""Frozen report dataclasses returned by :func:`compass.balance.check_balance`.

Every report has ``to_dict()`` giving plain JSON-serialisable data (enums become their
string values, datetimes ISO 8601 strings) for the API.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from compass.model import Need, Quadrant

__all__ = ["BalanceReport", "NeedBalance", "QuadrantBalance", "Status", "Verdict"]


class Status(StrEnum):
    """Overall status of an account's window."""

    NOT_ENOUGH_POSTS = "not_enough_posts"
    BALANCED = "balanced"
    OVERWEIGHT = "overweight"
    MISSING = "missing"


class Verdict(StrEnum):
    """Verdict for one quadrant or need. Overweight wins over missing (they cannot both hold)."""

    OK = "ok"
    OVERWEIGHT = "overweight"
    MISSING = "missing"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


class _ToDict:
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict of every field (and derived labels)."""
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]
        data.update(self._extra())
        return data

    def _extra(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class QuadrantBalance(_ToDict):
    """Balance of one quadrant in the window.

    Attributes:
        quadrant: the quadrant.
        count: posts in this quadrant; a post with two tags counts 0.5 here.
        share: count / n (0 when n is 0).
        target: the fair share (from the config's target mix).
        times_fair_share: share / target.
        threshold: smallest count that is improbably high under the target
            (``overweight_threshold(n, target, alpha)``).
        overweight: count >= threshold and n >= min_sample. Half counts are compared as
            they are, which equals testing ``floor(count)``: a half-tagged post is not
            full evidence, so the test leans to not crying wolf.
        missing: absent from the newest ``missing_after`` (or more) posts; only judged
            when the window holds at least ``missing_after`` posts.
        posts_since_last: how many of the newest posts do not engage it (n if never).
        weighted_share: recency-weighted share (None without a half-life).
        trending: recency-weighted share is overweight at the Kish effective sample
            size, while the plain count is not (yet).
        verdict: overweight / missing / ok.
    """

    quadrant: Quadrant
    count: float
    share: float
    target: float
    times_fair_share: float
    threshold: int
    overweight: bool
    missing: bool
    posts_since_last: int
    weighted_share: float | None
    trending: bool
    verdict: Verdict

    def _extra(self) -> dict[str, Any]:
        return {"label": self.quadrant.label, "colour": self.quadrant.colour}


@dataclass(frozen=True)
class NeedBalance(_ToDict):
    """Balance of one need (ambition, curiosity, belonging, control).

    Attributes:
        need: the need.
        count: the need's weight; each post gives half its weight to each need of each
            of its quadrants, so the four counts sum to n.
        engaged: posts engaging the need, ``2 * count`` (a one-tag post engages two needs).
        share: count / n; the four shares sum to 1.
        target: need-level fair share, derived from the quadrant target.
        times_fair_share: share / target.
        threshold: ``overweight_threshold(n, 2 * target, alpha)``. The test is on
            ``engaged``: under the target each post engages a need with probability
            ``2 * target`` (0.5 for an even mix), so ``engaged`` is Binomial(n, 2 * target)
            for one-tag posts. Testing the half-weight ``count`` against Binomial(n, target)
            would treat the two needs of one post as independent evidence and cry wolf.
        overweight: engaged >= threshold and n >= min_sample.
        missing: neither of its quadrants in the newest ``missing_after`` posts.
        posts_since_last: newest posts not engaging it (n if never).
        verdict: overweight / missing / ok.
    """

    need: Need
    count: float
    engaged: float
    share: float
    target: float
    times_fair_share: float
    threshold: int
    overweight: bool
    missing: bool
    posts_since_last: int
    verdict: Verdict

    def _extra(self) -> dict[str, Any]:
        return {"label": self.need.label}


@dataclass(frozen=True)
class BalanceReport(_ToDict):
    """The balance of one account's window of posts.

    Attributes:
        status: the main status: not_enough_posts, overweight (if any quadrant or need
            is), missing (if any is and none is overweight) or balanced. A need can be
            overweight while no quadrant is (e.g. 8 try + 8 learn of 20 posts overweights
            ambition); the headlines say which.
        statuses: every status that holds, e.g. (overweight, missing).
        n: number of tagged posts in the window.
        min_sample: posts needed before any verdict.
        missing_after: the "missing" run length.
        quadrants: per quadrant, in circular order (try, share, care, learn).
        needs: per need, in circular order (ambition, curiosity, belonging, control).
        effective_quadrants: 1 / sum(share^2), from 1 (one quadrant) to 4 (even); 0 if n=0.
        effective_needs: the same at need level.
        effective_n: Kish effective sample size of the recency weights (None without
            a half-life).
        keys: keys of the items used, oldest first.
        untagged_keys: keys of items in range but without tags (not counted).
        scheduled_count / published_count: how many used items are scheduled / published.
        date_from / date_to: the date range applied, if any.
        headlines: plain-words lines for a brand lead, most important first.
    """

    status: Status
    statuses: tuple[Status, ...]
    n: int
    min_sample: int
    missing_after: int
    quadrants: tuple[QuadrantBalance, ...]
    needs: tuple[NeedBalance, ...]
    effective_quadrants: float
    effective_needs: float
    effective_n: float | None
    keys: tuple[str, ...]
    untagged_keys: tuple[str, ...]
    scheduled_count: int
    published_count: int
    date_from: datetime | None
    date_to: datetime | None
    headlines: tuple[str, ...]

    @property
    def headline(self) -> str:
        """The most important headline."""
        return self.headlines[0]

    def quadrant(self, quadrant: Quadrant | str) -> QuadrantBalance:
        """The balance of one quadrant."""
        wanted = Quadrant(quadrant)
        return next(q for q in self.quadrants if q.quadrant is wanted)

    def need(self, need: Need | str) -> NeedBalance:
        """The balance of one need."""
        wanted = Need(need)
        return next(x for x in self.needs if x.need is wanted)

    @property
    def shares(self) -> dict[Quadrant, float]:
        """Quadrant shares in circular order."""
        return {q.quadrant: q.share for q in self.quadrants}

    def _extra(self) -> dict[str, Any]:
        return {"headline": self.headline}
