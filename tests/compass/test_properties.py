"""Property tests of the balance rule (hypothesis)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compass.balance import BalanceConfig, TaggedItem, check_balance
from compass.model import NEEDS_ORDER, QUADRANTS_ORDER, Need, Quadrant
from compass.report import BalanceReport

BASE = datetime(2026, 1, 5, tzinfo=UTC)

single = st.sampled_from(QUADRANTS_ORDER).map(lambda q: (q,))
pair = st.lists(st.sampled_from(QUADRANTS_ORDER), min_size=2, max_size=2, unique=True).map(tuple)
tags_strategy = st.lists(st.one_of(single, single, single, pair), min_size=1, max_size=60)
targets = st.lists(st.integers(min_value=1, max_value=20), min_size=4, max_size=4).map(
    lambda xs: {q: x / sum(xs) for q, x in zip(QUADRANTS_ORDER, xs, strict=True)}
)
configs = st.builds(
    BalanceConfig,
    window=st.sampled_from([None, 8, 12, 20, 40]),
    target=targets,
    half_life_posts=st.sampled_from([None, 4.0, 10.0]),
)


def _items(tag_list: list[tuple[Quadrant, ...]]) -> list[TaggedItem]:
    return [
        TaggedItem(f"k{i}", tags, BASE + timedelta(hours=i), scheduled=i % 3 == 0)
        for i, tags in enumerate(tag_list)
    ]


def _quadrant_view(report: BalanceReport, q: Quadrant) -> tuple:
    b = report.quadrant(q)
    return (
        b.count,
        b.threshold,
        b.overweight,
        b.missing,
        b.posts_since_last,
        b.trending,
        b.verdict,
    )


@settings(max_examples=150, deadline=None)
@given(tag_list=tags_strategy, config=configs)
def test_shares_sum_to_one(tag_list, config) -> None:
    report = check_balance(_items(tag_list), config)
    assert math.isclose(sum(q.share for q in report.quadrants), 1.0)
    assert math.isclose(sum(x.share for x in report.needs), 1.0)
    assert 1.0 - 1e-9 <= report.effective_quadrants <= 4.0 + 1e-9
    assert report.published_count + report.scheduled_count == report.n


@settings(max_examples=150, deadline=None)
@given(tag_list=tags_strategy, config=configs, perm=st.permutations(QUADRANTS_ORDER))
def test_relabelling_quadrants_permutes_the_report(tag_list, config, perm) -> None:
    sigma = dict(zip(QUADRANTS_ORDER, perm, strict=True))
    relabelled = [tuple(sigma[q] for q in tags) for tags in tag_list]
    target = {sigma[q]: share for q, share in config.target.items()}
    config2 = BalanceConfig(
        window=config.window, target=target, half_life_posts=config.half_life_posts
    )
    before = check_balance(_items(tag_list), config)
    after = check_balance(_items(relabelled), config2)
    for q in QUADRANTS_ORDER:
        assert _quadrant_view(after, sigma[q]) == _quadrant_view(before, q)
        assert after.quadrant(sigma[q]).share == pytest.approx(before.quadrant(q).share)
    assert after.effective_quadrants == pytest.approx(before.effective_quadrants)


# Turning the compass a quarter clockwise maps needs to needs, so the whole report turns.
ROTATE_Q = dict(zip(QUADRANTS_ORDER, QUADRANTS_ORDER[1:] + QUADRANTS_ORDER[:1], strict=True))
ROTATE_N = dict(zip(NEEDS_ORDER, NEEDS_ORDER[1:] + NEEDS_ORDER[:1], strict=True))


@settings(max_examples=100, deadline=None)
@given(tag_list=tags_strategy, config=configs)
def test_rotating_the_compass_rotates_needs_and_status(tag_list, config) -> None:
    rotated = [tuple(ROTATE_Q[q] for q in tags) for tags in tag_list]
    target = {ROTATE_Q[q]: share for q, share in config.target.items()}
    config2 = BalanceConfig(
        window=config.window, target=target, half_life_posts=config.half_life_posts
    )
    before = check_balance(_items(tag_list), config)
    after = check_balance(_items(rotated), config2)
    assert after.statuses == before.statuses
    for need in Need:
        b, a = before.need(need), after.need(ROTATE_N[need])
        assert (a.engaged, a.threshold, a.overweight, a.missing) == (
            b.engaged,
            b.threshold,
            b.overweight,
            b.missing,
        )


@settings(max_examples=200, deadline=None)
@given(tag_list=tags_strategy, config=configs, q=st.sampled_from(QUADRANTS_ORDER))
def test_adding_a_post_never_lowers_its_share(tag_list, config, q) -> None:
    items = _items(tag_list)
    before = check_balance(items, config).quadrant(q).share
    newest = TaggedItem("new", (q,), BASE + timedelta(hours=len(items)), scheduled=True)
    after = check_balance([*items, newest], config).quadrant(q).share
    assert after >= before - 1e-12


@settings(max_examples=100, deadline=None)
@given(m=st.integers(min_value=2, max_value=50), data=st.data())
def test_even_target_never_flags_an_exactly_even_mix(m, data) -> None:
    tag_list = [(q,) for q in QUADRANTS_ORDER for _ in range(m)]
    order = data.draw(st.permutations(tag_list))
    report = check_balance(_items(list(order)), BalanceConfig(window=None))
    assert not any(q.overweight for q in report.quadrants)
    assert not any(x.overweight for x in report.needs)
    assert all(q.share == 0.25 for q in report.quadrants)
