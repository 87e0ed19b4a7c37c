"""Exact small-sample statistics for the balance rule (pure Python, exact integer arithmetic)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

__all__ = ["as_fraction", "binomial_upper_tail", "kish_effective_n", "overweight_threshold"]

# Targets and alphas are entered as decimals (0.25, 0.3, 0.05); recover the decimal the user meant
# rather than the binary float, so 0.05 is exactly 1/20.
_MAX_DENOMINATOR = 1_000_000


def as_fraction(value: float | Fraction) -> Fraction:
    """The rational a float was meant to be (``0.05 -> 1/20``); Fractions pass through."""
    if isinstance(value, Fraction):
        return value
    return Fraction(value).limit_denominator(_MAX_DENOMINATOR)


def binomial_upper_tail(n: int, k: int, p: float | Fraction) -> Fraction:
    """Exact P(X >= k) for X ~ Binomial(n, p), as a Fraction."""
    if k <= 0:
        return Fraction(1)
    if k > n:
        return Fraction(0)
    prob = as_fraction(p)
    a, b = prob.numerator, prob.denominator
    numerator = sum(math.comb(n, i) * a**i * (b - a) ** (n - i) for i in range(k, n + 1))
    return Fraction(numerator, b**n)


def overweight_threshold(n: int, p: float | Fraction, alpha: float | Fraction = 0.05) -> int:
    """Smallest k with P(Binomial(n, p) >= k) < alpha.

    A count at or above this is improbably high under the target share ``p``. Returns
    ``n + 1`` when even ``n`` out of ``n`` is not improbable (tiny samples), so such a
    count can never be flagged. Exact for any n (integer arithmetic); results are cached.

    For an even target (p = 0.25, alpha = 0.05): n=8 -> 5, 10 -> 6, 12 -> 7, 15 -> 8,
    20 -> 9, 30 -> 13, 40 -> 16.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return _threshold(n, as_fraction(p), as_fraction(alpha))


@lru_cache(maxsize=4096)
def _threshold(n: int, p: Fraction, alpha: Fraction) -> int:
    if not 0 < p < 1:
        raise ValueError(f"p must be strictly between 0 and 1, got {p}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    a, b = p.numerator, p.denominator
    # All in integers: tail / b**n < alpha  <=>  tail * alpha.den < alpha.num * b**n
    bound = alpha.numerator * b**n
    tail_numerator = 0
    k = n + 1  # P(X >= n + 1) = 0 < alpha always holds
    for i in range(n, -1, -1):
        tail_numerator += math.comb(n, i) * a**i * (b - a) ** (n - i)
        if tail_numerator * alpha.denominator >= bound:
            break
        k = i
    return k


def kish_effective_n(weights: Sequence[float]) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2; 0 for no weight."""
    total = math.fsum(weights)
    squares = math.fsum(w * w for w in weights)
    if squares == 0:
        return 0.0
    return total * total / squares
