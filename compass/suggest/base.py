"""The suggester interface: text in, suggested quadrant tags out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from compass.model import QUADRANTS_ORDER, Quadrant

__all__ = ["Suggester", "Suggestion", "ranked"]


@dataclass(frozen=True)
class Suggestion:
    """A suggested tagging for a post.

    Attributes:
        tags: one or two quadrants, best first; empty means "no suggestion" (too little
            evidence), and the UI should ask the user to tag by hand.
        scores: a score per quadrant (all four), higher is more likely. Scales differ per
            source: lexicon scores are summed word weights, embedding scores are cosine
            similarities; compare them only within one suggestion.
        why: plain-words explanation (e.g. the words that drove it).
        source: which suggester produced it ("lexicon", "embedding", "combined").
    """

    tags: tuple[Quadrant, ...]
    scores: Mapping[Quadrant, float] = field(default_factory=dict)
    why: str = ""
    source: str = ""

    @property
    def top(self) -> Quadrant | None:
        """The best tag, or None for no suggestion."""
        return self.tags[0] if self.tags else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "tags": [t.value for t in self.tags],
            "labels": [t.label for t in self.tags],
            "scores": {q.value: round(float(s), 4) for q, s in self.scores.items()},
            "why": self.why,
            "source": self.source,
        }


@runtime_checkable
class Suggester(Protocol):
    """Anything that suggests compass tags for a post's text."""

    def suggest(self, text: str) -> Suggestion:
        """Suggest tags for ``text``; an empty ``tags`` tuple means no suggestion."""
        ...


def ranked(scores: Mapping[Quadrant, float]) -> list[Quadrant]:
    """Quadrants by score, best first; ties go to circular order."""
    return sorted(QUADRANTS_ORDER, key=lambda q: (-scores.get(q, 0.0), QUADRANTS_ORDER.index(q)))
