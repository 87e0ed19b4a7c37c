"""Plain-words headlines for a brand lead, built from a balance report."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compass.report import BalanceReport, NeedBalance, QuadrantBalance

__all__ = ["build_headlines", "format_count", "need_headline", "quadrant_headline"]


def format_count(count: float) -> str:
    """``10.0 -> "10"``, ``9.5 -> "9.5"`` (half counts come from two-tag posts)."""
    return str(int(count)) if float(count).is_integer() else f"{count:.1f}"


def _posts(n: int) -> str:
    return "post" if n == 1 else "posts"


def quadrant_headline(q: QuadrantBalance, n: int) -> str | None:
    """The headline for one quadrant, or None when there is nothing to say."""
    if q.overweight:
        return (
            f"{q.quadrant.label} is overweight: {format_count(q.count)} of the last {n} "
            f"{_posts(n)} ({q.share:.0%}, {q.times_fair_share:.1f}x the fair share)"
        )
    if q.missing:
        return f"{q.quadrant.label} is missing from the last {q.posts_since_last} posts"
    if q.trending and q.weighted_share is not None:
        return (
            f"{q.quadrant.label} is trending toward overweight: {q.weighted_share:.0%} "
            f"of recent posts (fair share {q.target:.0%})"
        )
    return None


def need_headline(x: NeedBalance, n: int) -> str | None:
    """The headline for one need, or None when there is nothing to say."""
    if x.overweight:
        return (
            f"The need for {x.need.value} is overweight: {format_count(x.engaged)} of the last "
            f"{n} {_posts(n)} engage it ({x.times_fair_share:.1f}x the fair share)"
        )
    if x.missing:
        return f"The need for {x.need.value} is missing from the last {x.posts_since_last} posts"
    return None


def spread_in_words(effective_quadrants: float) -> str:
    """How evenly posts spread over the four values, in words a manager uses (the effective
    number of quadrants, 1 to 4, is the figure behind it)."""
    if effective_quadrants >= 3.5:
        return "posts spread evenly over all four values"
    if effective_quadrants >= 2.5:
        return "posts spread over three of the four values; one gets little"
    if effective_quadrants >= 1.5:
        return "posts lean on two of the four values"
    return "posts stay almost all on one value"


def build_headlines(report: BalanceReport) -> tuple[str, ...]:
    """Headlines, most important first: sample size, overweight, missing, trending, needs,
    then the effective number of quadrants in use."""
    if report.n < report.min_sample:
        return (f"Not enough posts yet ({report.n} of {report.min_sample} needed)",)
    lines: list[str] = []
    for flag in ("overweight", "missing", "trending"):
        for q in report.quadrants:
            if getattr(q, flag):
                line = quadrant_headline(q, report.n)
                if line:
                    lines.append(line)
    for x in report.needs:
        line = need_headline(x, report.n)
        if line:
            lines.append(line)
    in_use = spread_in_words(report.effective_quadrants)
    # "Well rounded" would contradict a quadrant trending toward overweight.
    if report.status == "balanced" and not any(q.trending for q in report.quadrants):
        lines.insert(0, f"Well rounded: {in_use}")
    else:
        lines.append(in_use[0].upper() + in_use[1:])
    return tuple(lines)
