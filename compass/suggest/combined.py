"""Combined strategy: embedding similarity nudged by lexicon evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from compass.model import QUADRANTS_ORDER, Quadrant
from compass.suggest.base import Suggestion, ranked
from compass.suggest.embedding import EmbeddingSuggester
from compass.suggest.lexicon import LexiconSuggester

__all__ = ["CombinedSuggester"]


@dataclass
class CombinedSuggester:
    """Embedding score plus ``lexicon_weight`` times the lexicon score, per quadrant.

    The embedding reads meaning; the lexicon catches explicit calls to action ("tag a
    friend", "how to") that a small embedding model can blur. The ``why`` names both.
    """

    embedding: EmbeddingSuggester = field(default_factory=EmbeddingSuggester)
    lexicon: LexiconSuggester = field(default_factory=LexiconSuggester)
    lexicon_weight: float = 0.03
    source: str = "combined"

    def suggest(self, text: str) -> Suggestion:
        """Suggest tags for ``text``."""
        return self.suggest_many([text])[0]

    def suggest_many(self, texts: Sequence[str]) -> list[Suggestion]:
        """Suggestions for many texts (one embedding batch)."""
        embedded = self.embedding.suggest_many(texts)
        return [self._merge(e, t) for e, t in zip(embedded, texts, strict=True)]

    def _merge(self, embedded: Suggestion, text: str) -> Suggestion:
        matches = self.lexicon.matches(text)
        lexical = {q: sum(w for _, w in matches[q]) for q in QUADRANTS_ORDER}
        scores: dict[Quadrant, float] = {
            q: embedded.scores.get(q, 0.0) + self.lexicon_weight * lexical[q]
            for q in QUADRANTS_ORDER
        }
        best = ranked(scores)[0]
        if scores[best] < self.embedding.min_score:
            return Suggestion((), scores, "Too close to call", self.source)
        why = f"Closest in meaning to {best.label}"
        words = [phrase for phrase, _ in matches[best]][:4]
        if words:
            why += "; wording: " + ", ".join(f"'{w}'" for w in words)
        return Suggestion((best,), scores, why, self.source)
