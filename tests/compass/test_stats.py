from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compass.stats import (
    as_fraction,
    binomial_upper_tail,
    kish_effective_n,
    overweight_threshold,
)


def reference_threshold(n: int, p: Fraction, alpha: Fraction) -> int:
    """Independent and obvious: the Binomial pmf in Fractions, tails summed from the top."""
    pmf = [Fraction(comb(n, i)) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    assert sum(pmf) == 1
    smallest = n + 1
    tail = Fraction(0)
    for k in range(n, -1, -1):
        tail += pmf[k]
        if tail < alpha:
            smallest = k
    return smallest


class TestOverweightThreshold:
    @pytest.mark.parametrize(
        ("n", "expected"),
        [(8, 5), (10, 6), (12, 7), (15, 8), (20, 9), (30, 13), (40, 16)],
    )
    def test_domain_table_for_even_target(self, n: int, expected: int) -> None:
        assert overweight_threshold(n, 0.25, 0.05) == expected

    def test_tiny_samples_can_never_be_overweight(self) -> None:
        # P(X >= 2 | n=2, p=.25) = 1/16 > .05, so not even 2 of 2 is improbable
        assert overweight_threshold(2, 0.25) == 3
        assert overweight_threshold(0, 0.25) == 1

    def test_need_level_probability(self) -> None:
        # each post engages a need with p = 0.5 under an even target
        assert overweight_threshold(20, 0.5) == 15

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            overweight_threshold(10, 0.0)
        with pytest.raises(ValueError):
            overweight_threshold(10, 0.25, 1.5)
        with pytest.raises(ValueError):
            overweight_threshold(-1, 0.25)

    def test_decimal_inputs_are_read_as_decimals(self) -> None:
        assert as_fraction(0.05) == Fraction(1, 20)
        assert as_fraction(0.3) == Fraction(3, 10)

    @pytest.mark.parametrize("p", [Fraction(1, 4), Fraction(1, 2), Fraction(3, 10)])
    def test_matches_reference_for_all_n_up_to_200(self, p: Fraction) -> None:
        alpha = Fraction(1, 20)
        for n in range(0, 201):
            assert overweight_threshold(n, p, alpha) == reference_threshold(n, p, alpha), n

    @settings(max_examples=40, deadline=None)
    @given(
        n=st.integers(min_value=0, max_value=200),
        p=st.fractions(min_value=Fraction(1, 50), max_value=Fraction(49, 50), max_denominator=100),
        alpha=st.sampled_from([Fraction(1, 100), Fraction(1, 20), Fraction(1, 10)]),
    )
    def test_property_matches_reference(self, n: int, p: Fraction, alpha: Fraction) -> None:
        assert overweight_threshold(n, p, alpha) == reference_threshold(n, p, alpha)

    def test_is_the_smallest_k(self) -> None:
        for n in (8, 20, 57, 200):
            k = overweight_threshold(n, 0.25)
            assert binomial_upper_tail(n, k, 0.25) < Fraction(1, 20)
            assert binomial_upper_tail(n, k - 1, 0.25) >= Fraction(1, 20)


class TestBinomialTail:
    def test_exact_value(self) -> None:
        assert binomial_upper_tail(8, 5, Fraction(1, 4)) == Fraction(1789, 65536)
        assert binomial_upper_tail(8, 0, 0.25) == 1
        assert binomial_upper_tail(8, 9, 0.25) == 0


class TestKish:
    def test_equal_weights_give_n(self) -> None:
        assert kish_effective_n([1.0] * 20) == pytest.approx(20)

    def test_unequal_weights_give_less(self) -> None:
        assert kish_effective_n([1.0, 0.5, 0.25]) == pytest.approx(1.75**2 / 1.3125)
        assert kish_effective_n([]) == 0.0
