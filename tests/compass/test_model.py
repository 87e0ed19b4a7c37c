from __future__ import annotations

import pytest

from compass.model import (
    NEEDS_ORDER,
    QUADRANT_NEEDS,
    QUADRANTS_ORDER,
    VALUES,
    Need,
    Quadrant,
    even_target,
    need_target,
    need_weights,
    parse_tags,
    quadrant_weights,
)


class TestValues:
    def test_eight_values_in_circular_order(self) -> None:
        assert [v.label for v in VALUES] == [
            "Ambition",
            "Try new things",
            "Curiosity",
            "Share with others",
            "Belonging",
            "Care for others",
            "Control",
            "Learn new things",
        ]
        assert [v.angle for v in VALUES] == [0, 45, 90, 135, 180, 225, 270, 315]

    def test_poles_are_needs_and_between_are_quadrants(self) -> None:
        assert [v.need for v in VALUES[::2]] == list(NEEDS_ORDER)
        assert [v.quadrant for v in VALUES[1::2]] == list(QUADRANTS_ORDER)

    def test_each_quadrant_sits_between_its_two_needs(self) -> None:
        for i, value in enumerate(VALUES):
            if value.quadrant is None:
                continue
            neighbours = {VALUES[i - 1].need, VALUES[(i + 1) % 8].need}
            assert neighbours == set(QUADRANT_NEEDS[value.quadrant])


class TestQuadrant:
    def test_values_labels_colours(self) -> None:
        assert [q.value for q in Quadrant] == ["try", "share", "care", "learn"]
        assert Quadrant.SHARE.label == "Share with others"
        assert Quadrant.LEARN.label == "Learn new things"
        for q in Quadrant:
            assert q.colour.startswith("#") and len(q.colour) == 7
        assert len({q.colour for q in Quadrant}) == 4

    def test_needs(self) -> None:
        assert Quadrant.TRY.needs == (Need.CURIOSITY, Need.AMBITION)
        assert Quadrant.SHARE.needs == (Need.CURIOSITY, Need.BELONGING)
        assert Quadrant.CARE.needs == (Need.BELONGING, Need.CONTROL)
        assert Quadrant.LEARN.needs == (Need.CONTROL, Need.AMBITION)

    def test_str_enum(self) -> None:
        assert Quadrant("care") is Quadrant.CARE
        assert f"{Quadrant.TRY}" == "try"
        assert Need.AMBITION == "ambition"


class TestParseTags:
    def test_one_and_two(self) -> None:
        assert parse_tags("try") == (Quadrant.TRY,)
        assert parse_tags("try,learn") == (Quadrant.TRY, Quadrant.LEARN)
        assert parse_tags(" Share , CARE ") == (Quadrant.SHARE, Quadrant.CARE)

    def test_labels_lists_empty_and_duplicates(self) -> None:
        assert parse_tags(["Learn new things"]) == (Quadrant.LEARN,)
        assert parse_tags("") == ()
        assert parse_tags("try,,try") == (Quadrant.TRY,)

    def test_unknown(self) -> None:
        with pytest.raises(ValueError, match="Unknown compass tag 'fun'.*try, share, care, learn"):
            parse_tags("try,fun")

    def test_too_many(self) -> None:
        with pytest.raises(ValueError, match="at most 2 compass tags, got 3"):
            parse_tags("try,share,care")


class TestWeights:
    def test_single_tag(self) -> None:
        assert quadrant_weights((Quadrant.TRY,)) == {
            Quadrant.TRY: 1.0,
            Quadrant.SHARE: 0.0,
            Quadrant.CARE: 0.0,
            Quadrant.LEARN: 0.0,
        }
        assert need_weights((Quadrant.TRY,)) == {
            Need.AMBITION: 0.5,
            Need.CURIOSITY: 0.5,
            Need.BELONGING: 0.0,
            Need.CONTROL: 0.0,
        }

    def test_two_tags_count_half(self) -> None:
        weights = quadrant_weights((Quadrant.TRY, Quadrant.LEARN))
        assert weights[Quadrant.TRY] == weights[Quadrant.LEARN] == 0.5
        needs = need_weights((Quadrant.TRY, Quadrant.LEARN))
        # both quadrants touch ambition
        assert needs == {
            Need.AMBITION: 0.5,
            Need.CURIOSITY: 0.25,
            Need.BELONGING: 0.0,
            Need.CONTROL: 0.25,
        }
        assert sum(needs.values()) == 1.0

    def test_untagged_and_invalid(self) -> None:
        assert sum(quadrant_weights(()).values()) == 0
        with pytest.raises(ValueError):
            quadrant_weights((Quadrant.TRY, Quadrant.TRY))
        with pytest.raises(ValueError):
            quadrant_weights((Quadrant.TRY, Quadrant.SHARE, Quadrant.CARE))

    def test_need_target(self) -> None:
        assert need_target(even_target()) == dict.fromkeys(NEEDS_ORDER, 0.25)
        skewed = {Quadrant.TRY: 0.4, Quadrant.SHARE: 0.2, Quadrant.CARE: 0.2, Quadrant.LEARN: 0.2}
        assert need_target(skewed)[Need.AMBITION] == pytest.approx(0.3)
        assert need_target(skewed)[Need.BELONGING] == pytest.approx(0.2)
