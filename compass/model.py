"""The Human Values Compass: 8 values around a circle, 4 needs, 4 quadrants.

Reading the compass like a map: the four poles are the core *needs* (ambition N,
curiosity E, belonging S, control W) and between each pair of neighbouring poles
sits a *behaviour* (a quadrant). A post is tagged with one or two quadrants; a post
with two tags counts half to each, and each quadrant's weight flows half to each
of its two needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "NEEDS_ORDER",
    "QUADRANTS_ORDER",
    "QUADRANT_NEEDS",
    "VALUES",
    "CompassValue",
    "Need",
    "Quadrant",
    "even_target",
    "need_target",
    "need_weights",
    "parse_tags",
    "quadrant_weights",
]

MAX_TAGS = 2


class Quadrant(StrEnum):
    """A behaviour between two neighbouring needs. The value is the stable tag string."""

    TRY = "try"
    SHARE = "share"
    CARE = "care"
    LEARN = "learn"

    @property
    def label(self) -> str:
        """Human label, e.g. "Try new things"."""
        return _QUADRANT_LABELS[self]

    @property
    def colour(self) -> str:
        """Hex colour for calendar cards and charts."""
        return _QUADRANT_COLOURS[self]

    @property
    def needs(self) -> tuple[Need, Need]:
        """The two needs this quadrant engages."""
        return QUADRANT_NEEDS[self]


class Need(StrEnum):
    """A core need at a pole of the compass."""

    AMBITION = "ambition"
    CURIOSITY = "curiosity"
    BELONGING = "belonging"
    CONTROL = "control"

    @property
    def label(self) -> str:
        """Human label, e.g. "Ambition"."""
        return self.value.capitalize()


_QUADRANT_LABELS: dict[Quadrant, str] = {
    Quadrant.TRY: "Try new things",
    Quadrant.SHARE: "Share with others",
    Quadrant.CARE: "Care for others",
    Quadrant.LEARN: "Learn new things",
}

# Colour-blind-friendly (Okabe-Ito) and dark enough for white text on calendar cards.
_QUADRANT_COLOURS: dict[Quadrant, str] = {
    Quadrant.TRY: "#D55E00",
    Quadrant.SHARE: "#0072B2",
    Quadrant.CARE: "#009E73",
    Quadrant.LEARN: "#7B3F99",
}

QUADRANT_NEEDS: dict[Quadrant, tuple[Need, Need]] = {
    Quadrant.TRY: (Need.CURIOSITY, Need.AMBITION),
    Quadrant.SHARE: (Need.CURIOSITY, Need.BELONGING),
    Quadrant.CARE: (Need.BELONGING, Need.CONTROL),
    Quadrant.LEARN: (Need.CONTROL, Need.AMBITION),
}

#: Quadrants in circular (clockwise from north-east) order; used to break ties.
QUADRANTS_ORDER: tuple[Quadrant, ...] = (
    Quadrant.TRY,
    Quadrant.SHARE,
    Quadrant.CARE,
    Quadrant.LEARN,
)
#: Needs in circular order, starting north.
NEEDS_ORDER: tuple[Need, ...] = (Need.AMBITION, Need.CURIOSITY, Need.BELONGING, Need.CONTROL)


@dataclass(frozen=True)
class CompassValue:
    """One of the 8 values on the circle.

    ``angle`` is in degrees clockwise from north (0 = top), for drawing.
    Exactly one of ``need`` / ``quadrant`` is set.
    """

    label: str
    angle: float
    need: Need | None = None
    quadrant: Quadrant | None = None


#: The 8 values in circular order, clockwise from north.
VALUES: tuple[CompassValue, ...] = (
    CompassValue("Ambition", 0.0, need=Need.AMBITION),
    CompassValue("Try new things", 45.0, quadrant=Quadrant.TRY),
    CompassValue("Curiosity", 90.0, need=Need.CURIOSITY),
    CompassValue("Share with others", 135.0, quadrant=Quadrant.SHARE),
    CompassValue("Belonging", 180.0, need=Need.BELONGING),
    CompassValue("Care for others", 225.0, quadrant=Quadrant.CARE),
    CompassValue("Control", 270.0, need=Need.CONTROL),
    CompassValue("Learn new things", 315.0, quadrant=Quadrant.LEARN),
)

QUADRANT_ANGLE: dict[Quadrant, float] = {v.quadrant: v.angle for v in VALUES if v.quadrant}
NEED_ANGLE: dict[Need, float] = {v.need: v.angle for v in VALUES if v.need}


def parse_tags(raw: str | Iterable[str]) -> tuple[Quadrant, ...]:
    """Parse ``"try,learn"`` (or an iterable of strings) into quadrant tags.

    Accepts the tag value ("try") or the label ("Try new things"), case-insensitive.
    Empty input gives ``()`` (an untagged post). Duplicates collapse.

    Raises:
        ValueError: on an unknown tag or more than two distinct tags.
    """
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    tags: list[Quadrant] = []
    for part in parts:
        name = part.strip().lower()
        if not name:
            continue
        quadrant = _LOOKUP.get(name)
        if quadrant is None:
            known = ", ".join(q.value for q in QUADRANTS_ORDER)
            raise ValueError(f"Unknown compass tag {part.strip()!r}; use one of: {known}")
        if quadrant not in tags:
            tags.append(quadrant)
    if len(tags) > MAX_TAGS:
        raise ValueError(
            f"A post can have at most {MAX_TAGS} compass tags, got {len(tags)}: "
            + ", ".join(t.value for t in tags)
        )
    return tuple(tags)


_LOOKUP: dict[str, Quadrant] = {q.value: q for q in Quadrant} | {
    q.label.lower(): q for q in Quadrant
}


def _check_tags(tags: tuple[Quadrant, ...]) -> None:
    if len(set(tags)) != len(tags) or len(tags) > MAX_TAGS:
        raise ValueError(f"Expected one or two distinct quadrant tags, got {tags!r}")


def quadrant_weights(tags: Iterable[Quadrant]) -> dict[Quadrant, float]:
    """Weight of one post per quadrant: 1.0 for a single tag, 0.5 each for two.

    All four quadrants are present in the result (zero when untagged).
    """
    tag_tuple = tuple(Quadrant(t) for t in tags)
    _check_tags(tag_tuple)
    weights = dict.fromkeys(QUADRANTS_ORDER, 0.0)
    for tag in tag_tuple:
        weights[tag] += 1.0 / len(tag_tuple)
    return weights


def need_weights(tags: Iterable[Quadrant]) -> dict[Need, float]:
    """Weight of one post per need: each quadrant's weight flows half to each of its needs.

    A single "try" tag gives curiosity 0.5 and ambition 0.5; the weights sum to 1
    for a tagged post.
    """
    weights = dict.fromkeys(NEEDS_ORDER, 0.0)
    for quadrant, weight in quadrant_weights(tags).items():
        for need in QUADRANT_NEEDS[quadrant]:
            weights[need] += weight / 2
    return weights


def even_target() -> dict[Quadrant, float]:
    """The default mix: 25% for each quadrant."""
    return dict.fromkeys(QUADRANTS_ORDER, 0.25)


def need_target(target: Mapping[Quadrant, float]) -> dict[Need, float]:
    """Need-level target implied by a quadrant target (half of each quadrant to each need)."""
    result = dict.fromkeys(NEEDS_ORDER, 0.0)
    for quadrant, share in target.items():
        for need in QUADRANT_NEEDS[quadrant]:
            result[need] += share / 2
    return result
