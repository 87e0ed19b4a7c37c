from __future__ import annotations

import json
from datetime import timedelta

from compass.advice import approval_warning, what_if, what_if_warning, what_next
from compass.balance import BalanceConfig, TaggedItem, check_balance
from compass.model import Quadrant

T, S, C, L = Quadrant.TRY, Quadrant.SHARE, Quadrant.CARE, Quadrant.LEARN


def _new(items: list[TaggedItem], tag: Quadrant, key: str = "new") -> TaggedItem:
    return TaggedItem(key, (tag,), items[-1].when + timedelta(days=1), scheduled=True)


class TestWhatIf:
    def test_adds_the_post(self, items_from_counts) -> None:
        items = items_from_counts([5, 5, 5, 4])
        after = what_if(items, _new(items, L))
        assert after.n == 20
        assert after.keys[-1] == "new"
        assert after.quadrant(L).count == 5
        assert after.scheduled_count == 1

    def test_replaces_same_key(self, items_from_counts) -> None:
        items = items_from_counts([5, 5, 5, 5])
        moved = TaggedItem(items[-1].key, (T,), items[-1].when)
        after = what_if(items, moved)
        assert after.n == 20
        assert after.quadrant(T).count == 6

    def test_warning_when_it_tips_into_overweight(self, items_from_tags) -> None:
        # 8 try of 20; the new try post pushes out the oldest (share) -> 9 of 20
        items = items_from_tags([S, T, C, L, T, S, T, C, T, L, T, S, T, C, T, L, T, S, C, L])
        assert check_balance(items).quadrant(T).count == 8
        warning = approval_warning(items, _new(items, T))
        assert warning == "approving this makes Try new things overweight (9 of last 20)"

    def test_no_warning_when_not_worse(self, items_from_counts) -> None:
        items = items_from_counts([5, 5, 5, 5])
        assert approval_warning(items, _new(items, L)) is None
        # already overweight: approving another does not change the verdict
        heavy = items_from_counts([10, 4, 3, 3])
        assert approval_warning(heavy, _new(heavy, T)) is None

    def test_warning_when_it_makes_a_quadrant_missing(self, items_from_tags) -> None:
        # learn was last seen 11 posts ago; one more non-learn post makes it 12
        items = items_from_tags([T, S, C, L, T, S, C, L, L] + [T, S, C] * 3 + [T, S])
        before = check_balance(items)
        assert before.quadrant(L).posts_since_last == 11
        after = what_if(items, _new(items, C))
        assert what_if_warning(before, after) == (
            "approving this makes Learn new things missing (none in last 12)"
        )


class TestWhatNext:
    def test_missing_first(self, items_from_counts) -> None:
        rec = what_next(check_balance(items_from_counts([8, 6, 6, 0])))
        assert rec.quadrant is L
        assert rec.reason == "Learn new things is missing from the last 20 posts"

    def test_most_under_target(self, items_from_counts) -> None:
        rec = what_next(check_balance(items_from_counts([10, 4, 3, 3])))
        assert rec.quadrant is C  # care and learn tie at 3: circular order picks care
        assert rec.reason == (
            "Care for others is furthest below its fair share: 3 of the last 20 posts "
            "(15%, fair share 25%)"
        )

    def test_custom_target(self, items_from_tags) -> None:
        target = {T: 0.1, S: 0.3, C: 0.3, L: 0.3}
        tags = [S, C, L, T] * 4 + [S, S, C, L]  # try 4, share 6, care 5, learn 5
        rec = what_next(check_balance(items_from_tags(tags), BalanceConfig(target=target)))
        # try (20%) is over its 10% target, share is on it; care and learn tie at 25% of 30%
        assert rec.quadrant is C

    def test_even_and_empty(self, items_from_counts) -> None:
        assert what_next(check_balance(items_from_counts([5, 5, 5, 5]))).quadrant is T
        empty = what_next(check_balance([]))
        assert empty.quadrant is T
        assert json.loads(json.dumps(empty.to_dict()))["label"] == "Try new things"


class TestNeedWarning:
    def test_warns_when_a_need_tips_over(self, items_from_tags) -> None:
        # 7 try + 7 learn = 14 of 20 engage ambition (threshold 15); one more learn tips it
        tags = [S, C, T, L, T, L, S, C, T, L, T, L, S, C, T, L, T, L, T, L]
        items = items_from_tags(tags)
        before = check_balance(items)
        assert before.need("ambition").engaged == 14 and not before.need("ambition").overweight
        after = what_if(items, _new(items, L))
        assert after.need("ambition").overweight
        assert what_if_warning(before, after) == (
            "approving this makes the need for ambition overweight (15 of last 20)"
        )
