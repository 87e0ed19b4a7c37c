"""What resonates: engagement by compass quadrant relative to an account's own baseline.

Pure statistics (standard library only); the planner feeds it one number per published post.
The model, stated once (docs/insight.md says the same in words):

* Each post has an engagement **score** ``log((engagements + 0.5) / denominator)``; the
  denominator is the platform's impressions/views where given, else followers at publish
  time (see docs/insight.md), else 1. Logs, because engagement is multiplicative and skewed;
  the 0.5 keeps a post with no engagement finite.
* A quadrant's **lift** is ``exp(mean score of its posts - mean score of all the account's
  posts)``: "2.1x your typical engagement" (a geometric-mean ratio).
* Its **interval** comes from a normal model of the scores with flat (Jeffreys) priors per
  group. The posterior of the difference of two group means is then the Behrens-Fisher
  distribution, which we approximate by Welch's t with Welch-Satterthwaite degrees of
  freedom: numerically the same interval a frequentist Welch test gives, so "the interval
  excludes 1x" happens for about ``alpha`` of quadrants when nothing resonates (the tests
  check that over many seeds). Since the baseline contains the quadrant's own posts, the
  lift over the baseline is ``(n_other / n) * (mean_q - mean_other)`` and so is its interval.
* Below ``min_posts`` posts in the quadrant (or in the rest) it says "not enough posts yet".
* A post tagged with two quadrants counts fully in each.

Best times shrink each weekday x time-block cell toward a prior (the account's own pattern)
with a normal-normal empirical-Bayes model; channel health turns an engagement trend and
sales into one verdict in words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist, fmean

from compass.advice import what_next
from compass.model import QUADRANTS_ORDER, Quadrant
from compass.report import BalanceReport, Status

__all__ = [
    "BLOCKS",
    "Cell",
    "Moments",
    "ChannelVerdict",
    "Lift",
    "PostScore",
    "ResonanceConfig",
    "TimeCell",
    "WeighedNext",
    "best_times",
    "block_of",
    "cells_from_posts",
    "channel_verdict",
    "engagement_score",
    "lift",
    "quadrant_lifts",
    "t_quantile",
    "what_next_weighed",
]

# Four blocks of the local day: what a brand lead plans in, and few enough cells to fill.
BLOCKS = ((0, "night 0-6"), (6, "morning 6-12"), (12, "afternoon 12-18"), (18, "evening 18-24"))
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ResonanceConfig:
    alpha: float = 0.10  # two-sided: a 90% interval
    min_posts: int = 8  # per quadrant and in the rest of the account


@dataclass(frozen=True)
class PostScore:
    """One published post on one account: its quadrants, score and local posting time."""

    quadrants: tuple[Quadrant, ...]
    score: float
    weekday: int = 0  # Monday = 0, in the workspace's time zone
    hour: int = 12


@dataclass
class Moments:
    """Count, sum and sum of squares of scores: what the statistics need, and what a
    database can add up (``GROUP BY``) so 100,000 posts need not leave it one by one."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    @classmethod
    def of(cls, values: Iterable[float]) -> Moments:
        out = cls()
        for value in values:
            out.add(value)
        return out

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.squares += value * value

    def merge(self, other: Moments) -> None:
        self.n += other.n
        self.total += other.total
        self.squares += other.squares

    def shifted(self, by: float) -> Moments:
        """The moments of every value minus ``by``."""
        return Moments(self.n, self.total - by * self.n,
                       self.squares - 2 * by * self.total + by * by * self.n)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Cell:
    """Posts of one channel sharing quadrant tags, local weekday and time block."""

    quadrants: tuple[Quadrant, ...]
    weekday: int
    block: int
    moments: Moments


def cells_from_posts(posts: Iterable[PostScore]) -> list[Cell]:
    cells: dict[tuple[tuple[Quadrant, ...], int, int], Moments] = {}
    for post in posts:
        key = (post.quadrants, post.weekday, block_of(post.hour))
        cells.setdefault(key, Moments()).add(post.score)
    return [Cell(q, w, b, m) for (q, w, b), m in cells.items()]


@dataclass(frozen=True)
class Lift:
    """A group's engagement relative to the baseline: ``ratio`` x, with its interval."""

    n: int
    ratio: float | None  # None: not enough posts yet
    low: float | None
    high: float | None
    status: str  # "higher", "lower", "no_clear_difference", "not_enough_posts"
    needed: int = 0

    @property
    def enough(self) -> bool:
        return self.ratio is not None

    def describe(self, subject: str) -> str:
        if self.ratio is None:
            return f"{subject}: not enough posts yet ({self.n} of {self.needed} needed)"
        words = {"higher": "more than your typical engagement",
                 "lower": "less than your typical engagement",
                 "no_clear_difference": "no clear difference from your typical engagement"}
        return (f"{subject}: {self.ratio:.1f}x your typical engagement, {self.n} posts "
                f"({words[self.status]}; likely {self.low:.1f}x to {self.high:.1f}x)")

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n, "ratio": _round(self.ratio), "low": _round(self.low),
                "high": _round(self.high), "status": self.status}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def engagement_score(engagements: float, denominator: float | None) -> float:
    """The per-post score: log of the engagement rate (see the module docstring)."""
    base = denominator if denominator and denominator > 0 else 1.0
    return math.log((max(engagements, 0.0) + 0.5) / base)


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile (Hill's 1970 expansion around the normal; good for df >= 3)."""
    z = NormalDist().inv_cdf(p)
    if df > 1e6:
        return z
    v = df
    return (z + (z ** 3 + z) / (4 * v) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * v ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * v ** 3)
            + (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z)
            / (92160 * v ** 4))


def lift(group: Sequence[float] | Moments, rest: Sequence[float] | Moments,
         config: ResonanceConfig = ResonanceConfig()) -> Lift:
    """The group's geometric-mean engagement over the whole set's (group + rest)."""
    g = group if isinstance(group, Moments) else Moments.of(group)
    r = rest if isinstance(rest, Moments) else Moments.of(rest)
    n_g, n_r = g.n, r.n
    if n_g < config.min_posts or n_r < config.min_posts:
        return Lift(n=n_g, ratio=None, low=None, high=None, status="not_enough_posts",
                    needed=config.min_posts)
    var_g, var_r = g.variance, r.variance
    share = n_r / (n_g + n_r)
    diff = g.mean - r.mean
    se2 = var_g / n_g + var_r / n_r
    if se2 <= 0:
        half = 0.0
    else:
        df = se2 ** 2 / ((var_g / n_g) ** 2 / (n_g - 1) + (var_r / n_r) ** 2 / (n_r - 1))
        half = t_quantile(1 - config.alpha / 2, max(df, 1.0)) * math.sqrt(se2)
    low, high = share * (diff - half), share * (diff + half)
    status = ("higher" if low > 0 else "lower" if high < 0 else "no_clear_difference")
    return Lift(n=n_g, ratio=math.exp(share * diff), low=math.exp(low), high=math.exp(high),
                status=status, needed=config.min_posts)


def quadrant_lifts(posts: Sequence[PostScore] | Sequence[Cell],
                   config: ResonanceConfig = ResonanceConfig()) -> dict[Quadrant, Lift]:
    """Each quadrant's lift over the account's (or channel's) baseline."""
    cells = _as_cells(posts)
    out = {}
    for quadrant in QUADRANTS_ORDER:
        group, rest = Moments(), Moments()
        for cell in cells:
            (group if quadrant in cell.quadrants else rest).merge(cell.moments)
        out[quadrant] = lift(group, rest, config)
    return out


def _as_cells(items: Sequence[PostScore] | Sequence[Cell]) -> list[Cell]:
    if items and isinstance(items[0], PostScore):
        return cells_from_posts(items)  # type: ignore[arg-type]
    return list(items)  # type: ignore[arg-type]


# --- best times -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimeCell:
    weekday: int
    block: int  # index into BLOCKS
    n: int
    ratio: float  # shrunk lift over the baseline
    low: float
    high: float

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {BLOCKS[self.block][1]}"

    @property
    def clear(self) -> bool:
        """The interval excludes "no effect" (1x)."""
        return self.low > 1 or self.high < 1

    def to_dict(self) -> dict[str, object]:
        return {"weekday": WEEKDAYS[self.weekday], "block": BLOCKS[self.block][1],
                "n": self.n, "ratio": round(self.ratio, 3), "low": round(self.low, 3),
                "high": round(self.high, 3), "clear": self.clear}


def block_of(hour: int) -> int:
    return min(hour // 6, 3)


def best_times(posts: Sequence[PostScore] | Sequence[Cell], *, quadrant: Quadrant | None = None,
               config: ResonanceConfig = ResonanceConfig(), min_cell: int = 3
               ) -> list[TimeCell]:
    """Weekday x block lifts over the account's baseline, shrunk toward a prior.

    For the whole account the prior is "no lift"; for one quadrant it is the account's own
    cell lift (its overall pattern). The amount of shrinkage is the normal-normal empirical
    Bayes one: the spread of true cell effects ``tau2`` is estimated by the method of
    moments (observed spread minus sampling noise, at least 0), and a cell with standard error
    ``se`` keeps the share ``tau2 / (tau2 + se2)`` of its own deviation. Cells with fewer than
    ``min_cell`` posts are left out. The result is sorted best first.
    """
    cells = _as_cells(posts)
    everything = Moments()
    for cell in cells:
        everything.merge(cell.moments)
    if everything.n < 2 * config.min_posts:
        return []
    baseline, pooled_var = everything.mean, everything.variance
    by_slot: dict[tuple[int, int], Moments] = {}
    chosen: dict[tuple[int, int], Moments] = {}
    for cell in cells:
        key = (cell.weekday, cell.block)
        by_slot.setdefault(key, Moments()).merge(cell.moments)
        if quadrant is None or quadrant in cell.quadrants:
            chosen.setdefault(key, Moments()).merge(cell.moments)
    prior = {key: m.mean - baseline for key, m in by_slot.items()} if quadrant else {}
    stats = {key: (m.mean - baseline, pooled_var / m.n, m.n) for key, m in chosen.items()
             if m.n >= min_cell}
    if not stats:
        return []
    deviations = [mean - prior.get(key, 0.0) for key, (mean, _, _) in stats.items()]
    spread = fmean(d * d for d in deviations)
    tau2 = max(0.0, spread - fmean(se2 for _, se2, _ in stats.values()))
    z = NormalDist().inv_cdf(1 - config.alpha / 2)
    out = []
    for (weekday, block), (mean, se2, n) in stats.items():
        centre = prior.get((weekday, block), 0.0)
        keep = tau2 / (tau2 + se2) if tau2 + se2 > 0 else 0.0
        post_mean = centre + keep * (mean - centre)
        # Posterior sd of the cell under the same model (prior uncertainty of the account
        # pattern ignored: it is estimated from many more posts than one cell).
        post_sd = math.sqrt(keep * se2) if keep > 0 else 0.0
        out.append(TimeCell(weekday=weekday, block=block, n=n, ratio=math.exp(post_mean),
                            low=math.exp(post_mean - z * post_sd),
                            high=math.exp(post_mean + z * post_sd)))
    return sorted(out, key=lambda c: -c.ratio)


# --- channel health ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ChannelVerdict:
    verdict: str  # "growing", "steady", "watch", "dud", "not_enough_posts"
    reason: str
    change: float | None = None  # engagement change, recent half vs earlier half (fraction)
    sales: float = 0.0
    details: dict[str, float] = field(default_factory=dict)


def channel_verdict(label: str, weekly_scores: Sequence[Sequence[float] | Moments], *,
                    sales_recent: float, sales_weeks: int, min_posts: int = 8,
                    drop: float = 0.3) -> ChannelVerdict:
    """One verdict per channel from weekly post scores (oldest first) and recent sales.

    The trend compares the geometric-mean engagement of the later half of the weeks with the
    earlier half. A drop of ``drop`` (30%) or more with no sales in ``sales_weeks`` weeks is
    a dud candidate; a drop with sales is one to watch; a rise of as much is growing.
    """
    weeks = len(weekly_scores)
    half = weeks // 2
    early, late = Moments(), Moments()
    for index, week in enumerate(weekly_scores):
        (early if index < half else late).merge(
            week if isinstance(week, Moments) else Moments.of(week))
    if early.n + late.n < min_posts or not early.n or not late.n:
        return ChannelVerdict("not_enough_posts", f"{label}: not enough posts yet "
                              f"({early.n + late.n} of {min_posts} needed)",
                              sales=sales_recent)
    change = math.exp(late.mean - early.mean) - 1
    trend = (f"engagement {'down' if change < 0 else 'up'} {abs(change):.0%} over "
             f"{weeks} weeks")
    sales = (f"no sales in {sales_weeks} weeks" if sales_recent <= 0 else
             f"{sales_recent:g} sale{'s' if sales_recent != 1 else ''} in {sales_weeks} weeks")
    if change <= -drop and sales_recent <= 0:
        return ChannelVerdict("dud", f"{label}: {trend}, {sales}: a dud?", change, sales_recent)
    if change <= -drop:
        return ChannelVerdict("watch", f"{label}: {trend}, but {sales}: watch it", change,
                              sales_recent)
    if change >= drop:
        return ChannelVerdict("growing", f"{label}: {trend}, {sales}", change, sales_recent)
    return ChannelVerdict("steady", f"{label}: {trend} (steady), {sales}", change, sales_recent)


@dataclass(frozen=True)
class WeighedNext:
    """What to post next when balance and resonance both have a say, and which one decided."""

    quadrant: Quadrant
    follows: str  # "balance" or "resonance"
    reason: str


def what_next_weighed(report: BalanceReport, lifts: Mapping[Quadrant, Lift],
                      *, channel: str = "here") -> WeighedNext | None:
    """Balance first when it has a problem (a missing or overweight value); when the account
    is balanced, the value that clearly resonates most among those not above their fair
    share; else the balance suggestion. The reason says which one it followed."""
    advice = what_next(report) if report.n else None
    if advice is None:
        return None
    if report.status != Status.BALANCED:
        extra = ""
        lift_ = lifts.get(advice.quadrant)
        if lift_ is not None and lift_.ratio is not None and lift_.status == "lower":
            extra = (f" (it gets {lift_.ratio:.1f}x your typical engagement {channel}: "
                     f"balance comes first while a value is {report.status.value})")
        return WeighedNext(advice.quadrant, "balance", f"Following balance: {advice.reason}"
                           f"{extra}.")
    room = {q.quadrant for q in report.quadrants if q.share <= q.target + 0.05}
    clear = sorted(((lift_.ratio or 0.0, q) for q, lift_ in lifts.items()
                    if lift_.status == "higher" and q in room), key=lambda t: -t[0])
    if clear:
        ratio, quadrant = clear[0]
        n = lifts[quadrant].n
        return WeighedNext(quadrant, "resonance",
                           f"Following resonance: the balance is fine, and {quadrant.label} "
                           f"posts get {ratio:.1f}x your typical engagement {channel} "
                           f"({n} posts).")
    return WeighedNext(advice.quadrant, "balance", f"Following balance: {advice.reason} "
                       f"(no value clearly resonates {channel} yet).")


def lifts_to_dict(lifts: Mapping[Quadrant, Lift]) -> dict[str, dict[str, object]]:
    return {q.value: lift_.to_dict() for q, lift_ in lifts.items()}
