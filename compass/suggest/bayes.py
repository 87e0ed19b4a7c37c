"""The default suggester without the ml extra: the lexicon first, naive Bayes when it is unsure.

The lexicon names its words and is precise when it speaks, but it stays silent on a third of
new posts. For those, a multinomial naive Bayes model over stemmed words and word pairs gives
the most likely quadrant. It learns from the lexicon itself (each entry counts as a short
document of its quadrant, as often as its weight) and from 80 labelled posts shipped in
``compass/suggest/data/tune_posts.csv`` (the *tune* half of tests/data/compass_eval.csv; the
held-out half and both fresh sets stay out of it). Standard library only; it loads in a few
milliseconds.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compass.model import QUADRANTS_ORDER, Quadrant
from compass.suggest.base import Suggestion, ranked
from compass.suggest.lexicon import DEFAULT_LEXICON, LexiconSuggester, normalise

__all__ = ["BayesSuggester", "LexiconBayesSuggester", "training_posts"]

TRAINING = Path(__file__).with_name("data") / "tune_posts.csv"
LEXICON_REPEAT = 2  # an entry of weight w counts as w * 2 documents of its quadrant


def features(text: str) -> list[str]:
    words = normalise(text)
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]


def training_posts() -> list[tuple[str, Quadrant]]:
    with open(TRAINING, newline="", encoding="utf-8") as handle:
        return [(row["text"], Quadrant(row["quadrant"])) for row in csv.DictReader(handle)]


@dataclass
class BayesSuggester:
    """Multinomial naive Bayes with add-``alpha`` smoothing; always names its top quadrant."""

    examples: Sequence[tuple[str, Quadrant]] = field(default_factory=training_posts)
    alpha: float = 0.5
    source: str = "bayes"

    def __post_init__(self) -> None:
        self._counts: dict[Quadrant, defaultdict[str, float]] = {
            q: defaultdict(float) for q in QUADRANTS_ORDER}
        for quadrant, entries in DEFAULT_LEXICON.items():
            for phrase, weight in entries.items():
                for token in features(phrase):
                    self._counts[quadrant][token] += weight * LEXICON_REPEAT
        for text, quadrant in self.examples:
            for token in features(text):
                self._counts[quadrant][token] += 1
        self._vocabulary = set().union(*self._counts.values())
        self._totals = {q: sum(c.values()) for q, c in self._counts.items()}

    def scores(self, tokens: Iterable[str]) -> dict[Quadrant, float]:
        size = len(self._vocabulary)
        out = {}
        for quadrant in QUADRANTS_ORDER:
            counts, total = self._counts[quadrant], self._totals[quadrant]
            denominator = total + self.alpha * size
            out[quadrant] = sum(math.log((counts.get(t, 0.0) + self.alpha) / denominator)
                                for t in tokens if t in self._vocabulary)
        return out

    def suggest(self, text: str) -> Suggestion:
        tokens = features(text)
        scores = self.scores(tokens)
        best = ranked(scores)[0]
        known = [t for t in tokens if t in self._vocabulary and "_" not in t]
        return Suggestion((best,), scores, f"Most like {best.label} posts in its wording "
                          f"({len(known)} known words)", self.source)


@dataclass
class LexiconBayesSuggester:
    """The lexicon's suggestion when it makes one; otherwise naive Bayes' best guess."""

    lexicon: LexiconSuggester = field(default_factory=LexiconSuggester)
    bayes: BayesSuggester = field(default_factory=BayesSuggester)
    source: str = "lexicon+bayes"

    def suggest(self, text: str) -> Suggestion:
        first = self.lexicon.suggest(text)
        if first.tags:
            return first
        guess = self.bayes.suggest(text)
        return Suggestion(guess.tags, guess.scores, guess.why + " (the word list was unsure)",
                          self.source)
