"""The balance checker: is an account overweighting a value? (DOMAIN.md, "Balance").

Call :func:`check_balance` with an account's tagged posts (published and scheduled) and a
:class:`BalanceConfig`; it returns a frozen :class:`~compass.report.BalanceReport`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from compass.headlines import build_headlines
from compass.model import (
    NEEDS_ORDER,
    QUADRANT_NEEDS,
    QUADRANTS_ORDER,
    Need,
    Quadrant,
    even_target,
    need_target,
    need_weights,
    quadrant_weights,
)
from compass.report import BalanceReport, NeedBalance, QuadrantBalance, Status, Verdict
from compass.stats import kish_effective_n, overweight_threshold

__all__ = ["BalanceConfig", "TaggedItem", "check_balance", "select_window"]

K = TypeVar("K")

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class TaggedItem:
    """One post as the balance checker sees it.

    Attributes:
        key: the caller's identifier (e.g. the post id as a string); echoed in reports.
        tags: zero, one or two distinct quadrants. Untagged items are listed in the
            report's ``untagged_keys`` but not counted.
        when: publish time (published) or planned time (scheduled). Use timezone-aware
            datetimes consistently.
        scheduled: True for a scheduled (not yet published) post.
    """

    key: str
    tags: tuple[Quadrant, ...]
    when: datetime
    scheduled: bool = False

    def __post_init__(self) -> None:
        tags = tuple(Quadrant(t) for t in self.tags)
        if len(set(tags)) != len(tags) or len(tags) > 2:
            raise ValueError(f"Item {self.key!r}: expected up to two distinct tags, got {tags}")
        object.__setattr__(self, "tags", tags)


@dataclass(frozen=True)
class BalanceConfig:
    """How to judge balance. The defaults follow DOMAIN.md.

    Attributes:
        window: judge the newest ``window`` posts (after the date range); None = all in range.
        date_from / date_to: optional range, ``date_from <= when < date_to``.
        min_sample: below this many posts the status is "not_enough_posts" (no verdicts).
        target: the fair share per quadrant (even 25% by default); positive, sums to 1.
            Keys may be Quadrant or their string values.
        alpha: significance level of the overweight test.
        missing_after: a quadrant is missing when it is absent from this many newest posts
            (judged only when the window holds at least this many posts).
        half_life_posts / half_life_days: optional recency weighting for the "trending"
            flag; a post ``h`` posts (or days) older than the newest weighs half as much.
            Both may be set (the weights multiply).
    """

    window: int | None = 20
    date_from: datetime | None = None
    date_to: datetime | None = None
    min_sample: int = 8
    target: Mapping[Quadrant, float] = field(default_factory=even_target)
    alpha: float = 0.05
    missing_after: int = 12
    half_life_posts: float | None = None
    half_life_days: float | None = None

    def __post_init__(self) -> None:
        target = {Quadrant(k): float(v) for k, v in self.target.items()}
        if set(target) != set(QUADRANTS_ORDER):
            raise ValueError("target must give a share for each of try, share, care, learn")
        if any(not v > 0 for v in target.values()):
            raise ValueError(f"every target share must be positive, got {target}")
        if not math.isclose(math.fsum(target.values()), 1.0, abs_tol=1e-9):
            raise ValueError(f"target shares must sum to 1, got {math.fsum(target.values())}")
        object.__setattr__(self, "target", {q: target[q] for q in QUADRANTS_ORDER})
        if self.window is not None and self.window < 1:
            raise ValueError(f"window must be at least 1 (or None), got {self.window}")
        if self.min_sample < 1:
            raise ValueError(f"min_sample must be at least 1, got {self.min_sample}")
        if self.missing_after < 1:
            raise ValueError(f"missing_after must be at least 1, got {self.missing_after}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha}")
        for name in ("half_life_posts", "half_life_days"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")

    @property
    def weighted(self) -> bool:
        """Whether recency weighting is on."""
        return self.half_life_posts is not None or self.half_life_days is not None


def select_window(
    items: Iterable[TaggedItem], config: BalanceConfig
) -> tuple[list[TaggedItem], list[TaggedItem]]:
    """Order items by time (then key) and apply the date range and window.

    Returns ``(tagged, untagged)``: the tagged items judged, oldest first, and the untagged
    items in the same range (which do not take a window slot).
    """
    ordered = sorted(items, key=lambda item: (item.when, item.key))
    if config.date_from is not None:
        ordered = [i for i in ordered if i.when >= config.date_from]
    if config.date_to is not None:
        ordered = [i for i in ordered if i.when < config.date_to]
    tagged = [i for i in ordered if i.tags]
    if config.window is not None:
        tagged = tagged[-config.window :]
    oldest = tagged[0].when if tagged else None
    untagged = [i for i in ordered if not i.tags and (oldest is None or i.when >= oldest)]
    return tagged, untagged


def check_balance(
    items: Iterable[TaggedItem], config: BalanceConfig | None = None
) -> BalanceReport:
    """Judge the balance of an account's posts (published and scheduled).

    Items may come in any order; they are sorted by ``when`` (then ``key``).
    """
    config = config or BalanceConfig()
    tagged, untagged = select_window(items, config)
    n = len(tagged)
    enough = n >= config.min_sample
    judge_missing = enough and n >= config.missing_after

    q_counts = _sum_weights([quadrant_weights(i.tags) for i in tagged], QUADRANTS_ORDER)
    recency = _recency_weights(tagged, config) if config.weighted else None
    weighted_shares: dict[Quadrant, float] | None = None
    effective_n: float | None = None
    if recency is not None:
        effective_n = kish_effective_n(recency)
        weighted_shares = _weighted_shares(tagged, recency)

    quadrants = tuple(
        _quadrant_balance(
            q, tagged, q_counts[q], config, enough, judge_missing, weighted_shares, effective_n
        )
        for q in QUADRANTS_ORDER
    )
    needs = _need_balances(tagged, config, enough, judge_missing)

    statuses: list[Status] = []
    if not enough:
        statuses.append(Status.NOT_ENOUGH_POSTS)
    else:
        if any(q.overweight for q in quadrants) or any(x.overweight for x in needs):
            statuses.append(Status.OVERWEIGHT)
        if any(q.missing for q in quadrants) or any(x.missing for x in needs):
            statuses.append(Status.MISSING)
        if not statuses:
            statuses.append(Status.BALANCED)

    effective_quadrants = _effective_number([q.share for q in quadrants])
    effective_needs = _effective_number([x.share for x in needs])
    report_without_headlines = BalanceReport(
        status=statuses[0],
        statuses=tuple(statuses),
        n=n,
        min_sample=config.min_sample,
        missing_after=config.missing_after,
        quadrants=quadrants,
        needs=needs,
        effective_quadrants=effective_quadrants,
        effective_needs=effective_needs,
        effective_n=effective_n,
        keys=tuple(i.key for i in tagged),
        untagged_keys=tuple(i.key for i in untagged),
        scheduled_count=sum(1 for i in tagged if i.scheduled),
        published_count=sum(1 for i in tagged if not i.scheduled),
        date_from=config.date_from,
        date_to=config.date_to,
        headlines=("",),
    )
    return _with_headlines(report_without_headlines)


def _with_headlines(report: BalanceReport) -> BalanceReport:
    return replace(report, headlines=build_headlines(report))


def _sum_weights(weights: Sequence[Mapping[K, float]], order: Sequence[K]) -> dict[K, float]:
    totals = dict.fromkeys(order, 0.0)
    for weight in weights:
        for k, w in weight.items():
            totals[k] += w
    return totals


def _effective_number(shares: Sequence[float]) -> float:
    squares = math.fsum(s * s for s in shares)
    return 1.0 / squares if squares > 0 else 0.0


def _posts_since_last(tagged: Sequence[TaggedItem], engages: Iterable[Quadrant]) -> int:
    wanted = set(engages)
    for age, item in enumerate(reversed(tagged)):
        if wanted.intersection(item.tags):
            return age
    return len(tagged)


def _recency_weights(tagged: Sequence[TaggedItem], config: BalanceConfig) -> list[float]:
    if not tagged:
        return []
    newest = tagged[-1].when
    weights = []
    for age, item in enumerate(reversed(tagged)):
        exponent = 0.0
        if config.half_life_posts is not None:
            exponent += age / config.half_life_posts
        if config.half_life_days is not None:
            days = max(0.0, (newest - item.when).total_seconds() / _SECONDS_PER_DAY)
            exponent += days / config.half_life_days
        weights.append(0.5**exponent)
    weights.reverse()
    return weights


def _weighted_shares(
    tagged: Sequence[TaggedItem], recency: Sequence[float]
) -> dict[Quadrant, float]:
    total = math.fsum(recency)
    shares = dict.fromkeys(QUADRANTS_ORDER, 0.0)
    if total == 0:
        return shares
    for item, weight in zip(tagged, recency, strict=True):
        for q, w in quadrant_weights(item.tags).items():
            shares[q] += weight * w / total
    return shares


def _quadrant_balance(
    quadrant: Quadrant,
    tagged: Sequence[TaggedItem],
    count: float,
    config: BalanceConfig,
    enough: bool,
    judge_missing: bool,
    weighted_shares: Mapping[Quadrant, float] | None,
    effective_n: float | None,
) -> QuadrantBalance:
    n = len(tagged)
    target = config.target[quadrant]
    share = count / n if n else 0.0
    threshold = overweight_threshold(n, target, config.alpha)
    overweight = enough and count >= threshold
    since_last = _posts_since_last(tagged, [quadrant])
    missing = judge_missing and not overweight and since_last >= config.missing_after
    trending = False
    weighted_share = None
    if weighted_shares is not None and effective_n is not None:
        weighted_share = weighted_shares[quadrant]
        trending = (
            enough and not overweight and _trending(weighted_share, effective_n, target, config)
        )
    verdict = Verdict.OVERWEIGHT if overweight else Verdict.MISSING if missing else Verdict.OK
    return QuadrantBalance(
        quadrant=quadrant,
        count=count,
        share=share,
        target=target,
        times_fair_share=share / target,
        threshold=threshold,
        overweight=overweight,
        missing=missing,
        posts_since_last=since_last,
        weighted_share=weighted_share,
        trending=trending,
        verdict=verdict,
    )


def _trending(
    weighted_share: float, effective_n: float, target: float, config: BalanceConfig
) -> bool:
    """Weighted share tested at the Kish effective n, rounded to the nearest whole post.

    Rounding n_eff (rather than flooring) keeps the test close to what the weights say; the
    weighted count ``share * n_eff_rounded`` is then compared to the exact threshold. Below
    ``min_sample`` effective posts there is too little recent evidence to flag anything.
    """
    n_eff = round(effective_n)
    if n_eff < config.min_sample:
        return False
    # A hair of tolerance so a share of exactly k / n_eff is not lost to float rounding.
    return weighted_share * n_eff + 1e-9 >= overweight_threshold(n_eff, target, config.alpha)


def _need_balances(
    tagged: Sequence[TaggedItem], config: BalanceConfig, enough: bool, judge_missing: bool
) -> tuple[NeedBalance, ...]:
    n = len(tagged)
    counts = _sum_weights([need_weights(i.tags) for i in tagged], NEEDS_ORDER)
    targets = need_target(config.target)
    result = []
    for need in NEEDS_ORDER:
        count = counts[need]
        engaged = 2 * count
        target = targets[need]
        threshold = overweight_threshold(n, 2 * target, config.alpha)
        overweight = enough and engaged >= threshold
        since_last = _posts_since_last(tagged, _quadrants_of(need))
        missing = judge_missing and not overweight and since_last >= config.missing_after
        share = count / n if n else 0.0
        verdict = Verdict.OVERWEIGHT if overweight else Verdict.MISSING if missing else Verdict.OK
        result.append(
            NeedBalance(
                need=need,
                count=count,
                engaged=engaged,
                share=share,
                target=target,
                times_fair_share=share / target,
                threshold=threshold,
                overweight=overweight,
                missing=missing,
                posts_since_last=since_last,
                verdict=verdict,
            )
        )
    return tuple(result)


def _quadrants_of(need: Need) -> list[Quadrant]:
    return [q for q in QUADRANTS_ORDER if need in QUADRANT_NEEDS[q]]
