"""What resonates: planted effects are found, and no effect is reported at about alpha."""

from __future__ import annotations

import math
import random

from compass.model import Quadrant
from compass.resonance import (
    Lift,
    PostScore,
    ResonanceConfig,
    best_times,
    channel_verdict,
    engagement_score,
    lift,
    quadrant_lifts,
    t_quantile,
)

QUADS = list(Quadrant)


def _posts(rng: random.Random, n: int, effects: dict[Quadrant, float] | None = None,
           sd: float = 0.8) -> list[PostScore]:
    out = []
    for _ in range(n):
        quadrant = rng.choice(QUADS)
        # Skewed noise (log of a gamma): the model must not need normal scores.
        noise = math.log(rng.gammavariate(2.0, 1.0)) * sd
        out.append(PostScore(quadrants=(quadrant,), score=-3 + noise
                             + (effects or {}).get(quadrant, 0.0),
                             weekday=rng.randrange(7), hour=rng.randrange(24)))
    return out


def test_t_quantile_matches_tables() -> None:
    assert abs(t_quantile(0.975, 10) - 2.228) < 0.005
    assert abs(t_quantile(0.95, 5) - 2.015) < 0.01
    assert abs(t_quantile(0.975, 1e9) - 1.960) < 0.001


def test_score_is_finite_for_zero_engagement_and_unknown_denominator() -> None:
    assert math.isfinite(engagement_score(0, 1000))
    assert engagement_score(10, None) == math.log(10.5)


def test_planted_effect_is_found() -> None:
    rng = random.Random(7)
    posts = _posts(rng, 160, {Quadrant.CARE: math.log(2.0)})
    lifts = quadrant_lifts(posts)
    assert lifts[Quadrant.CARE].status == "higher"
    assert 1.3 < (lifts[Quadrant.CARE].ratio or 0) < 2.2
    assert lifts[Quadrant.CARE].describe("Care posts on Instagram").startswith(
        "Care posts on Instagram: 1.")


def test_below_min_sample_says_not_enough_posts() -> None:
    result = lift([0.1] * 5, [0.0] * 40, ResonanceConfig(min_posts=8))
    assert result.status == "not_enough_posts" and result.ratio is None
    assert "not enough posts yet (5 of 8 needed)" in result.describe("Try posts")


def test_no_effect_false_positive_rate_is_near_alpha() -> None:
    config = ResonanceConfig(alpha=0.10)
    flagged = total = 0
    for seed in range(300):
        rng = random.Random(seed)
        lifts = quadrant_lifts(_posts(rng, 60), config)
        for result in lifts.values():
            if result.ratio is not None:
                total += 1
                flagged += result.status != "no_clear_difference"
    rate = flagged / total
    assert total > 1000
    assert 0.06 < rate < 0.14, rate


def test_best_times_find_a_planted_slot_and_stay_quiet_without_one() -> None:
    rng = random.Random(3)
    posts = [PostScore(quadrants=(rng.choice(QUADS),), score=rng.gauss(0, 0.5)
                       + (1.0 if (wd, h // 6) == (1, 2) else 0.0), weekday=wd, hour=h)
             for wd, h in ((rng.randrange(7), rng.randrange(24)) for _ in range(600))]
    cells = best_times(posts)
    clear = [c for c in cells if c.clear and c.ratio > 1]
    assert clear and (clear[0].weekday, clear[0].block) == (1, 2)
    quiet = [PostScore(quadrants=(rng.choice(QUADS),), score=rng.gauss(0, 0.5),
                       weekday=rng.randrange(7), hour=rng.randrange(24)) for _ in range(600)]
    assert sum(c.clear for c in best_times(quiet)) <= 3  # of 28 cells at alpha 0.10, shrunk


def test_best_times_for_a_quadrant_shrink_toward_the_account_pattern() -> None:
    rng = random.Random(5)
    posts = [PostScore(quadrants=(rng.choice(QUADS),), score=rng.gauss(0, 0.5)
                       + (0.8 if wd == 5 else 0.0), weekday=wd, hour=rng.randrange(24))
             for wd in (rng.randrange(7) for _ in range(800))]
    care = best_times(posts, quadrant=Quadrant.CARE)
    saturday = [c for c in care if c.weekday == 5]
    assert saturday and all(c.ratio > 1.3 for c in saturday)


def test_channel_verdicts_in_words() -> None:
    down = [[0.0] * 3] * 3 + [[-0.7] * 3] * 3
    dud = channel_verdict("Mastodon @poise", down, sales_recent=0, sales_weeks=8)
    assert dud.verdict == "dud"
    assert dud.reason == ("Mastodon @poise: engagement down 50% over 6 weeks, no sales in 8 "
                          "weeks: a dud?")
    assert channel_verdict("X", down, sales_recent=2, sales_weeks=8).verdict == "watch"
    assert channel_verdict("X", [[0.0] * 3] * 6, sales_recent=1, sales_weeks=8
                           ).verdict == "steady"
    assert channel_verdict("X", [[0.0]] * 2, sales_recent=0, sales_weeks=8
                           ).verdict == "not_enough_posts"


def _report(counts: dict[str, int]):
    from datetime import UTC, datetime, timedelta

    from compass import BalanceConfig, TaggedItem, check_balance

    items, start = [], datetime(2026, 1, 1, tzinfo=UTC)
    left = dict(counts)
    order: list[str] = []
    while any(left.values()):  # interleaved, so nothing looks missing by accident
        for q in list(left):
            if left[q]:
                order.append(q)
                left[q] -= 1
    for i, q in enumerate(order):
        items.append(TaggedItem(key=str(i), tags=(Quadrant(q),), when=start + timedelta(hours=i)))
    return check_balance(items, BalanceConfig())


def _lift(status: str, ratio: float) -> Lift:
    return Lift(n=20, ratio=ratio, low=ratio * 0.8, high=ratio * 1.2, status=status)


def test_what_next_follows_resonance_only_when_balanced() -> None:
    from compass.resonance import what_next_weighed

    lifts = {q: _lift("no_clear_difference", 1.0) for q in Quadrant}
    lifts[Quadrant.CARE] = _lift("higher", 2.1)
    balanced = what_next_weighed(_report({"try": 5, "share": 5, "care": 5, "learn": 5}), lifts,
                                 channel="on Instagram")
    assert balanced is not None and balanced.follows == "resonance"
    assert balanced.quadrant == Quadrant.CARE
    assert balanced.reason.startswith("Following resonance: the balance is fine, and Care "
                                      "for others posts get 2.1x")
    skewed = what_next_weighed(_report({"try": 10, "share": 4, "care": 6, "learn": 0}), lifts)
    assert skewed is not None and skewed.follows == "balance"
    assert skewed.quadrant == Quadrant.LEARN and skewed.reason.startswith("Following balance")
    quiet = {q: _lift("no_clear_difference", 1.0) for q in Quadrant}
    plain = what_next_weighed(_report({"try": 5, "share": 5, "care": 5, "learn": 5}), quiet)
    assert plain is not None and plain.follows == "balance"
    assert "no value clearly resonates" in plain.reason
