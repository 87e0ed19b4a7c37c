"""Shared fixtures for compass tests: build tagged items from counts or sequences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from compass.balance import TaggedItem
from compass.model import QUADRANTS_ORDER, Quadrant

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

ItemsFromTags = Callable[..., list[TaggedItem]]
ItemsFromCounts = Callable[[Sequence[int]], list[TaggedItem]]


def interleave(counts: Sequence[int]) -> list[Quadrant]:
    """Round-robin order (try, share, care, learn, try, ...) skipping exhausted quadrants."""
    left = dict(zip(QUADRANTS_ORDER, counts, strict=True))
    order: list[Quadrant] = []
    while any(left.values()):
        for q in QUADRANTS_ORDER:
            if left[q]:
                order.append(q)
                left[q] -= 1
    return order


@pytest.fixture
def base_time() -> datetime:
    return BASE


@pytest.fixture
def items_from_tags() -> ItemsFromTags:
    """items_from_tags([Quadrant.TRY, (Quadrant.TRY, Quadrant.LEARN), ...], scheduled_from=k)

    One item per entry, a day apart, oldest first; items from index ``scheduled_from`` on
    are scheduled.
    """

    def build(
        tags: Sequence[Quadrant | tuple[Quadrant, ...]],
        *,
        scheduled_from: int | None = None,
        prefix: str = "p",
        spacing: timedelta = timedelta(days=1),
    ) -> list[TaggedItem]:
        items = []
        for i, tag in enumerate(tags):
            tag_tuple = tag if isinstance(tag, tuple) else (tag,)
            scheduled = scheduled_from is not None and i >= scheduled_from
            items.append(TaggedItem(f"{prefix}{i}", tag_tuple, BASE + i * spacing, scheduled))
        return items

    return build


@pytest.fixture
def items_from_counts(items_from_tags: ItemsFromTags) -> ItemsFromCounts:
    """Items with the given Try/Share/Care/Learn counts, interleaved round-robin."""

    def build(counts: Sequence[int]) -> list[TaggedItem]:
        return items_from_tags(interleave(counts))

    return build
